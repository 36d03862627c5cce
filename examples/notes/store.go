package main

import (
	"cmp"
	"crypto/rand"
	"encoding/hex"
	"slices"
	"sync"
	"time"
)

// note is one stored note.
type note struct {
	ID        string
	OwnerID   string // the Clerk user id of its author
	Title     string
	Body      string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// maxNotesPerOwner bounds the memory one user can take.
const maxNotesPerOwner = 1000

// noteStore keeps notes in memory. Every method that reaches one note
// takes its owner: a note of someone else is not found, so a handler cannot
// forget the object-level check.
type noteStore struct {
	mu      sync.RWMutex
	byID    map[string]note
	byOwner map[string]int // number of notes per owner
}

func newNoteStore() *noteStore {
	return &noteStore{byID: map[string]note{}, byOwner: map[string]int{}}
}

// create stores a new note of owner; false when the owner has too many.
func (s *noteStore) create(owner, title, body string, now time.Time) (note, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.byOwner[owner] >= maxNotesPerOwner {
		return note{}, false
	}
	n := note{ID: newNoteID(), OwnerID: owner, Title: title, Body: body, CreatedAt: now.UTC(), UpdatedAt: now.UTC()}
	s.byID[n.ID] = n
	s.byOwner[owner]++
	return n, true
}

// get returns owner's note id.
func (s *noteStore) get(owner, id string) (note, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	n, ok := s.byID[id]
	if !ok || n.OwnerID != owner {
		return note{}, false
	}
	return n, true
}

// update replaces the title and body of owner's note id.
func (s *noteStore) update(owner, id, title, body string, now time.Time) (note, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, ok := s.byID[id]
	if !ok || n.OwnerID != owner {
		return note{}, false
	}
	n.Title, n.Body, n.UpdatedAt = title, body, now.UTC()
	s.byID[id] = n
	return n, true
}

// delete removes owner's note id.
func (s *noteStore) delete(owner, id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, ok := s.byID[id]
	if !ok || n.OwnerID != owner {
		return false
	}
	delete(s.byID, id)
	if s.byOwner[owner]--; s.byOwner[owner] == 0 {
		delete(s.byOwner, owner)
	}
	return true
}

// list returns owner's notes, oldest first.
func (s *noteStore) list(owner string) []note {
	return s.filter(func(n note) bool { return n.OwnerID == owner })
}

// all returns every note, oldest first.
func (s *noteStore) all() []note {
	return s.filter(func(note) bool { return true })
}

func (s *noteStore) filter(keep func(note) bool) []note {
	s.mu.RLock()
	out := make([]note, 0)
	for _, n := range s.byID {
		if keep(n) {
			out = append(out, n)
		}
	}
	s.mu.RUnlock()
	slices.SortFunc(out, func(a, b note) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.ID, b.ID))
	})
	return out
}

// newNoteID returns an unguessable id.
func newNoteID() string {
	var b [16]byte
	rand.Read(b[:])
	return "note_" + hex.EncodeToString(b[:])
}

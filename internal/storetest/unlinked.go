package storetest

import (
	"slices"
	"testing"
	"time"

	clerkgate "github.com/clerkgate/clerkgate"
)

// unlinkedTests are the tests of what import-legacy relies on: the password
// digest of legacy users and ListUsers with Unlinked.
var unlinkedTests = []test{
	{"PasswordDigestStaysInStore", testPasswordDigestStaysInStore},
	{"ListUnlinked", testListUnlinked},
	{"PasswordDigestInvalid", testPasswordDigestInvalid},
}

// bcryptDigest has the shape of a bcrypt digest as a legacy login stores
// it; the stores treat it as opaque text.
const bcryptDigest = "$2a$04$vUcWs0r9dL0m8Pv8tY5ZQOk2rYzU5a0mHqDq7hQ8n0y1S3yT7xJ6e"

// listUnlinked returns every user ListUsers with Unlinked lists, following
// the cursors, in pages of limit.
func listUnlinked(t *testing.T, s clerkgate.UserStore, limit int) []*clerkgate.User {
	t.Helper()
	q := clerkgate.UserQuery{Unlinked: true, Limit: limit}
	var out []*clerkgate.User
	for range 1000 {
		users, next, err := s.ListUsers(t.Context(), q)
		if err != nil {
			t.Fatalf("ListUsers(%+v): %v", q, err)
		}
		out = append(out, users...)
		if next == "" {
			return out
		}
		q.Cursor = next
	}
	t.Fatal("ListUsers never ended")
	return nil
}

func testPasswordDigestStaysInStore(t *testing.T, s Store) {
	u := localUser("legacy-pw", "pw@example.test")
	u.PasswordDigest = bcryptDigest
	created := mustCreateLocal(t, s, u)
	if created.PasswordDigest != "" {
		t.Error("CreateLocalUser returned the password digest")
	}
	byID, err := s.UserByID(t.Context(), "legacy-pw")
	if err != nil {
		t.Fatalf("UserByID: %v", err)
	}
	if byID.PasswordDigest != "" {
		t.Error("UserByID returned the password digest")
	}
	if byEmail, err := s.UnlinkedUserByEmail(t.Context(), "pw@example.test"); err != nil || byEmail.PasswordDigest != "" {
		t.Errorf("UnlinkedUserByEmail = %v; digest returned: %t", err, err == nil && byEmail.PasswordDigest != "")
	}
	users, _, err := s.ListUsers(t.Context(), clerkgate.UserQuery{})
	if err != nil || len(users) != 1 || users[0].PasswordDigest != "" {
		t.Fatalf("ListUsers without Unlinked: %d users, %v; the digest must not be listed", len(users), err)
	}
	unlinked := listUnlinked(t, s, 0)
	if len(unlinked) != 1 || unlinked[0].PasswordDigest != bcryptDigest {
		t.Fatalf("ListUsers with Unlinked: %d users, digest returned %t; want 1 with its digest", len(unlinked),
			len(unlinked) == 1 && unlinked[0].PasswordDigest == bcryptDigest)
	}
	sameUser(t, unlinked[0], created)

	// Linking hands the password over to Clerk: the user leaves the
	// unlinked list and the digest goes with it.
	clerkUser := newUser("user_pw", 5)
	clerkUser.PasswordDigest = "must be ignored"
	linked, err := s.LinkClerkUser(t.Context(), "legacy-pw", clerkUser)
	if err != nil {
		t.Fatalf("LinkClerkUser: %v", err)
	}
	if linked.PasswordDigest != "" {
		t.Error("LinkClerkUser returned a password digest")
	}
	if got := listUnlinked(t, s, 0); len(got) != 0 {
		t.Errorf("a linked user is still listed as unlinked")
	}
	// SaveClerkUser never stores a digest either.
	other := newUser("user_saved", 1)
	other.PasswordDigest = bcryptDigest
	if saved, _ := mustSave(t, s, other); saved.PasswordDigest != "" {
		t.Error("SaveClerkUser returned a password digest")
	}
}

func testListUnlinked(t *testing.T, s Store) {
	var want []string
	digests := map[string]string{}
	for i := range 7 {
		u := localUser("legacy-"+string(rune('a'+i)), "")
		u.CreatedAt = base.Add(time.Duration(7-i) * time.Minute) // out of id order
		if i%2 == 0 {
			u.PasswordDigest = bcryptDigest
		}
		mustCreateLocal(t, s, u)
		want = append(want, u.ID)
		digests[u.ID] = u.PasswordDigest
	}
	slices.Reverse(want) // created_at order
	// Linked users, Clerk users and tombstones are not listed.
	mustCreateLocal(t, s, localUser("legacy-linked", "linked@example.test"))
	if _, err := s.LinkClerkUser(t.Context(), "legacy-linked", newUser("user_linked", 1)); err != nil {
		t.Fatalf("LinkClerkUser: %v", err)
	}
	mustSave(t, s, newUser("user_clerk", 1))
	gone := localUser("legacy-gone", "gone@example.test")
	gone.DeletedAt = base
	mustCreateLocal(t, s, gone)

	for _, limit := range []int{0, 1, 3, 7, 200} {
		got := listUnlinked(t, s, limit)
		var ids []string
		for _, u := range got {
			ids = append(ids, u.ID)
			wantDigest := digests[u.ID]
			if u.PasswordDigest != wantDigest || u.ClerkUserID != "" {
				t.Errorf("limit %d: %s has Clerk id %q, digest set %t; want none and %t", limit, u.ID,
					u.ClerkUserID, u.PasswordDigest != "", wantDigest != "")
			}
		}
		if !slices.Equal(ids, want) {
			t.Errorf("limit %d: unlinked users %v, want %v", limit, ids, want)
		}
	}
	// With IncludeDeleted the unlinked tombstone is listed too.
	users, _, err := s.ListUsers(t.Context(), clerkgate.UserQuery{Unlinked: true, IncludeDeleted: true, Limit: 200})
	if err != nil || len(users) != len(want)+1 {
		t.Errorf("Unlinked and IncludeDeleted: %d users, %v; want %d", len(users), err, len(want)+1)
	}
	// Filters combine.
	users, _, err = s.ListUsers(t.Context(), clerkgate.UserQuery{Unlinked: true, Query: "linked"})
	if err != nil || len(users) != 0 {
		t.Errorf("Unlinked and Query of a linked user: %d users, %v; want none", len(users), err)
	}
}

func testPasswordDigestInvalid(t *testing.T, s Store) {
	for name, digest := range map[string]string{"NUL": "$2a$\x00", "invalid UTF-8": "$2a$\xff"} {
		u := localUser("legacy-bad", "bad@example.test")
		u.PasswordDigest = digest
		_, err := s.CreateLocalUser(t.Context(), u)
		if code := clerkgate.ErrorCode(err); code != clerkgate.CodeInvalidRequest {
			t.Errorf("%s: error %v (code %q), want invalid_request", name, err, code)
		}
	}
}

package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/clerkgate/clerkgate"
	"github.com/clerkgate/clerkgate/middleware"
)

// Limits on what a client sends.
const (
	maxRequestBody = 1 << 20
	maxTitle       = 200 // characters
	maxBody        = 64 << 10
)

// errNoteNotFound answers any note the caller does not own, whether or not
// it exists.
var errNoteNotFound = clerkgate.Errorf(clerkgate.CodeNotFound, "no such note")

// noteJSON is a note on the wire.
type noteJSON struct {
	ID        string    `json:"id"`
	OwnerID   string    `json:"owner_id"`
	Title     string    `json:"title"`
	Body      string    `json:"body"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

func toJSON(n note) noteJSON {
	return noteJSON(n) // the same fields for now; a conversion stops compiling when they part
}

func toJSONList(ns []note) []noteJSON {
	out := make([]noteJSON, len(ns))
	for i, n := range ns {
		out[i] = toJSON(n)
	}
	return out
}

// noteInput is the body of POST /notes and PUT /notes/{id}.
type noteInput struct {
	Title string `json:"title"`
	Body  string `json:"body"`
}

func (in noteInput) validate() error {
	switch {
	case strings.TrimSpace(in.Title) == "":
		return clerkgate.Errorf(clerkgate.CodeInvalidRequest, "title is required")
	case utf8.RuneCountInString(in.Title) > maxTitle:
		return clerkgate.Errorf(clerkgate.CodeInvalidRequest, fmt.Sprintf("title is longer than %d characters", maxTitle))
	case len(in.Body) > maxBody:
		return clerkgate.Errorf(clerkgate.CodeInvalidRequest, fmt.Sprintf("body is longer than %d bytes", maxBody))
	}
	return nil
}

func healthz() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		encode(w, http.StatusOK, map[string]string{"status": "ok"})
	})
}

func listNotes(s *noteStore) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := middleware.MustFromContext(r.Context())
		encode(w, http.StatusOK, map[string]any{"data": toJSONList(s.list(id.UserID))})
	})
}

func createNote(s *noteStore, now func() time.Time) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := middleware.MustFromContext(r.Context())
		in, err := decode[noteInput](w, r)
		if err == nil {
			err = in.validate()
		}
		if err != nil {
			middleware.WriteError(w, r, err)
			return
		}
		n, ok := s.create(id.UserID, in.Title, in.Body, now())
		if !ok {
			middleware.WriteError(w, r, clerkgate.Errorf(clerkgate.CodeConflict, fmt.Sprintf("you have %d notes already: delete some first", maxNotesPerOwner)))
			return
		}
		w.Header().Set("Location", "/notes/"+n.ID)
		encode(w, http.StatusCreated, toJSON(n))
	})
}

func getNote(s *noteStore) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := middleware.MustFromContext(r.Context())
		n, ok := s.get(id.UserID, r.PathValue("id"))
		if !ok {
			middleware.WriteError(w, r, errNoteNotFound)
			return
		}
		encode(w, http.StatusOK, toJSON(n))
	})
}

func updateNote(s *noteStore, now func() time.Time) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := middleware.MustFromContext(r.Context())
		// The note is looked up first, so that a stranger's PUT learns
		// nothing from the validation of its body.
		if _, ok := s.get(id.UserID, r.PathValue("id")); !ok {
			middleware.WriteError(w, r, errNoteNotFound)
			return
		}
		in, err := decode[noteInput](w, r)
		if err == nil {
			err = in.validate()
		}
		if err != nil {
			middleware.WriteError(w, r, err)
			return
		}
		n, ok := s.update(id.UserID, r.PathValue("id"), in.Title, in.Body, now())
		if !ok { // deleted meanwhile
			middleware.WriteError(w, r, errNoteNotFound)
			return
		}
		encode(w, http.StatusOK, toJSON(n))
	})
}

func deleteNote(s *noteStore) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := middleware.MustFromContext(r.Context())
		if !s.delete(id.UserID, r.PathValue("id")) {
			middleware.WriteError(w, r, errNoteNotFound)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

func listAllNotes(s *noteStore) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		encode(w, http.StatusOK, map[string]any{"data": toJSONList(s.all())})
	})
}

// encode writes v as JSON with status.
func encode(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// decode reads one JSON object of type T from a body of at most
// maxRequestBody bytes, refusing unknown fields and trailing data.
func decode[T any](w http.ResponseWriter, r *http.Request) (T, error) {
	var v T
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxRequestBody))
	dec.DisallowUnknownFields()
	err := dec.Decode(&v)
	if err == nil && dec.Decode(&struct{}{}) != io.EOF {
		err = errors.New("trailing data")
	}
	if err == nil {
		return v, nil
	}
	var mbe *http.MaxBytesError
	var ute *json.UnmarshalTypeError
	msg := "the body is not a JSON object of the expected shape"
	switch {
	case errors.As(err, &mbe):
		msg = fmt.Sprintf("the body is larger than %d bytes", maxRequestBody)
	case errors.As(err, &ute) && ute.Field != "":
		msg = fmt.Sprintf("field %q has the wrong type", ute.Field)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		msg = "unknown field " + strings.TrimPrefix(err.Error(), "json: unknown field ")
	case errors.Is(err, io.EOF):
		msg = "the body is empty"
	}
	return v, clerkgate.Errorf(clerkgate.CodeInvalidRequest, msg)
}

package main

import (
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/clerkgate/clerkgate/middleware"
	"github.com/clerkgate/clerkgate/verify"
)

// deps are what newServer needs.
type deps struct {
	// Verifier checks session tokens; required. Its deny list, if any,
	// ends revoked sessions at once.
	Verifier *verify.Verifier
	// Notes is the store; nil means a new, empty one.
	Notes *noteStore
	// Logger; nil discards.
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// permissions are those of the application roles. Clerk's
// org:admin is "admin" and org:member "member" (the middleware's default
// mapping); a user with no active organization is a "member".
var permissions = map[string][]string{
	"admin":  {"notes:*"},
	"member": {"notes:read", "notes:write"},
}

// newServer returns the application's handler.
func newServer(d deps) (http.Handler, error) {
	if d.Verifier == nil {
		return nil, errors.New("notes: a Verifier is required")
	}
	if d.Notes == nil {
		d.Notes = newNoteStore()
	}
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	mw, err := middleware.New(middleware.Options{
		Verifier:    d.Verifier,
		Permissions: permissions,
		Logger:      d.Logger,
	})
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	addRoutes(mux, mw, d)
	return mux, nil
}

// addRoutes is the one list of routes and what each needs.
func addRoutes(mux *http.ServeMux, mw *middleware.Middleware, d deps) {
	read := mw.RequirePermission("notes:read")
	write := mw.RequirePermission("notes:write")
	mux.Handle("GET /healthz", healthz())
	mux.Handle("GET /notes", read(listNotes(d.Notes)))
	mux.Handle("POST /notes", write(createNote(d.Notes, d.Now)))
	mux.Handle("GET /notes/{id}", read(getNote(d.Notes)))
	mux.Handle("PUT /notes/{id}", write(updateNote(d.Notes, d.Now)))
	mux.Handle("DELETE /notes/{id}", write(deleteNote(d.Notes)))
	mux.Handle("GET /admin/notes", mw.RequirePermission("notes:read_all")(listAllNotes(d.Notes)))
}

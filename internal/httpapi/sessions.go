package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/clerkgate/clerkgate"
	"github.com/clerkgate/clerkgate/internal/clerkapi"
	"github.com/clerkgate/clerkgate/internal/identity"
)

// Clerk is what the API's endpoints need of Clerk's Backend API.
type Clerk interface {
	GetUser(ctx context.Context, clerkUserID string) (*clerkgate.User, *clerkapi.UserDetails, error)
	UpdateUserMetadata(ctx context.Context, clerkUserID string, publicMetadata json.RawMessage) (*clerkgate.User, error)
	BanUser(ctx context.Context, clerkUserID string) error
	UnbanUser(ctx context.Context, clerkUserID string) error
	DeleteUser(ctx context.Context, clerkUserID string) error
	GetSession(ctx context.Context, sessionID string) (*clerkapi.Session, error)
	ListSessions(ctx context.Context, clerkUserID, status string) ([]clerkapi.Session, error)
	RevokeSession(ctx context.Context, sessionID string) error
	CreateSessionToken(ctx context.Context, sessionID string, expiresIn time.Duration) (string, error)
}

var errNoClerk = &clerkgate.Error{Code: clerkgate.CodeUnavailable, Message: "this needs the Clerk Backend API: set CLERK_SECRET_KEY"}

// sessionJSON is a session as /auth/sessions shows it.
type sessionJSON struct {
	ID           string     `json:"id"`
	Status       string     `json:"status"`
	Current      bool       `json:"current"`
	LastActiveAt *time.Time `json:"last_active_at"`
	ExpireAt     *time.Time `json:"expire_at"`
	CreatedAt    *time.Time `json:"created_at"`
	ActiveOrgID  *string    `json:"active_organization_id"`
}

func newSessionJSON(s clerkapi.Session, current string) sessionJSON {
	return sessionJSON{
		ID: s.ID, Status: s.Status, Current: s.ID == current,
		LastActiveAt: timeOrNil(s.LastActiveAt), ExpireAt: timeOrNil(s.ExpireAt), CreatedAt: timeOrNil(s.CreatedAt),
		ActiveOrgID: nonEmpty(s.ActiveOrgID),
	}
}

// endSession denies a session here and on every instance at once, then
// revokes it in Clerk. The denial comes first: if Clerk cannot be told,
// the session is already over for this API and a retry finishes the job.
func (s *server) endSession(ctx context.Context, sessionID, clerkUserID, reason string) error {
	if err := s.syncer.DenySession(ctx, clerkgate.SessionDenial{
		SessionID: sessionID, ClerkUserID: clerkUserID, Reason: reason, Until: s.now().Add(denialTTL),
	}); err != nil {
		return err
	}
	err := s.clerk.RevokeSession(ctx, sessionID)
	if clerkgate.ErrorCode(err) == clerkgate.CodeNotFound {
		return nil // gone already
	}
	if err != nil {
		return &clerkgate.Error{Code: clerkgate.CodeUnavailable,
			Message: "the session is signed out here, but Clerk could not be told; retry", Err: err}
	}
	return nil
}

// denialTTL is how long a logout denial lasts (as usersync's default).
const denialTTL = 30 * 24 * time.Hour

func (s *server) handleLogout(w http.ResponseWriter, r *http.Request, id *identity.Identity) {
	if s.clerk == nil {
		writeProblem(w, r, errNoClerk)
		return
	}
	if err := s.endSession(r.Context(), id.Claims.SessionID, id.Claims.Subject, "logout"); err != nil {
		writeProblem(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *server) handleListSessions(w http.ResponseWriter, r *http.Request, id *identity.Identity) {
	if s.clerk == nil {
		writeProblem(w, r, errNoClerk)
		return
	}
	list, err := s.clerk.ListSessions(r.Context(), id.Claims.Subject, "active")
	if err != nil {
		writeProblem(w, r, err)
		return
	}
	out := make([]sessionJSON, 0, len(list))
	for _, ss := range list {
		if ss.UserID == id.Claims.Subject {
			out = append(out, newSessionJSON(ss, id.Claims.SessionID))
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": out})
}

// handleRevokeSession ends one of the caller's own sessions. Anyone else's
// session, or one that does not exist, is the same 404.
func (s *server) handleRevokeSession(w http.ResponseWriter, r *http.Request, id *identity.Identity) {
	if s.clerk == nil {
		writeProblem(w, r, errNoClerk)
		return
	}
	notFound := &clerkgate.Error{Code: clerkgate.CodeNotFound, Message: "no such session"}
	sid := r.PathValue("id")
	ss, err := s.clerk.GetSession(r.Context(), sid)
	switch {
	case clerkgate.ErrorCode(err) == clerkgate.CodeNotFound || (err == nil && ss.UserID != id.Claims.Subject):
		writeProblem(w, r, notFound)
		return
	case err != nil:
		writeProblem(w, r, err)
		return
	}
	if err := s.endSession(r.Context(), ss.ID, ss.UserID, "revoked_by_user"); err != nil {
		writeProblem(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// handleToken gives a non-browser client a fresh token of its session.
func (s *server) handleToken(w http.ResponseWriter, r *http.Request, id *identity.Identity) {
	if s.clerk == nil {
		writeProblem(w, r, errNoClerk)
		return
	}
	jwt, err := s.clerk.CreateSessionToken(r.Context(), id.Claims.SessionID, 0)
	if err != nil {
		writeProblem(w, r, err)
		return
	}
	c, err := s.verifier.Verify(r.Context(), jwt)
	if err != nil {
		writeProblem(w, r, &clerkgate.Error{Code: clerkgate.CodeUnavailable, Message: "Clerk issued a token this service cannot verify", Err: err})
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, map[string]any{"jwt": jwt, "expires_at": c.Expiry.UTC()})
}

package httpapi

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/clerkgate/clerkgate"
	"github.com/clerkgate/clerkgate/internal/identity"
	"github.com/clerkgate/clerkgate/internal/policy"
)

// userJSON is a local user as the admin API shows it.
type userJSON struct {
	ID             string          `json:"id"`
	ClerkUserID    *string         `json:"clerk_user_id"`
	Email          string          `json:"email"`
	EmailVerified  bool            `json:"email_verified"`
	FirstName      string          `json:"first_name"`
	LastName       string          `json:"last_name"`
	ImageURL       string          `json:"image_url"`
	Role           string          `json:"role"`
	PublicMetadata json.RawMessage `json:"public_metadata"`
	ExternalID     *string         `json:"external_id"`
	Banned         bool            `json:"banned"`
	LastSignInAt   *time.Time      `json:"last_sign_in_at"`
	CreatedAt      *time.Time      `json:"created_at"`
	UpdatedAt      *time.Time      `json:"updated_at"`
	DeletedAt      *time.Time      `json:"deleted_at"`
}

func newUserJSON(u *clerkgate.User) userJSON {
	md := u.PublicMetadata
	if len(md) == 0 {
		md = json.RawMessage("{}")
	}
	return userJSON{
		ID: u.ID, ClerkUserID: nonEmpty(u.ClerkUserID), Email: u.Email, EmailVerified: u.EmailVerified,
		FirstName: u.FirstName, LastName: u.LastName, ImageURL: u.ImageURL, Role: u.Role,
		PublicMetadata: md, ExternalID: nonEmpty(u.ExternalID), Banned: u.Banned,
		LastSignInAt: timeOrNil(u.LastSignInAt), CreatedAt: timeOrNil(u.CreatedAt),
		UpdatedAt: timeOrNil(u.UpdatedAt), DeletedAt: timeOrNil(u.DeletedAt),
	}
}

// unprocessable is a well-formed request with an invalid value: 422
// invalid_request (SPEC §3).
func unprocessable(msg string) error {
	return &statusError{status: http.StatusUnprocessableEntity, msg: msg}
}

// queryLimit reads ?limit= (1..200; absent: 50).
func queryLimit(r *http.Request) (int, error) {
	v := r.URL.Query().Get("limit")
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 200 {
		return 0, unprocessable("limit must be a number from 1 to 200")
	}
	return n, nil
}

func (s *server) handleListUsers(w http.ResponseWriter, r *http.Request, _ *identity.Identity) {
	limit, err := queryLimit(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	q := r.URL.Query()
	users, next, err := s.store.ListUsers(r.Context(), clerkgate.UserQuery{
		Query: q.Get("query"), Role: q.Get("role"), Limit: limit, Cursor: q.Get("cursor"),
	})
	if err != nil {
		writeStoreError(w, r, err)
		return
	}
	out := make([]userJSON, len(users))
	for i, u := range users {
		out[i] = newUserJSON(u)
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": out, "next_cursor": nonEmpty(next)})
}

// writeStoreError answers a store's invalid_request (a bad cursor, say) as
// 422 and anything else as its code.
func writeStoreError(w http.ResponseWriter, r *http.Request, err error) {
	if clerkgate.ErrorCode(err) == clerkgate.CodeInvalidRequest {
		writeError(w, r, unprocessable(clerkgate.ErrorMessage(err)))
		return
	}
	writeProblem(w, r, err)
}

// lookupUser finds a user by local id or Clerk id.
func (s *server) lookupUser(r *http.Request) (*clerkgate.User, error) {
	id := r.PathValue("id")
	if strings.HasPrefix(id, "user_") {
		return s.store.UserByClerkID(r.Context(), id)
	}
	return s.store.UserByID(r.Context(), id)
}

func (s *server) handleGetUser(w http.ResponseWriter, r *http.Request, _ *identity.Identity) {
	u, err := s.lookupUser(r)
	if err != nil {
		writeProblem(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, newUserJSON(u))
}

// clerkUser finds the live, Clerk-linked user an admin action is about.
func (s *server) clerkUser(r *http.Request) (*clerkgate.User, error) {
	u, err := s.lookupUser(r)
	if err != nil {
		return nil, err
	}
	if u.Deleted() {
		return nil, &clerkgate.Error{Code: clerkgate.CodeNotFound, Message: "user not found"}
	}
	if u.ClerkUserID == "" {
		return nil, &clerkgate.Error{Code: clerkgate.CodeConflict, Message: "the user is not linked to Clerk yet (run sync or import-legacy)"}
	}
	if s.clerk == nil {
		return nil, errNoClerk
	}
	return u, nil
}

func (s *server) handlePatchUser(w http.ResponseWriter, r *http.Request, id *identity.Identity) {
	var req struct {
		Role *string `json:"role"`
	}
	if err := decode(r, &req, false); err != nil {
		writeError(w, r, err)
		return
	}
	if req.Role == nil {
		writeError(w, r, unprocessable("role is required"))
		return
	}
	pol := s.policy()
	if !pol.KnownRole(*req.Role) {
		writeError(w, r, unprocessable("unknown role "+strconv.Quote(*req.Role)))
		return
	}
	// One role change at a time in this process, so two demotions cannot
	// both see another admin left.
	s.roleMu.Lock()
	defer s.roleMu.Unlock()
	u, err := s.clerkUser(r)
	if err != nil {
		writeProblem(w, r, err)
		return
	}
	if err := s.checkLastAdmin(r, pol, u, *req.Role); err != nil {
		writeProblem(w, r, err)
		return
	}
	md, _ := json.Marshal(map[string]string{pol.Roles.MetadataKey: *req.Role})
	cu, err := s.clerk.UpdateUserMetadata(r.Context(), u.ClerkUserID, md)
	if err != nil {
		writeProblem(w, r, err)
		return
	}
	stored, _, err := s.syncer.StoreUser(r.Context(), cu)
	if err != nil {
		writeProblem(w, r, err)
		return
	}
	if stored.Role != u.Role {
		s.security.Record(r.Context(), clerkgate.SecurityEvent{Kind: clerkgate.EventRoleChanged, UserID: stored.ID,
			IP: remoteIP(r), RequestID: requestID(r)},
			map[string]any{"from": u.Role, "to": stored.Role, "by": id.User.ID})
	}
	writeJSON(w, http.StatusOK, newUserJSON(stored))
}

// checkLastAdmin refuses to take the last holder of an administering role
// (one that grants users:write) out of it.
func (s *server) checkLastAdmin(r *http.Request, pol *policy.Policy, u *clerkgate.User, newRole string) error {
	admin := func(role string) bool { return policy.Allowed(pol.Permissions[role], "users:write") }
	if !admin(u.Role) || admin(newRole) {
		return nil
	}
	for role := range pol.Permissions {
		if !admin(role) {
			continue
		}
		users, _, err := s.store.ListUsers(r.Context(), clerkgate.UserQuery{Role: role, Limit: 2})
		if err != nil {
			return err
		}
		for _, other := range users {
			if other.ID != u.ID && !other.Banned {
				return nil
			}
		}
	}
	return &clerkgate.Error{Code: clerkgate.CodeConflict, Message: "this is the last admin: make another admin first"}
}

func (s *server) handleBan(ban bool) func(http.ResponseWriter, *http.Request, *identity.Identity) {
	return func(w http.ResponseWriter, r *http.Request, id *identity.Identity) {
		u, err := s.clerkUser(r)
		if err != nil {
			writeProblem(w, r, err)
			return
		}
		action, apply := "unban", s.clerk.UnbanUser
		if ban {
			action, apply = "ban", s.clerk.BanUser
		}
		if err := apply(r.Context(), u.ClerkUserID); err != nil {
			writeProblem(w, r, err)
			return
		}
		cu, _, err := s.clerk.GetUser(r.Context(), u.ClerkUserID)
		if err != nil {
			writeProblem(w, r, err)
			return
		}
		stored, _, err := s.syncer.StoreUser(r.Context(), cu)
		if err != nil {
			writeProblem(w, r, err)
			return
		}
		if ban {
			s.security.Record(r.Context(), clerkgate.SecurityEvent{Kind: clerkgate.EventUserBanned, UserID: stored.ID,
				IP: remoteIP(r), RequestID: requestID(r)}, map[string]any{"by": id.User.ID})
		}
		s.adminAction(r, id, action, stored.ID)
		writeJSON(w, http.StatusOK, newUserJSON(stored))
	}
}

func (s *server) handleDeleteUser(w http.ResponseWriter, r *http.Request, id *identity.Identity) {
	u, err := s.clerkUser(r)
	if err != nil {
		writeProblem(w, r, err)
		return
	}
	if err := s.checkLastAdmin(r, s.policy(), u, ""); err != nil {
		writeProblem(w, r, err)
		return
	}
	if err := s.clerk.DeleteUser(r.Context(), u.ClerkUserID); err != nil && clerkgate.ErrorCode(err) != clerkgate.CodeNotFound {
		writeProblem(w, r, err)
		return
	}
	if _, err := s.syncer.DeleteUser(r.Context(), u.ClerkUserID); err != nil {
		writeProblem(w, r, err)
		return
	}
	s.security.Record(r.Context(), clerkgate.SecurityEvent{Kind: clerkgate.EventUserDeleted, UserID: u.ID,
		IP: remoteIP(r), RequestID: requestID(r)}, map[string]any{"by": id.User.ID, "source": "admin"})
	s.adminAction(r, id, "delete", u.ID)
	w.WriteHeader(http.StatusNoContent)
}

func (s *server) adminAction(r *http.Request, id *identity.Identity, action, target string) {
	s.security.Record(r.Context(), clerkgate.SecurityEvent{Kind: clerkgate.EventAdminAction, UserID: id.User.ID,
		IP: remoteIP(r), RequestID: requestID(r)}, map[string]any{"action": action, "target": target})
}

// securityEventJSON is a security event as the admin API shows it.
type securityEventJSON struct {
	ID        string          `json:"id"`
	Kind      string          `json:"kind"`
	At        time.Time       `json:"at"`
	IP        string          `json:"ip"`
	UserID    string          `json:"user_id"`
	RequestID string          `json:"request_id"`
	Detail    json.RawMessage `json:"detail"`
}

func (s *server) handleSecurityEvents(w http.ResponseWriter, r *http.Request, _ *identity.Identity) {
	limit, err := queryLimit(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	q := clerkgate.SecurityEventQuery{Kind: r.URL.Query().Get("kind"), Limit: limit, Cursor: r.URL.Query().Get("cursor")}
	if v := r.URL.Query().Get("since"); v != "" {
		if q.Since, err = time.Parse(time.RFC3339, v); err != nil {
			writeError(w, r, unprocessable("since must be an RFC 3339 time such as 2026-01-02T15:04:05Z"))
			return
		}
	}
	events, next, err := s.events.SecurityEvents(r.Context(), q)
	if err != nil {
		writeStoreError(w, r, err)
		return
	}
	out := make([]securityEventJSON, len(events))
	for i, e := range events {
		d := e.Detail
		if len(d) == 0 {
			d = json.RawMessage("{}")
		}
		out[i] = securityEventJSON{ID: e.ID, Kind: e.Kind, At: e.At.UTC(), IP: e.IP, UserID: e.UserID, RequestID: e.RequestID, Detail: d}
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": out, "next_cursor": nonEmpty(next)})
}

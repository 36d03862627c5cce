package httpapi

import (
	"encoding/json"
	"net/http"
	"sync"
	"time"

	"github.com/clerkgate/clerkgate"
	"github.com/clerkgate/clerkgate/internal/identity"
)

// meResponse is the wire shape of GET /auth/me (SPEC §3).
type meResponse struct {
	ID             *string    `json:"id"`
	ClerkUserID    string     `json:"clerk_user_id"`
	Email          string     `json:"email"`
	FirstName      string     `json:"first_name"`
	LastName       string     `json:"last_name"`
	ImageURL       string     `json:"image_url"`
	Role           string     `json:"role"`
	Permissions    []string   `json:"permissions"`
	SessionID      string     `json:"session_id"`
	Org            *meOrg     `json:"org"`
	Actor          *meActor   `json:"actor,omitempty"`
	ProfilePending bool       `json:"profile_pending"`
	CreatedAt      *time.Time `json:"created_at"`
	UpdatedAt      *time.Time `json:"updated_at"`
	LastSignInAt   *time.Time `json:"last_sign_in_at"`
}

type meOrg struct {
	ID          string   `json:"id"`
	Slug        string   `json:"slug"`
	Role        string   `json:"role"`
	Permissions []string `json:"permissions"`
}

type meActor struct {
	Sub string `json:"sub"`
}

func (s *server) handleMe(w http.ResponseWriter, r *http.Request, id *identity.Identity) {
	u, c := id.User, id.Claims
	resp := meResponse{
		ID:             nonEmpty(u.ID),
		ClerkUserID:    c.Subject,
		Email:          u.Email,
		FirstName:      u.FirstName,
		LastName:       u.LastName,
		ImageURL:       u.ImageURL,
		Role:           id.Role,
		Permissions:    id.Permissions,
		SessionID:      c.SessionID,
		ProfilePending: id.ProfilePending,
		CreatedAt:      timeOrNil(u.CreatedAt),
		UpdatedAt:      timeOrNil(u.UpdatedAt),
		LastSignInAt:   timeOrNil(u.LastSignInAt),
	}
	if resp.Permissions == nil {
		resp.Permissions = []string{}
	}
	if o := id.Org; o != nil {
		perms := o.Permissions
		if perms == nil {
			perms = []string{}
		}
		resp.Org = &meOrg{ID: o.ID, Slug: o.Slug, Role: o.Role, Permissions: perms}
	}
	if c.Actor != nil {
		resp.Actor = &meActor{Sub: c.Actor.Subject}
	}
	h := w.Header()
	h["Cache-Control"] = headerNoStore
	h["Content-Type"] = headerJSON
	buf := mePool.Get().(*[]byte)
	b := append(resp.appendJSON((*buf)[:0]), '\n')
	w.WriteHeader(http.StatusOK)
	w.Write(b)
	*buf = b
	if cap(b) <= 16<<10 {
		mePool.Put(buf)
	}
}

// Header values shared by every answer that sets them, assigned to the
// header map directly (canonical keys) to save Header.Set's allocation.
// Never modify them.
var (
	headerNoStore = []string{"no-store"}
	headerJSON    = []string{"application/json"}
)

// mePool keeps /auth/me's encoding buffers.
var mePool = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func timeOrNil(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}

// writeJSON answers v as JSON with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		// Only a value the service built itself can fail here (stored
		// metadata that is not JSON): an internal error, as a problem
		// document like every other error.
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(http.StatusInternalServerError)
		json.NewEncoder(w).Encode(problem{
			Type: problemTypeBase + string(clerkgate.CodeInternal), Title: http.StatusText(http.StatusInternalServerError),
			Status: http.StatusInternalServerError, Detail: "internal error", Code: string(clerkgate.CodeInternal),
			RequestID: w.Header().Get("X-Request-Id"),
		})
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}

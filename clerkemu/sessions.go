package clerkemu

import (
	"cmp"
	"net/http"
	"slices"
	"time"
)

// Session lifetimes, as Clerk's defaults.
const (
	sessionLifetime = 7 * 24 * time.Hour
	sessionAbandon  = 30 * 24 * time.Hour
)

// Session is a Clerk session in the Backend API's wire shape.
type Session struct {
	Object                   string         `json:"object"`
	ID                       string         `json:"id"`
	UserID                   string         `json:"user_id"`
	ClientID                 string         `json:"client_id"`
	Actor                    map[string]any `json:"actor"`
	Status                   string         `json:"status"`
	LastActiveOrganizationID *string        `json:"last_active_organization_id"`
	LastActiveAt             int64          `json:"last_active_at"`
	ExpireAt                 int64          `json:"expire_at"`
	AbandonAt                int64          `json:"abandon_at"`
	UpdatedAt                int64          `json:"updated_at"`
	CreatedAt                int64          `json:"created_at"`
	// Tasks are what a pending session still has to do; null otherwise.
	Tasks []SessionTask `json:"tasks"`
}

// SessionTask is a step a pending session must complete.
type SessionTask struct {
	Key string `json:"key"`
}

// Session statuses.
const (
	StatusActive    = "active"
	StatusPending   = "pending"
	StatusRevoked   = "revoked"
	StatusEnded     = "ended"
	StatusRemoved   = "removed"
	StatusExpired   = "expired"
	StatusAbandoned = "abandoned"
)

// SessionParams describes a session for [Emulator.CreateSessionWith].
type SessionParams struct {
	// UserID is the session's user; required.
	UserID string
	// ActiveOrganizationID, when set, makes the organization active: tokens
	// then carry the o claim. The user must be a member.
	ActiveOrganizationID string
	// Pending creates a pending session (status "pending", tokens with
	// sts "pending"), as Clerk makes when an organization must be chosen.
	Pending bool
	// Actor, when set, is an impersonator ({"sub": "user_..."}): the
	// session's actor and its tokens' act claim.
	Actor map[string]any
	// AuthorizedParty, when set, is the azp claim of the session's tokens.
	AuthorizedParty string
}

// sessionRecord is a stored session.
type sessionRecord struct {
	s   Session
	seq uint64
	azp string
}

// CreateSession creates an active session for the user, with activeOrgID
// ("" for none) as its active organization, as POST /v1/sessions does.
func (e *Emulator) CreateSession(userID, activeOrgID string) (*Session, error) {
	return e.CreateSessionWith(SessionParams{UserID: userID, ActiveOrganizationID: activeOrgID})
}

// CreateSessionWith creates a session described by p.
func (e *Emulator) CreateSessionWith(p SessionParams) (*Session, error) {
	return e.createSessionFrom(EventRequest{}, p)
}

// createSessionFrom is CreateSessionWith for a change made by from.
func (e *Emulator) createSessionFrom(from EventRequest, p SessionParams) (*Session, error) {
	actor, err := normalizeMetadata(p.Actor)
	if err != nil {
		return nil, errFormat("actor")
	}
	p.Actor = actor
	var out Session
	err = e.updateFrom(from, func(t *tx) error {
		rec, err := t.createSession(p)
		if err != nil {
			return err
		}
		out = rec.snapshot(t.now)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// GetSession returns a snapshot of the session with the given id.
func (e *Emulator) GetSession(id string) (*Session, error) {
	var out Session
	err := e.view(func(now time.Time) error {
		rec, err := e.session(id)
		if err != nil {
			return err
		}
		out = rec.snapshot(now)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// RevokeSession revokes a session, as POST /v1/sessions/{id}/revoke does:
// session.revoked.
func (e *Emulator) RevokeSession(id string) (*Session, error) {
	return e.finishSession(EventRequest{}, id, StatusRevoked)
}

// EndSession ends a session as a user signing out does: session.ended. The
// Backend API has no such call; Clerk ends sessions when users sign out.
func (e *Emulator) EndSession(id string) (*Session, error) {
	return e.finishSession(EventRequest{}, id, StatusEnded)
}

// finishSession moves a live session to status (revoked or ended); a
// session that is no longer live is left as it is.
func (e *Emulator) finishSession(from EventRequest, id, status string) (*Session, error) {
	var out Session
	err := e.updateFrom(from, func(t *tx) error {
		rec, err := e.session(id)
		if err != nil {
			return err
		}
		t.endSession(rec, status)
		out = rec.snapshot(t.now)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// session finds a session; the caller holds the lock.
func (e *Emulator) session(id string) (*sessionRecord, error) {
	rec, ok := e.sessions[id]
	if !ok {
		return nil, errNotFound("No session was found with id " + id)
	}
	return rec, nil
}

// createSession validates p and stores a new session.
func (t *tx) createSession(p SessionParams) (*sessionRecord, error) {
	e := t.e
	if p.UserID == "" {
		return nil, errMissing("user_id")
	}
	u, err := e.user(p.UserID)
	if err != nil {
		return nil, err
	}
	if u.u.Banned {
		return nil, &Error{Status: http.StatusUnprocessableEntity, Code: CodeUserBanned, Param: "user_id",
			Message: "user is banned", LongMessage: "The user " + p.UserID + " is banned and cannot sign in."}
	}
	if u.u.Locked {
		return nil, &Error{Status: http.StatusUnprocessableEntity, Code: CodeUserLocked, Param: "user_id",
			Message: "user is locked", LongMessage: "The user " + p.UserID + " is locked and cannot sign in."}
	}
	if p.ActiveOrganizationID != "" {
		org, err := e.org(p.ActiveOrganizationID)
		if err != nil {
			return nil, err
		}
		// A slug names the organization as well as its id; the session
		// keeps the id, which its tokens' "o" claim looks up.
		p.ActiveOrganizationID = org.o.ID
		if !e.isMember(p.ActiveOrganizationID, p.UserID) {
			return nil, errValue("active_organization_id", "The user is not a member of organization "+p.ActiveOrganizationID+".")
		}
	}
	if p.Actor != nil {
		if sub, _ := p.Actor["sub"].(string); sub == "" {
			return nil, errValue("actor", "actor must be an object with a sub.")
		}
	}
	ms := millis(t.now)
	s := Session{
		Object:       "session",
		ID:           newID("sess"),
		UserID:       p.UserID,
		ClientID:     newID("client"),
		Actor:        p.Actor,
		Status:       StatusActive,
		LastActiveAt: ms,
		ExpireAt:     millis(t.now.Add(sessionLifetime)),
		AbandonAt:    millis(t.now.Add(sessionAbandon)),
		CreatedAt:    ms,
		UpdatedAt:    ms,
	}
	if p.ActiveOrganizationID != "" {
		s.LastActiveOrganizationID = ptr(p.ActiveOrganizationID)
	}
	if p.Pending {
		s.Status = StatusPending
		s.Tasks = []SessionTask{{Key: "choose-organization"}}
	}
	rec := &sessionRecord{s: s, seq: e.nextSeq(), azp: p.AuthorizedParty}
	e.sessions[s.ID] = rec
	u.u.LastSignInAt = ptr(ms)
	u.u.LastActiveAt = ptr(ms)
	t.emit("session.created", t.sessionEvent(rec))
	if p.Pending {
		t.emit("session.pending", t.sessionEvent(rec))
	}
	return rec, nil
}

// live reports whether the session can still be used at now.
func (r *sessionRecord) live(now time.Time) bool {
	st := r.statusAt(now)
	return st == StatusActive || st == StatusPending
}

// statusAt is the session's status at now: a live session past its expiry
// or abandonment time reads as expired or abandoned.
func (r *sessionRecord) statusAt(now time.Time) string {
	st := r.s.Status
	if st != StatusActive && st != StatusPending {
		return st
	}
	switch ms := millis(now); {
	case ms >= r.s.ExpireAt:
		return StatusExpired
	case ms >= r.s.AbandonAt:
		return StatusAbandoned
	}
	return st
}

// endSession moves a live session to status (revoked, ended, removed) and
// emits session.<status>; other sessions are left as they are.
func (t *tx) endSession(rec *sessionRecord, status string) {
	if !rec.live(t.now) {
		return
	}
	rec.s.Status = status
	rec.s.Tasks = nil
	rec.s.UpdatedAt = millis(t.now)
	t.emit("session."+status, t.sessionEvent(rec))
}

// revokeUserSessions ends every live session of the user, oldest first.
func (t *tx) revokeUserSessions(userID, status string) {
	for _, rec := range t.e.sortedSessions(func(r *sessionRecord) bool { return r.s.UserID == userID }, false) {
		t.endSession(rec, status)
	}
}

// sortedSessions returns the sessions that keep returns, by creation.
func (e *Emulator) sortedSessions(keep func(*sessionRecord) bool, newestFirst bool) []*sessionRecord {
	var out []*sessionRecord
	for _, r := range e.sessions {
		if keep(r) {
			out = append(out, r)
		}
	}
	slices.SortFunc(out, func(a, b *sessionRecord) int {
		c := cmp.Compare(a.seq, b.seq)
		if newestFirst {
			return -c
		}
		return c
	})
	return out
}

// snapshot returns a copy with the status as of now.
func (r *sessionRecord) snapshot(now time.Time) Session {
	s := r.s
	s.Status = r.statusAt(now)
	if s.Actor != nil {
		s.Actor = cloneMap(s.Actor)
	}
	if s.Tasks != nil {
		s.Tasks = slices.Clone(s.Tasks)
	}
	if s.LastActiveOrganizationID != nil {
		s.LastActiveOrganizationID = ptr(*s.LastActiveOrganizationID)
	}
	return s
}

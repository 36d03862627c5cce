package clerkemu

import (
	"net/http"
	"strconv"
	"time"
)

// sessionPage is GET /v1/sessions?paginated=true's answer.
type sessionPage struct {
	Data       []Session `json:"data"`
	TotalCount int       `json:"total_count"`
}

// handleListSessions answers GET /v1/sessions: newest first, a plain array,
// or {data,total_count} with paginated=true. user_id or client_id is
// required.
func (e *Emulator) handleListSessions(r *http.Request, _ []string) (any, error) {
	q := r.URL.Query()
	userID, clientID, status := q.Get("user_id"), q.Get("client_id"), q.Get("status")
	if userID == "" && clientID == "" {
		err := errMissing("user_id")
		err.LongMessage = "user_id or client_id must be included."
		return nil, err
	}
	switch status {
	case "", StatusActive, StatusRevoked, StatusEnded, StatusExpired, StatusRemoved, StatusAbandoned, "replaced", StatusPending:
	default:
		return nil, errValue("status", "status "+status+" is not a session status.")
	}
	paginated, _, err := queryBool(q, "paginated")
	if err != nil {
		return nil, err
	}
	pg, err := queryPage(q)
	if err != nil {
		return nil, err
	}
	var all []Session
	_ = e.view(func(now time.Time) error {
		for _, rec := range e.sortedSessions(func(r *sessionRecord) bool {
			return (userID == "" || r.s.UserID == userID) && (clientID == "" || r.s.ClientID == clientID) &&
				(status == "" || r.statusAt(now) == status)
		}, true) {
			all = append(all, rec.snapshot(now))
		}
		return nil
	})
	data := append([]Session{}, apply(pg, all)...)
	if paginated {
		return sessionPage{Data: data, TotalCount: len(all)}, nil
	}
	return data, nil
}

// handleCreateSession answers POST /v1/sessions. Beside Clerk's user_id and
// active_organization_id it takes the emulator-only status ("active" or
// "pending"), actor and azp.
func (e *Emulator) handleCreateSession(r *http.Request, _ []string) (any, error) {
	f, err := readForm(r, "user_id", "active_organization_id", "status", "actor", "azp")
	if err != nil {
		return nil, err
	}
	var p SessionParams
	var status string
	for _, step := range []func() error{
		func() error { _, err := get(f, "user_id", &p.UserID); return err },
		func() error { _, err := get(f, "active_organization_id", &p.ActiveOrganizationID); return err },
		func() error { _, err := get(f, "status", &status); return err },
		func() error { _, err := get(f, "azp", &p.AuthorizedParty); return err },
		func() error { p.Actor, _, err = f.object("actor"); return err },
	} {
		if err := step(); err != nil {
			return nil, err
		}
	}
	switch status {
	case "", StatusActive:
	case StatusPending:
		p.Pending = true
	default:
		return nil, errValue("status", "status must be active or pending.")
	}
	return e.createSessionFrom(requestOf(r), p)
}

func (e *Emulator) handleGetSession(_ *http.Request, args []string) (any, error) {
	return e.GetSession(args[0])
}

func (e *Emulator) handleRevokeSession(r *http.Request, args []string) (any, error) {
	if _, err := readForm(r); err != nil {
		return nil, err
	}
	return e.finishSession(requestOf(r), args[0], StatusRevoked)
}

// sessionToken is the answer of POST /v1/sessions/{id}/tokens.
type sessionToken struct {
	Object string `json:"object"`
	JWT    string `json:"jwt"`
}

// handleCreateToken answers POST /v1/sessions/{id}/tokens with
// expires_in_seconds between 30 and 315360000 (default Options.TokenTTL).
func (e *Emulator) handleCreateToken(r *http.Request, args []string) (any, error) {
	f, err := readForm(r, "expires_in_seconds")
	if err != nil {
		return nil, err
	}
	ttl := e.tokenTTL
	var secs int64
	if ok, err := get(f, "expires_in_seconds", &secs); err != nil {
		return nil, err
	} else if ok {
		ttl = time.Duration(secs) * time.Second
		if secs < int64(minTokenTTL/time.Second) || secs > int64(maxTokenTTL/time.Second) {
			return nil, errValue("expires_in_seconds", "expires_in_seconds must be between "+
				strconv.Itoa(int(minTokenTTL/time.Second))+" and "+strconv.Itoa(int(maxTokenTTL/time.Second))+".")
		}
	}
	jwt, err := e.sessionToken(args[0], ttl)
	if err != nil {
		return nil, err
	}
	return sessionToken{Object: "token", JWT: jwt}, nil
}

// handleCreateTemplateToken answers POST /v1/sessions/{id}/tokens/{name}:
// the emulator has no JWT templates.
func (e *Emulator) handleCreateTemplateToken(r *http.Request, args []string) (any, error) {
	if _, err := readForm(r, "expires_in_seconds"); err != nil {
		return nil, err
	}
	if _, err := e.GetSession(args[0]); err != nil {
		return nil, err
	}
	return nil, errNotFound("No JWT template exists with name: " + args[1])
}

package clerkapi

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"github.com/clerk/clerk-sdk-go/v2"
	"github.com/clerk/clerk-sdk-go/v2/session"

	"github.com/clerkgate/clerkgate"
)

// Session statuses, as Clerk names them.
const (
	SessionActive    = "active"
	SessionPending   = "pending"
	SessionRevoked   = "revoked"
	SessionEnded     = "ended"
	SessionExpired   = "expired"
	SessionRemoved   = "removed"
	SessionAbandoned = "abandoned"
	SessionReplaced  = "replaced"
)

// MaxSessions is how many sessions ListSessions returns at most (one page of
// the Backend API).
const MaxSessions = 500

// Session is a Clerk session.
type Session struct {
	ID       string
	UserID   string
	ClientID string
	// Status is one of the Session* constants (Clerk may add others).
	Status string
	// ActiveOrgID is the session's active organization
	// (last_active_organization_id); "" when none.
	ActiveOrgID string
	// Actor is the impersonator ({"sub":"user_..."}) of an impersonation
	// session, as JSON; nil otherwise.
	Actor        json.RawMessage
	LastActiveAt time.Time
	ExpireAt     time.Time
	AbandonAt    time.Time
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// GetSession returns the session with id sessionID. An unknown id is
// not_found; see GetUser for the other errors.
func (c *Client) GetSession(ctx context.Context, sessionID string) (*Session, error) {
	if !validID(sessionID) {
		return nil, notFound(opGetSession)
	}
	var s *clerk.Session
	err := c.call(ctx, opGetSession, func(ctx context.Context) error {
		var err error
		s, err = c.sessions.Get(ctx, sessionID)
		if err != nil {
			return err
		}
		return checkSession(s, sessionID)
	})
	if err != nil {
		return nil, err
	}
	return convertSession(s), nil
}

// ListSessions returns the user's sessions in Clerk's order (newest first),
// at most MaxSessions of them; status ("" for all) keeps only sessions in
// that status, e.g. SessionActive. An unknown user has no sessions.
func (c *Client) ListSessions(ctx context.Context, clerkUserID, status string) ([]Session, error) {
	if !validID(clerkUserID) {
		return nil, notFound(opListSessions)
	}
	params := &session.ListParams{UserID: clerk.String(clerkUserID)}
	params.Limit = clerk.Int64(MaxSessions)
	if status != "" {
		if !validID(status) {
			return nil, clerkgate.Errorf(clerkgate.CodeInvalidRequest, "invalid session status")
		}
		params.Status = clerk.String(status)
	}
	var list *clerk.SessionList
	err := c.call(ctx, opListSessions, func(ctx context.Context) error {
		var err error
		list, err = c.sessions.List(ctx, params)
		if err != nil {
			return err
		}
		if len(list.Sessions) > MaxSessions {
			return errUnexpected("a page longer than its limit")
		}
		for _, s := range list.Sessions {
			if err := checkSession(s, ""); err != nil {
				return err
			}
			if s.UserID != clerkUserID {
				return errUnexpected("a session of another user")
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := make([]Session, len(list.Sessions))
	for i, s := range list.Sessions {
		out[i] = *convertSession(s)
	}
	return out, nil
}

// RevokeSession revokes the session in Clerk (POST
// /v1/sessions/{id}/revoke). Its last session token stays valid until it
// expires; a deny-list covers that gap.
func (c *Client) RevokeSession(ctx context.Context, sessionID string) error {
	if !validID(sessionID) {
		return notFound(opRevokeSession)
	}
	return c.call(ctx, opRevokeSession, func(ctx context.Context) error {
		s, err := c.sessions.Revoke(ctx, &session.RevokeParams{ID: sessionID})
		if err != nil {
			return err
		}
		return checkSession(s, sessionID)
	})
}

// CreateSessionToken returns a fresh session token (a JWT) for the session
// (POST /v1/sessions/{id}/tokens). expiresIn 0 means Clerk's default
// lifetime; otherwise it is rounded up to whole seconds and Clerk accepts 30
// seconds to 10 years (anything else is invalid_request).
func (c *Client) CreateSessionToken(ctx context.Context, sessionID string, expiresIn time.Duration) (string, error) {
	if !validID(sessionID) {
		return "", notFound(opCreateSessionToken)
	}
	if expiresIn < 0 {
		return "", clerkgate.Errorf(clerkgate.CodeInvalidRequest, "token lifetime must not be negative")
	}
	params := &session.CreateTokenParams{ID: sessionID}
	if expiresIn > 0 {
		secs := int64((expiresIn + time.Second - 1) / time.Second)
		params.ExpiresInSeconds = clerk.Int64(secs)
	}
	var jwt string
	err := c.call(ctx, opCreateSessionToken, func(ctx context.Context) error {
		tok, err := c.sessions.CreateToken(ctx, params)
		if err != nil {
			return err
		}
		if strings.Count(tok.JWT, ".") != 2 {
			return errUnexpected("a token that is not a JWT")
		}
		jwt = tok.JWT
		return nil
	})
	if err != nil {
		return "", err
	}
	return jwt, nil
}

// checkSession rejects an answer that cannot be the session asked for.
func checkSession(s *clerk.Session, wantID string) error {
	switch {
	case s == nil || s.ID == "":
		return errUnexpected("a session without an id")
	case wantID != "" && s.ID != wantID:
		return errUnexpected("a different session than asked for")
	}
	return nil
}

func convertSession(s *clerk.Session) *Session {
	ms := func(v int64) time.Time {
		if v == 0 {
			return time.Time{}
		}
		return time.UnixMilli(v).UTC()
	}
	return &Session{
		ID:           s.ID,
		UserID:       s.UserID,
		ClientID:     s.ClientID,
		Status:       s.Status,
		ActiveOrgID:  s.LastActiveOrganizationID,
		Actor:        compactJSON(s.Actor),
		LastActiveAt: ms(s.LastActiveAt),
		ExpireAt:     ms(s.ExpireAt),
		AbandonAt:    ms(s.AbandonAt),
		CreatedAt:    ms(s.CreatedAt),
		UpdatedAt:    ms(s.UpdatedAt),
	}
}

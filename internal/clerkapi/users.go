package clerkapi

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/clerk/clerk-sdk-go/v2"
	"github.com/clerk/clerk-sdk-go/v2/user"

	"github.com/clerkgate/clerkgate"
)

// MaxUsersPage is the largest page ListUsers and ListUsersAfter ask for, the
// Backend API's maximum.
const MaxUsersPage = 500

// UserDetails is what a Clerk user carries beyond clerkgate.User and what
// callers may need of it.
type UserDetails struct {
	// PublicMetadata is public_metadata decoded; nil when absent or not a
	// JSON object.
	PublicMetadata map[string]any
	// Username is the user's username, "" when none.
	Username string
	// Locked reports whether Clerk locked the user (too many failed
	// sign-ins).
	Locked bool
	// LastActiveAt is the user's last activity; zero when never.
	LastActiveAt time.Time
}

// GetUser returns the Clerk user with id clerkUserID as a clerkgate.User
// (see ConvertUser) and the details the User type has no room for.
//
// Errors are *clerkgate.Error values with these codes: not_found when Clerk
// answers 404 (or the id cannot be a Clerk id); unavailable when Clerk
// cannot be reached, times out, answers 5xx or something that is not its
// JSON, rejects the secret key (401/403, message "Clerk rejected the secret
// key"), or the circuit breaker is open; rate_limited on 429 (the cause is an
// *APIError with RetryAfter); invalid_request on 400/422; conflict on 409.
// The same holds for every method of Client.
func (c *Client) GetUser(ctx context.Context, clerkUserID string) (*clerkgate.User, *UserDetails, error) {
	if !validID(clerkUserID) {
		return nil, nil, notFound(opGetUser)
	}
	var u *clerk.User
	err := c.call(ctx, opGetUser, func(ctx context.Context) error {
		var err error
		u, err = c.users.Get(ctx, clerkUserID)
		if err != nil {
			return err
		}
		return checkUser(u, clerkUserID)
	})
	if err != nil {
		return nil, nil, err
	}
	return ConvertUser(u), detailsOf(u), nil
}

// ListUsers returns one page of Clerk users, oldest first (order_by
// created_at, so users created during a walk land on later pages): limit
// 1..MaxUsersPage users after skipping offset. Large offsets are slow in
// Clerk; ListUsersAfter walks every user at a constant cost per page.
func (c *Client) ListUsers(ctx context.Context, limit, offset int) ([]*clerkgate.User, error) {
	if offset < 0 {
		return nil, clerkgate.Errorf(clerkgate.CodeInvalidRequest, "offset must not be negative")
	}
	return c.listUsers(ctx, limit, offset, "")
}

// ListUsersAfter returns one page of Clerk users, oldest first: limit
// 1..MaxUsersPage users created after the user with id afterID ("" starts
// at the beginning). Pass the last id of a page to get the next one; a page
// shorter than limit is the last. Unlike offsets, the cursor neither skips
// nor repeats users when others are deleted during the walk.
func (c *Client) ListUsersAfter(ctx context.Context, limit int, afterID string) ([]*clerkgate.User, error) {
	if afterID != "" && !validID(afterID) {
		return nil, clerkgate.Errorf(clerkgate.CodeInvalidRequest, "invalid user id to start after")
	}
	return c.listUsers(ctx, limit, 0, afterID)
}

func (c *Client) listUsers(ctx context.Context, limit, offset int, afterID string) ([]*clerkgate.User, error) {
	if limit < 1 || limit > MaxUsersPage {
		return nil, clerkgate.Errorf(clerkgate.CodeInvalidRequest,
			"limit must be between 1 and "+strconv.Itoa(MaxUsersPage))
	}
	// GET /v1/users directly: the SDK's user.List also calls /users/count
	// on every page, which a walk through every user does not need.
	return c.usersPage(ctx, opListUsers, &listUsersParams{limit: limit, offset: offset, after: afterID}, limit)
}

// usersPage makes one GET /v1/users call with params and converts the
// answer, refusing a page longer than max or a user without an id.
func (c *Client) usersPage(ctx context.Context, op operation, params clerk.Params, max int) ([]*clerkgate.User, error) {
	req := clerk.NewAPIRequest(http.MethodGet, "/users")
	req.SetParams(params)
	var page userPage
	err := c.call(ctx, op, func(ctx context.Context) error {
		if err := c.backend.Call(ctx, req, &page); err != nil {
			return err
		}
		if len(page) > max {
			return errUnexpected("a page longer than its limit")
		}
		for _, u := range page {
			if err := checkUser(u, ""); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := make([]*clerkgate.User, len(page))
	for i, u := range page {
		out[i] = ConvertUser(u)
	}
	return out, nil
}

// listUsersParams is the query of one page of GET /v1/users.
type listUsersParams struct {
	clerk.APIParams
	limit, offset int
	after         string
}

// ToQuery implements clerk.Params.
func (p *listUsersParams) ToQuery() url.Values {
	q := url.Values{}
	q.Set("limit", strconv.Itoa(p.limit))
	q.Set("order_by", "created_at")
	if p.offset > 0 {
		q.Set("offset", strconv.Itoa(p.offset))
	}
	if p.after != "" {
		q.Set("starting_after", p.after)
	}
	return q
}

// userPage is the plain JSON array GET /v1/users answers.
type userPage []*clerk.User

// Read implements clerk.ResponseReader.
func (*userPage) Read(*clerk.APIResponse) {}

// UpdateUserMetadata deep-merges publicMetadata, a JSON object, into the
// user's public metadata (PATCH /v1/users/{id}/metadata: nested objects
// merge, a null value deletes its key) and returns the updated user.
func (c *Client) UpdateUserMetadata(ctx context.Context, clerkUserID string, publicMetadata json.RawMessage) (*clerkgate.User, error) {
	if !validID(clerkUserID) {
		return nil, notFound(opUpdateUserMetadata)
	}
	trimmed := bytes.TrimSpace(publicMetadata)
	if len(trimmed) == 0 || trimmed[0] != '{' || !json.Valid(trimmed) {
		return nil, clerkgate.Errorf(clerkgate.CodeInvalidRequest, "public metadata must be a JSON object")
	}
	raw := json.RawMessage(bytes.Clone(trimmed))
	var u *clerk.User
	err := c.call(ctx, opUpdateUserMetadata, func(ctx context.Context) error {
		var err error
		u, err = c.users.UpdateMetadata(ctx, clerkUserID, &user.UpdateMetadataParams{PublicMetadata: &raw})
		if err != nil {
			return err
		}
		return checkUser(u, clerkUserID)
	})
	if err != nil {
		return nil, err
	}
	return ConvertUser(u), nil
}

// BanUser bans the user in Clerk, which also ends the user's sessions.
func (c *Client) BanUser(ctx context.Context, clerkUserID string) error {
	return c.userAction(ctx, opBanUser, clerkUserID, c.users.Ban)
}

// UnbanUser lifts the user's ban in Clerk.
func (c *Client) UnbanUser(ctx context.Context, clerkUserID string) error {
	return c.userAction(ctx, opUnbanUser, clerkUserID, c.users.Unban)
}

func (c *Client) userAction(ctx context.Context, op operation, id string,
	fn func(context.Context, string) (*clerk.User, error)) error {
	if !validID(id) {
		return notFound(op)
	}
	return c.call(ctx, op, func(ctx context.Context) error {
		u, err := fn(ctx, id)
		if err != nil {
			return err
		}
		return checkUser(u, id)
	})
}

// DeleteUser deletes the user in Clerk. Clerk then sends user.deleted.
func (c *Client) DeleteUser(ctx context.Context, clerkUserID string) error {
	if !validID(clerkUserID) {
		return notFound(opDeleteUser)
	}
	return c.call(ctx, opDeleteUser, func(ctx context.Context) error {
		res, err := c.users.Delete(ctx, clerkUserID)
		if err != nil {
			return err
		}
		if !res.Deleted {
			return errUnexpected("a deletion that did not delete")
		}
		return nil
	})
}

// ConvertUser maps a Clerk user onto clerkgate.User: ClerkUserID, the
// primary email address (EmailVerified when its verification status is
// "verified"), names, image URL, public metadata (compact JSON; nil when
// absent or null), external id, banned, last sign-in (zero when never),
// ClerkUpdatedAt (Clerk's updated_at in milliseconds) and CreatedAt (Clerk's
// created_at). ID, Role, UpdatedAt and DeletedAt belong to the local store
// and stay zero. A nil user gives nil.
func ConvertUser(u *clerk.User) *clerkgate.User {
	if u == nil {
		return nil
	}
	out := &clerkgate.User{
		ClerkUserID:    u.ID,
		FirstName:      deref(u.FirstName),
		LastName:       deref(u.LastName),
		ImageURL:       deref(u.ImageURL),
		PublicMetadata: compactJSON(u.PublicMetadata),
		ExternalID:     deref(u.ExternalID),
		Banned:         u.Banned,
		LastSignInAt:   fromMillis(u.LastSignInAt),
		ClerkUpdatedAt: u.UpdatedAt,
		CreatedAt:      time.UnixMilli(u.CreatedAt).UTC(),
	}
	if u.PrimaryEmailAddressID != nil {
		for _, e := range u.EmailAddresses {
			if e != nil && e.ID == *u.PrimaryEmailAddressID {
				out.Email = e.EmailAddress
				out.EmailVerified = e.Verification != nil && e.Verification.Status == "verified"
				break
			}
		}
	}
	return out
}

// ConvertUser is the package function ConvertUser, for callers that hold a
// Client.
func (c *Client) ConvertUser(u *clerk.User) *clerkgate.User { return ConvertUser(u) }

func detailsOf(u *clerk.User) *UserDetails {
	d := &UserDetails{
		Username:     deref(u.Username),
		Locked:       u.Locked,
		LastActiveAt: fromMillis(u.LastActiveAt),
	}
	var m map[string]any
	if json.Unmarshal(u.PublicMetadata, &m) == nil {
		d.PublicMetadata = m
	}
	return d
}

// checkUser rejects an answer that cannot be the user asked for.
func checkUser(u *clerk.User, wantID string) error {
	switch {
	case u == nil || u.ID == "":
		return errUnexpected("a user without an id")
	case wantID != "" && u.ID != wantID:
		return errUnexpected("a different user than asked for")
	}
	return nil
}

// notFound is the error for an id that cannot exist in Clerk; no call is
// made for it.
func notFound(op operation) error {
	return clerkgate.Errorf(clerkgate.CodeNotFound, op.resource+" not found in Clerk")
}

// validID reports whether id can be a Clerk object id (user_..., sess_...):
// 1 to 128 letters, digits, '_' or '-'. Anything else would change the
// request path and is never sent.
func validID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for i := 0; i < len(id); i++ {
		b := id[i]
		if !('a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9' || b == '_' || b == '-') {
			return false
		}
	}
	return true
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// fromMillis converts Clerk's optional Unix milliseconds; nil is zero.
func fromMillis(ms *int64) time.Time {
	if ms == nil {
		return time.Time{}
	}
	return time.UnixMilli(*ms).UTC()
}

// compactJSON returns raw compacted into a fresh slice; nil for absent or
// null.
func compactJSON(raw json.RawMessage) json.RawMessage {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return nil
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return bytes.Clone(raw)
	}
	return buf.Bytes()
}

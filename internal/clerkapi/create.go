package clerkapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/clerk/clerk-sdk-go/v2"
	"github.com/clerk/clerk-sdk-go/v2/user"

	"github.com/clerkgate/clerkgate"
)

// The operations of this file, as Options.Observe names them.
var (
	opCreateUser = operation{"create_user", "user"}
	opFindUsers  = operation{"find_users", "user"}
)

// maxFound bounds the users a lookup by external id or email returns; one
// is expected.
const maxFound = 10

// CodeIdentifierExists is Clerk's error code for an identifier (an email
// address, a username, an external id) that another user holds already.
const CodeIdentifierExists = "form_identifier_exists"

// CreateUser creates a user in Clerk (POST /v1/users) from u: its
// ExternalID, Email (an address created through the Backend API is
// verified), FirstName, LastName and PublicMetadata (a JSON object, or
// nothing). With a PasswordDigest it imports that digest made by hasher
// ("bcrypt", for one): the user signs in with the password they had.
// Without one it sets skip_password_requirement, for instances that
// otherwise require a password. It returns the new user (see ConvertUser).
//
// A creation is not idempotent: when the call fails without an answer the
// user may exist all the same; look it up by external id before trying
// again. An identifier another user holds already is a 422 whose cause is
// an *APIError with Code CodeIdentifierExists (see IsIdentifierExists).
// Errors never contain the digest or the user's data.
func (c *Client) CreateUser(ctx context.Context, u *clerkgate.User, hasher string) (*clerkgate.User, error) {
	if u == nil {
		return nil, clerkgate.Errorf(clerkgate.CodeInvalidRequest, "no user to create")
	}
	p := &user.CreateParams{}
	if u.ExternalID != "" {
		p.ExternalID = clerk.String(u.ExternalID)
	}
	if u.Email != "" {
		p.EmailAddresses = &[]string{u.Email}
	}
	if u.FirstName != "" {
		p.FirstName = clerk.String(u.FirstName)
	}
	if u.LastName != "" {
		p.LastName = clerk.String(u.LastName)
	}
	if md := bytes.TrimSpace(u.PublicMetadata); len(md) > 0 && !bytes.Equal(md, []byte("null")) {
		if md[0] != '{' || !json.Valid(md) {
			return nil, clerkgate.Errorf(clerkgate.CodeInvalidRequest, "public metadata must be a JSON object")
		}
		raw := json.RawMessage(bytes.Clone(md))
		p.PublicMetadata = &raw
	}
	switch {
	case u.PasswordDigest != "" && hasher == "":
		return nil, clerkgate.Errorf(clerkgate.CodeInvalidRequest, "a password digest needs its hasher")
	case u.PasswordDigest != "":
		p.PasswordDigest = clerk.String(u.PasswordDigest)
		p.PasswordHasher = clerk.String(hasher)
	default:
		p.SkipPasswordRequirement = clerk.Bool(true)
	}
	var created *clerk.User
	err := c.call(ctx, opCreateUser, func(ctx context.Context) error {
		var err error
		created, err = c.users.Create(ctx, p)
		if err != nil {
			return err
		}
		return checkUser(created, "")
	})
	if err != nil {
		return nil, err
	}
	return ConvertUser(created), nil
}

// IsIdentifierExists reports whether err is Clerk's answer that an
// identifier of the user to create (its email address, its external id)
// belongs to another user already.
func IsIdentifierExists(err error) bool {
	var e *APIError
	return errors.As(err, &e) && e.Code == CodeIdentifierExists
}

// RetryAfter returns the wait Clerk asked for with a 429 answer (its
// Retry-After), and whether err is such an answer at all; the wait is 0
// when the answer named none.
func RetryAfter(err error) (time.Duration, bool) {
	var e *APIError
	if errors.As(err, &e) && e.Status == http.StatusTooManyRequests {
		return e.RetryAfter, true
	}
	return 0, false
}

// UsersByExternalID returns the Clerk users whose external_id is
// externalID: Clerk keeps external ids unique, so none or one.
func (c *Client) UsersByExternalID(ctx context.Context, externalID string) ([]*clerkgate.User, error) {
	if externalID == "" {
		return nil, nil
	}
	return c.findUsers(ctx, "external_id", externalID)
}

// UsersByEmail returns the Clerk users that hold the email address email,
// as their primary address or another one (Clerk keeps addresses unique,
// so none or one). The users come with their primary address only: compare
// it to tell which.
func (c *Client) UsersByEmail(ctx context.Context, email string) ([]*clerkgate.User, error) {
	if email == "" {
		return nil, nil
	}
	return c.findUsers(ctx, "email_address", email)
}

// findUsers lists the users whose param equals value.
func (c *Client) findUsers(ctx context.Context, param, value string) ([]*clerkgate.User, error) {
	return c.usersPage(ctx, opFindUsers, &findUsersParams{param: param, value: value}, maxFound)
}

// findUsersParams is the query of a lookup through GET /v1/users.
type findUsersParams struct {
	clerk.APIParams
	param, value string
}

// ToQuery implements clerk.Params.
func (p *findUsersParams) ToQuery() url.Values {
	q := url.Values{}
	q.Set(p.param, p.value)
	q.Set("limit", strconv.Itoa(maxFound))
	return q
}

// Package storecheck holds the input rules that the store interfaces of
// the root package (UserStore, LinkStore, UserEventStore, MembershipStore,
// DenialStore, WebhookStore, SecurityEventStore) set for every
// implementation, so that the SQLite and PostgreSQL stores refuse the same
// arguments with the same errors. A refusal is a *clerkgate.Error with
// CodeInvalidRequest and a message safe to show a client.
//
// Only the rules shared by every engine live here; what one engine alone
// cannot store it reports itself, when it maps its own errors.
package storecheck

import (
	"crypto/sha256"
	"encoding/json"
	"strings"
	"unicode/utf8"

	clerkgate "github.com/clerkgate/clerkgate"
)

// Invalid is a CodeInvalidRequest error with a client-safe message.
func Invalid(message string) error {
	return &clerkgate.Error{Code: clerkgate.CodeInvalidRequest, Message: message}
}

// NotFound is a CodeNotFound error with a client-safe message.
func NotFound(message string) error {
	return &clerkgate.Error{Code: clerkgate.CodeNotFound, Message: message}
}

// UserNotFound is the answer for a user that is not there.
func UserNotFound() error { return NotFound("user not found") }

// Conflict is a CodeConflict error with a client-safe message.
func Conflict(message string) error {
	return &clerkgate.Error{Code: clerkgate.CodeConflict, Message: message}
}

// OneUnlinked is the answer of UnlinkedUserByEmail given the users found:
// the one, CodeNotFound for none, CodeConflict for several (never a guess).
func OneUnlinked(found []*clerkgate.User) (*clerkgate.User, error) {
	switch len(found) {
	case 0:
		return nil, UserNotFound()
	case 1:
		return found[0], nil
	}
	return nil, Conflict("several users without a Clerk id have this email")
}

// Page sizes of the stores' listings.
const (
	DefaultLimit = 50
	MaxLimit     = 200
)

// Limit is the page size of a listing asked for n: DefaultLimit for 0, n
// itself up to MaxLimit, an error otherwise.
func Limit(n int) (int, error) {
	switch {
	case n == 0:
		return DefaultLimit, nil
	case n < 0 || n > MaxLimit:
		return 0, Invalid("limit must be between 1 and 200")
	}
	return n, nil
}

// Text reports whether s is text every store can hold and compare:
// valid UTF-8 without NUL (which PostgreSQL's text rejects).
func Text(s string) bool {
	return utf8.ValidString(s) && !strings.ContainsRune(s, 0)
}

// User checks what SaveClerkUser and SaveClerkUserEvent require of their
// user.
func User(u *clerkgate.User) error {
	if u == nil || u.ClerkUserID == "" {
		return Invalid("a user to save needs a Clerk user id")
	}
	return fields(u)
}

// LocalUser checks what CreateLocalUser requires of its argument.
func LocalUser(u *clerkgate.User) error {
	switch {
	case u == nil:
		return Invalid("no user to create")
	case u.ClerkUserID != "" || u.ClerkUpdatedAt != 0:
		return Invalid("a local user has no Clerk id or Clerk version")
	case !Text(u.PasswordDigest):
		return Invalid("the password digest must be UTF-8 text without NUL characters")
	}
	return fields(u)
}

// fields checks that the fields of u are values every store can hold.
func fields(u *clerkgate.User) error {
	if len(u.PublicMetadata) > 0 && !json.Valid(u.PublicMetadata) {
		return Invalid("public metadata is not valid JSON")
	}
	for _, s := range []string{u.ID, u.ClerkUserID, u.Email, u.FirstName, u.LastName, u.ImageURL, u.Role, u.ExternalID} {
		if !Text(s) {
			return Invalid("user fields must be UTF-8 text without NUL characters")
		}
	}
	return nil
}

// Denial checks what DenySession requires of its argument.
func Denial(d clerkgate.SessionDenial) error {
	if d.SessionID == "" {
		return Invalid("a session denial needs a session id")
	}
	for _, s := range []string{d.SessionID, d.ClerkUserID, d.Reason} {
		if !Text(s) {
			return Invalid("session denial fields must be UTF-8 text without NUL characters")
		}
	}
	return nil
}

// Membership checks what SaveMembership requires of its argument.
func Membership(m clerkgate.Membership) error {
	if m.OrgID == "" || m.ClerkUserID == "" {
		return Invalid("a membership needs an organization id and a Clerk user id")
	}
	for _, s := range []string{m.OrgID, m.ClerkUserID, m.OrgSlug, m.Role} {
		if !Text(s) {
			return Invalid("membership fields must be UTF-8 text without NUL characters")
		}
	}
	return nil
}

// SecurityEvent checks what SaveSecurityEvent requires of its argument.
func SecurityEvent(e clerkgate.SecurityEvent) error {
	switch {
	case e.Kind == "":
		return Invalid("a security event needs a kind")
	case len(e.Detail) > 0 && !json.Valid(e.Detail):
		return Invalid("security event detail is not valid JSON")
	}
	for _, s := range []string{e.ID, e.Kind, e.IP, e.UserID, e.RequestID} {
		if !Text(s) {
			return Invalid("security event fields must be UTF-8 text without NUL characters")
		}
	}
	return nil
}

// WebhookRecord checks what SaveWebhookRecord and SaveClerkUserEvent
// require of their webhook record.
func WebhookRecord(r clerkgate.WebhookRecord) error {
	switch {
	case r.MessageID == "":
		return Invalid("a webhook record needs a message id")
	case len(r.BodySHA256) != sha256.Size:
		return Invalid("a webhook record needs the SHA-256 digest of the body")
	case !Text(r.MessageID) || !Text(r.EventType):
		return Invalid("webhook record fields must be UTF-8 text without NUL characters")
	}
	return nil
}

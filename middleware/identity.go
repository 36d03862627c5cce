package middleware

import (
	"context"
	"slices"
	"strings"

	"github.com/clerkgate/clerkgate/verify"
)

// Identity is the caller of a request that a wrapper of a Middleware let
// through. It is shared with the Middleware's other wrappers of the same
// request: treat it, and the claims it points to, as read-only.
type Identity struct {
	UserID    string // the Clerk user id (sub)
	SessionID string // the Clerk session id (sid)
	// Role is the application role (Options.RoleFunc, or the organization
	// role mapping).
	Role string
	// Permissions are the role's permissions plus the session's
	// organization permissions, sorted (or as Options.RoleFunc returns
	// them); they may hold wildcards ("*", "notes:*"): ask HasPermission
	// rather than searching them.
	Permissions []string
	// Org is the session's active organization; nil when none.
	Org *verify.Org
	// Actor is who impersonates the user; nil when nobody does. Only routes
	// that allow impersonation ever see a non-nil Actor.
	Actor *verify.Actor
	// Claims are the verified claims of the session token.
	Claims *verify.Claims
}

// HasPermission reports whether the identity has perm: granted exactly, by
// "*", or by a prefix grant such as "notes:*" (which grants "notes:read"
// and "notes:drafts:read", but not "notes" itself).
func (id *Identity) HasPermission(perm string) bool {
	return id != nil && granted(id.Permissions, perm)
}

// HasRole reports whether the identity's role is one of roles.
func (id *Identity) HasRole(roles ...string) bool {
	return id != nil && id.Role != "" && slices.Contains(roles, id.Role)
}

// HasOrgRole reports whether the session has an active organization in
// which the user's role ("org:admin") is one of roles.
func (id *Identity) HasOrgRole(roles ...string) bool {
	return id != nil && id.Org != nil && id.Org.Role != "" && slices.Contains(roles, id.Org.Role)
}

// granted reports whether the permissions in have need, with the rules of
// clerkgate's policy: exact, "*", or "prefix:*".
func granted(have []string, need string) bool {
	if need == "" {
		return false
	}
	for _, g := range have {
		if g == need || g == "*" {
			return true
		}
		if prefix, ok := strings.CutSuffix(g, "*"); ok && strings.HasSuffix(prefix, ":") && strings.HasPrefix(need, prefix) {
			return true
		}
	}
	return false
}

type identityKey struct{}

// identityEntry remembers which Middleware authenticated the caller, so
// that only its own wrappers reuse the Identity.
type identityEntry struct {
	m  *Middleware
	id *Identity
}

// FromContext returns the caller that a wrapper of a Middleware put in ctx.
func FromContext(ctx context.Context) (*Identity, bool) {
	e, ok := ctx.Value(identityKey{}).(*identityEntry)
	if !ok {
		return nil, false
	}
	return e.id, true
}

// MustFromContext is FromContext for handlers that only run behind a
// wrapper of a Middleware; it panics when ctx holds no Identity, which is a
// routing mistake, never a client's.
func MustFromContext(ctx context.Context) *Identity {
	id, ok := FromContext(ctx)
	if !ok {
		panic("middleware: no Identity in the context: the handler is not behind a Require wrapper")
	}
	return id
}

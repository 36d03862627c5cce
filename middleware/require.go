package middleware

import (
	"context"
	"fmt"
	"github.com/clerkgate/clerkgate/verify"
	"net/http"
	"slices"
	"time"
)

// Factor is the kind of factor a Reverification asks for, named as Clerk
// names the levels.
type Factor string

// The factors of a Reverification.
const (
	// SecondFactor is the second factor (an authenticator app, a backup
	// code): the second entry of the token's fva claim.
	SecondFactor Factor = "second_factor"
	// FirstFactor is the first factor (a password, an email code): the
	// first entry of fva.
	FirstFactor Factor = "first_factor"
)

// Reverification asks that the session's factor was verified within
// MaxAge. The zero value asks nothing.
type Reverification struct {
	// MaxAge is the largest age of the last verification of Factor; zero
	// means no reverification. A factor is fresh when the age the token
	// states (fva: whole minutes, rounded down, when the token was issued)
	// plus the time since the token was issued is under MaxAge, which is
	// Clerk's own rule for a whole number of minutes.
	MaxAge time.Duration
	// Factor is the factor that must be fresh; empty means SecondFactor.
	// A factor the user never verified (fva entry -1), or a token without
	// fva, is never fresh.
	Factor Factor
}

func (rv Reverification) level() string {
	if rv.Factor == "" {
		return string(SecondFactor)
	}
	return string(rv.Factor)
}

// afterMinutes is MaxAge in whole minutes, rounded up and at least 1, for
// Clerk's hint (which needs a positive number of minutes).
func (rv Reverification) afterMinutes() int64 {
	return max(1, int64((rv.MaxAge+time.Minute-1)/time.Minute))
}

// Fresh reports whether the factor of the session with claims c was
// verified within MaxAge at now: the fva entry (minutes at the token's
// issue) plus the time since iat.
func (rv Reverification) Fresh(c *verify.Claims, now time.Time) bool {
	fa := c.FactorAge
	if fa == nil {
		return false
	}
	minutes := fa.Second
	if rv.level() == string(FirstFactor) {
		minutes = fa.First
	}
	if minutes < 0 {
		return false
	}
	age := time.Duration(minutes) * time.Minute
	if iat := c.IssuedAt; !iat.IsZero() && now.After(iat) {
		age += now.Sub(iat)
	}
	return age < rv.MaxAge
}

// RequireOptions is what a route demands of the caller, for Require. The
// zero value demands a valid, active, not impersonated session.
type RequireOptions struct {
	// Roles, when not empty, are the application roles allowed (any of).
	Roles []string
	// Permissions, when not empty, are the permissions needed (all of).
	Permissions []string
	// OrgRoles, when not empty, are the roles in the active organization
	// allowed (any of), such as "org:admin"; a session with no active
	// organization is refused.
	OrgRoles []string
	// AllowPending accepts pending sessions (Clerk's sts=pending, a user
	// who must still choose an organization), which are otherwise refused
	// with 401 session_pending.
	AllowPending bool
	// AllowImpersonation accepts impersonated sessions (an act claim),
	// which are otherwise refused with 403 forbidden. Identity.Actor says
	// who impersonates.
	AllowImpersonation bool
	// Reverify, when its MaxAge is set, refuses sessions whose factor is
	// older with 403 reverification_required and Clerk's hint.
	Reverify Reverification
}

// check panics on options that are a programming mistake: a route that
// could never admit anyone, or an unknown factor.
func (o RequireOptions) check(caller string) {
	for _, list := range []struct {
		name string
		v    []string
	}{{"Roles", o.Roles}, {"Permissions", o.Permissions}, {"OrgRoles", o.OrgRoles}} {
		if slices.Contains(list.v, "") {
			panic(fmt.Sprintf("middleware: %s: empty string in %s", caller, list.name))
		}
	}
	if o.Reverify.MaxAge < 0 {
		panic(fmt.Sprintf("middleware: %s: negative reverification MaxAge %s", caller, o.Reverify.MaxAge))
	}
	switch o.Reverify.Factor {
	case "", FirstFactor, SecondFactor:
	default:
		panic(fmt.Sprintf("middleware: %s: unknown reverification factor %q", caller, o.Reverify.Factor))
	}
}

// Require returns a wrapper that lets a request through to next when its
// session token is valid and the caller meets o; otherwise it answers with
// the error handler: 401 for any authentication failure (checked first),
// 400 for ambiguous credentials, 503 when no verification key can be had,
// and 403 when the caller is authenticated but not allowed. The checks run
// in the order: authentication (with pending sessions), impersonation,
// roles, organization roles, permissions, reverification.
//
// Wrappers of one Middleware may be stacked: the inner ones reuse the
// Identity the outer one authenticated, and each applies all of its own
// options (so an inner RequireSession still refuses the pending session an
// outer Require with AllowPending let in).
//
// Require panics if o lists an empty role or permission, a negative MaxAge
// or an unknown Factor.
func (m *Middleware) Require(o RequireOptions) func(http.Handler) http.Handler {
	o.check("Require")
	o.Roles = slices.Clone(o.Roles)
	o.Permissions = slices.Clone(o.Permissions)
	o.OrgRoles = slices.Clone(o.OrgRoles)
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			r = m.withRequestID(w, r)
			id, reused, err := m.authenticate(r, o.AllowPending)
			if err != nil {
				m.fail(w, r, err)
				return
			}
			if !reused {
				r = r.WithContext(context.WithValue(r.Context(), identityKey{}, &identityEntry{m: m, id: id}))
			}
			if err := m.authorize(id, &o); err != nil {
				m.fail(w, r, err)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// authorize applies o to an authenticated caller.
func (m *Middleware) authorize(id *Identity, o *RequireOptions) error {
	switch {
	case id.Actor != nil && !o.AllowImpersonation:
		return ErrImpersonated
	case len(o.Roles) > 0 && !id.HasRole(o.Roles...):
		return ErrRoleNotAllowed
	case len(o.OrgRoles) > 0 && id.Org == nil:
		return ErrNoActiveOrganization
	case len(o.OrgRoles) > 0 && !id.HasOrgRole(o.OrgRoles...):
		return ErrOrgRoleNotAllowed
	}
	for _, p := range o.Permissions {
		if !id.HasPermission(p) {
			return ErrPermissionMissing
		}
	}
	if o.Reverify.MaxAge > 0 && !o.Reverify.Fresh(id.Claims, m.now()) {
		return &ReverificationError{Required: o.Reverify}
	}
	return nil
}

// RequireSession lets through requests with a valid, active, not
// impersonated session: Require(RequireOptions{}) applied to next.
func (m *Middleware) RequireSession(next http.Handler) http.Handler {
	return m.Require(RequireOptions{})(next)
}

// RequireRole returns a wrapper that lets through callers whose application
// role is one of roles. Like every wrapper but a Require that says
// otherwise, it refuses pending and impersonated sessions. It panics when
// roles is empty or holds "".
func (m *Middleware) RequireRole(roles ...string) func(http.Handler) http.Handler {
	mustList("RequireRole", roles)
	return m.Require(RequireOptions{Roles: roles})
}

// RequirePermission returns a wrapper that lets through callers who have
// every one of perms (see Identity.HasPermission), and refuses pending and
// impersonated sessions. It panics when perms is empty or holds "".
func (m *Middleware) RequirePermission(perms ...string) func(http.Handler) http.Handler {
	mustList("RequirePermission", perms)
	return m.Require(RequireOptions{Permissions: perms})
}

// RequireOrgRole returns a wrapper that lets through callers whose role in
// the session's active organization is one of roles, such as "org:admin".
// A session without an active organization is refused (403), and so are
// pending and impersonated sessions. It panics when roles is empty or
// holds "".
func (m *Middleware) RequireOrgRole(roles ...string) func(http.Handler) http.Handler {
	mustList("RequireOrgRole", roles)
	return m.Require(RequireOptions{OrgRoles: roles})
}

// Reverify returns a wrapper that lets through callers who verified factor
// within maxAge (see Reverification) and answers others 403
// reverification_required with Clerk's reverification hint, so that Clerk's
// frontend can prompt the user and retry. It refuses pending and
// impersonated sessions too. It panics when maxAge is not positive or
// factor is unknown.
func (m *Middleware) Reverify(maxAge time.Duration, factor Factor) func(http.Handler) http.Handler {
	if maxAge <= 0 {
		panic(fmt.Sprintf("middleware: Reverify: maxAge %s is not positive", maxAge))
	}
	return m.Require(RequireOptions{Reverify: Reverification{MaxAge: maxAge, Factor: factor}})
}

func mustList(caller string, list []string) {
	if len(list) == 0 {
		panic("middleware: " + caller + " needs at least one argument")
	}
	if slices.Contains(list, "") {
		panic("middleware: " + caller + ": empty argument")
	}
}

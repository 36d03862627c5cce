package httpapi

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/clerkgate/clerkgate"
	"github.com/clerkgate/clerkgate/internal/identity"
	"github.com/clerkgate/clerkgate/internal/policy"
	"github.com/clerkgate/clerkgate/middleware"
	"github.com/clerkgate/clerkgate/verify"
)

// Kinds of Principal, as sent upstream in X-Clerkgate-Auth.
const (
	PrincipalSession = "session"
	PrincipalLegacy  = "legacy"
	PrincipalMachine = "machine"
)

// Principal is the caller of a proxied request (or of the request a
// forward-auth call asks about), once authenticated and authorized.
type Principal struct {
	// Kind is PrincipalSession, PrincipalLegacy or PrincipalMachine.
	Kind string
	// Identity is the session's caller (Kind session only).
	Identity *identity.Identity
	// User is the local user (sessions and legacy tokens); nil for machines.
	User *clerkgate.User
	// Subject is the Clerk user id of a session, the local user id of a
	// legacy token, or the machine's subject.
	Subject     string
	Role        string   // "" for machines
	Permissions []string // granted permissions; a machine's are its scopes
	Scopes      []string // machines only
	MachineKind string   // machines only: Machine.Kind
	OrgID       string
	OrgRole     string
	SessionID   string
}

// Machine is a verified Clerk machine credential: an API key (ak_...), an
// M2M token (mt_...) or an OAuth access token (oat_...).
type Machine struct {
	Subject string   // who the credential acts for: a machine or user id
	Scopes  []string // what it may do
	Kind    string   // "api_key", "m2m_token", "oauth_token"
}

// MachineVerifier verifies machine credentials. An error carries a contract
// code (clerkgate.Coder): token_invalid for a bad or revoked credential,
// unavailable when Clerk cannot be asked.
type MachineVerifier interface {
	VerifyMachine(ctx context.Context, token string) (*Machine, error)
}

// LegacyVerifier verifies the application's legacy tokens (SPEC §8).
// IsLegacy tells, cheaply and without verifying, whether a token is one
// (rather than a Clerk session token); VerifyLegacy returns the local user
// id it stands for, or an error with a contract code (token_invalid,
// token_expired, legacy_token_sunset, ...).
type LegacyVerifier interface {
	IsLegacy(token string) bool
	VerifyLegacy(ctx context.Context, token string) (localUserID string, err error)
}

// machinePrefixes are the prefixes of Clerk machine credentials.
var machinePrefixes = []string{"ak_", "mt_", "oat_"}

func isMachineToken(tok string) bool {
	for _, p := range machinePrefixes {
		if strings.HasPrefix(tok, p) {
			return true
		}
	}
	return false
}

// errNotAllowed is the refusal of a caller the route's requirement does
// not admit.
var errNotAllowed = &clerkgate.Error{Code: clerkgate.CodeForbidden, Message: "your role or permissions do not allow this request"}

// errMachineReverify: a route that asks for a recently verified factor
// cannot be satisfied by a machine.
var errMachineReverify = &clerkgate.Error{Code: clerkgate.CodeForbidden, Message: "this route needs a signed-in user who verified a factor recently"}

// rateLimitedError is a refusal of an address that failed too often.
type rateLimitedError struct{ wait time.Duration }

func (e *rateLimitedError) Error() string { return "rate limited" }

func (e *rateLimitedError) ErrorCode() clerkgate.Code { return clerkgate.CodeRateLimited }

// authenticateRoute decides who the caller of r is and whether route lets
// them in. Anonymous routes need nothing: they return a session principal
// when the request carries a valid, active, not impersonated session (so
// that the upstream may personalize), and nil otherwise, never an error
// (a stale cookie must not break a public page). Every other route needs a
// session token, or a legacy token when a LegacyVerifier is configured, or,
// with machines: true and a MachineVerifier, a machine credential.
// Authentication comes first (401, and the per-address failure limit as
// for the service's own endpoints), then impersonation, the route's
// requirement and its reverification (403). ip is the client's address,
// for the failure limit and security events. Answer an error with
// writeRouteError.
func (s *server) authenticateRoute(r *http.Request, route *policy.Route, ip string) (*Principal, error) {
	if route.Anonymous {
		return s.optionalSession(r), nil
	}
	if wait := s.limiter.blocked(ip, s.now); wait > 0 {
		s.observeAuth("none", "rejected", "rate_limited")
		return nil, &rateLimitedError{wait: wait}
	}
	tok, err := verify.TokenFromRequest(r)
	if err != nil {
		s.observeAuth("none", "rejected", reasonOf(err))
		s.authFailed(r, ip, err)
		return nil, err
	}
	switch {
	case route.Machines && s.machines != nil && isMachineToken(tok):
		return s.machinePrincipal(r, ip, route, tok)
	case s.legacy != nil && s.legacy.IsLegacy(tok):
		return s.legacyPrincipal(r, ip, route, tok)
	}
	id, err := s.verifySession(r, tok, verify.Policy{AllowPending: route.AllowPending}, nil)
	if err != nil {
		s.observeAuth("session", "rejected", reasonOf(err))
		s.authFailed(r, ip, err)
		return nil, err
	}
	s.observeAuth("session", "ok", "")
	p := sessionPrincipal(id)
	if id.Claims.Actor != nil && !route.AllowImpersonation {
		return p, middleware.ErrImpersonated
	}
	if !route.Require.Satisfied(p.Role, p.Permissions, p.OrgRole) {
		return p, errNotAllowed
	}
	if rv := route.Reverify; rv != nil {
		req := middleware.Reverification{MaxAge: rv.MaxAge, Factor: middleware.SecondFactor}
		if rv.Factor == policy.FactorFirst {
			req.Factor = middleware.FirstFactor
		}
		if !req.Fresh(id.Claims, s.now()) {
			return p, &middleware.ReverificationError{Required: req}
		}
	}
	return p, nil
}

// verifySession verifies a session token and resolves its caller into
// into, or into a new Identity when into is nil.
func (s *server) verifySession(r *http.Request, tok string, p verify.Policy, into *identity.Identity) (*identity.Identity, error) {
	start := time.Now()
	claims, err := s.verifier.VerifyWith(r.Context(), tok, p)
	if s.metrics != nil {
		s.metrics.AuthVerifyDuration.Observe(time.Since(start).Seconds())
	}
	if err != nil {
		return nil, err
	}
	if into == nil {
		into = new(identity.Identity)
	}
	if err := s.identity.ResolveInto(r.Context(), claims, into); err != nil {
		return nil, err
	}
	return into, nil
}

// optionalSession is the caller of an anonymous route: a valid, active,
// not impersonated session, or nil. Failures are not counted or recorded.
func (s *server) optionalSession(r *http.Request) *Principal {
	tok, err := verify.TokenFromRequest(r)
	if err != nil || isMachineToken(tok) || (s.legacy != nil && s.legacy.IsLegacy(tok)) {
		return nil
	}
	id, err := s.verifySession(r, tok, verify.Policy{}, nil)
	if err != nil || id.Claims.Actor != nil {
		return nil
	}
	return sessionPrincipal(id)
}

func sessionPrincipal(id *identity.Identity) *Principal {
	p := &Principal{
		Kind:        PrincipalSession,
		Identity:    id,
		User:        id.User,
		Subject:     id.Claims.Subject,
		Role:        id.Role,
		Permissions: id.Permissions,
		SessionID:   id.Claims.SessionID,
	}
	if o := id.Org; o != nil { // the token's, corrected by a later membership change
		p.OrgID, p.OrgRole = o.ID, o.Role
	}
	return p
}

// machinePrincipal verifies a machine credential. A machine has no role and
// no organization: its scopes stand for permissions, so a route lets it in
// when its requirement lists no roles or org_roles and every permission is
// among the scopes (wildcards as for users).
func (s *server) machinePrincipal(r *http.Request, ip string, route *policy.Route, tok string) (*Principal, error) {
	m, err := s.machines.VerifyMachine(r.Context(), tok)
	if err == nil && (m == nil || m.Subject == "") {
		err = &clerkgate.Error{Code: clerkgate.CodeTokenInvalid, Message: "the machine credential is not valid"}
	}
	if err != nil {
		err = authError(err)
		s.observeAuth("machine", "rejected", reasonOf(err))
		s.authFailed(r, ip, err)
		return nil, err
	}
	s.observeAuth("machine", "ok", "")
	p := &Principal{Kind: PrincipalMachine, Subject: m.Subject, Scopes: m.Scopes, Permissions: m.Scopes, MachineKind: m.Kind}
	switch {
	case !route.Require.Satisfied("", m.Scopes, ""):
		return p, errNotAllowed
	case route.Reverify != nil:
		return p, errMachineReverify
	}
	return p, nil
}

// legacyPrincipal verifies a legacy token and loads its local user, who
// must be neither deleted nor banned. Its role is the stored one.
func (s *server) legacyPrincipal(r *http.Request, ip string, route *policy.Route, tok string) (*Principal, error) {
	u, err := s.legacyUser(r.Context(), tok)
	if err != nil {
		s.observeAuth("legacy", "rejected", reasonOf(err))
		s.authFailed(r, ip, err)
		return nil, err
	}
	s.observeAuth("legacy", "ok", "")
	pol := s.policy()
	role := u.Role
	if role == "" {
		role = pol.Roles.Default
	}
	p := &Principal{Kind: PrincipalLegacy, User: u, Subject: u.ID, Role: role, Permissions: pol.PermissionsFor(role, nil)}
	switch {
	case !route.Require.Satisfied(p.Role, p.Permissions, ""):
		return p, errNotAllowed
	case route.Reverify != nil: // a legacy token states no factor ages
		rv := middleware.Reverification{MaxAge: route.Reverify.MaxAge, Factor: middleware.SecondFactor}
		if route.Reverify.Factor == policy.FactorFirst {
			rv.Factor = middleware.FirstFactor
		}
		return p, &middleware.ReverificationError{Required: rv}
	}
	return p, nil
}

func (s *server) legacyUser(ctx context.Context, tok string) (*clerkgate.User, error) {
	id, err := s.legacy.VerifyLegacy(ctx, tok)
	if err != nil {
		return nil, authError(err)
	}
	if s.store == nil {
		return nil, &clerkgate.Error{Code: clerkgate.CodeUnavailable, Message: "user store unavailable"}
	}
	u, err := s.store.UserByID(ctx, id)
	switch {
	case clerkgate.ErrorCode(err) == clerkgate.CodeNotFound:
		return nil, &clerkgate.Error{Code: clerkgate.CodeTokenInvalid, Message: "the token's user does not exist"}
	case err != nil:
		return nil, &clerkgate.Error{Code: clerkgate.CodeUnavailable, Message: "user store unavailable", Err: err}
	case u.Deleted() || u.Banned:
		return nil, &clerkgate.Error{Code: clerkgate.CodeSessionRevoked, Message: "the user may no longer sign in"}
	}
	return u, nil
}

// authError keeps a verifier's contract code and turns anything without
// one into token_invalid: a credential a hook cannot account for is not
// valid, and never a 500.
func authError(err error) error {
	var c clerkgate.Coder
	if errors.As(err, &c) && c.ErrorCode().Valid() {
		return err
	}
	return &clerkgate.Error{Code: clerkgate.CodeTokenInvalid, Message: "the credential is not valid", Err: err}
}

// writeRouteError answers an error of authenticateRoute.
func writeRouteError(w http.ResponseWriter, r *http.Request, err error) {
	var rl *rateLimitedError
	var re *middleware.ReverificationError
	switch {
	case errors.As(err, &rl):
		w.Header().Set("Retry-After", strconv.Itoa(int(rl.wait.Seconds())+1))
		writeProblem(w, r, &clerkgate.Error{Code: clerkgate.CodeRateLimited, Message: "too many failed authentications from this address; retry later"})
	case errors.As(err, &re):
		middleware.WriteError(w, r, err)
	default:
		writeProblem(w, r, err)
	}
}

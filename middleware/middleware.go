package middleware

import (
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/clerkgate/clerkgate"
	"github.com/clerkgate/clerkgate/verify"
)

// Source is a set of places a Middleware looks for the session token.
type Source uint8

// The token sources. Combine them with |; the zero Source means both.
const (
	// SourceHeader is "Authorization: Bearer <token>" (scheme matched
	// without regard to case).
	SourceHeader Source = 1 << iota
	// SourceCookie is the __session cookie, which Clerk's frontend sets.
	SourceCookie

	sourceBoth = SourceHeader | SourceCookie
)

// DefaultRole is the role of a session that no rule maps to another role.
const DefaultRole = "member"

// DefaultOrgRoles returns the default mapping of organization roles to
// application roles, as clerkgate's built-in policy has it:
// "org:admin" → "admin" and "org:member" → "member".
func DefaultOrgRoles() map[string]string {
	return map[string]string{"org:admin": "admin", "org:member": "member"}
}

// DefaultPermissions returns the default permissions of the application
// roles, as clerkgate's built-in policy has them: "admin" has "*" (every
// permission), "member" has "profile:read" and "profile:write".
func DefaultPermissions() map[string][]string {
	return map[string][]string{
		"admin":  {"*"},
		"member": {"profile:read", "profile:write"},
	}
}

// Options configures a Middleware. Only Verifier is required; the zero value
// of every other field gives the documented default.
type Options struct {
	// Verifier checks session tokens; required. Its Options.DenyList, when
	// set, makes revoked sessions and banned users fail at once.
	Verifier *verify.Verifier

	// Sources says where the token is read; zero means SourceHeader and
	// then SourceCookie, as Clerk's SDKs do. A request that has both uses
	// the header.
	Sources Source

	// RoleFunc, when set, gives the application role and the permissions
	// of a verified session, replacing OrgRoles, Permissions and
	// DefaultRole. It must be fast and safe for concurrent use, and must
	// not change the claims.
	RoleFunc func(*verify.Claims) (role string, permissions []string)
	// OrgRoles maps the role in the session's active organization
	// ("org:admin") to an application role. Nil means DefaultOrgRoles; an
	// empty map maps nothing.
	OrgRoles map[string]string
	// DefaultRole is the role of a session OrgRoles does not map; empty
	// means DefaultRole ("member").
	DefaultRole string
	// Permissions maps an application role to its permissions; "*" grants
	// every permission and "x:*" every permission that starts with "x:".
	// The token's organization permissions are added to the role's. Nil
	// means DefaultPermissions; an empty map grants nothing but the
	// organization permissions.
	Permissions map[string][]string

	// ErrorHandler, when set, answers every refusal instead of WriteError.
	// err carries a clerkgate code (clerkgate.ErrorCode); for a 403 the
	// request's context already holds the caller's Identity.
	ErrorHandler func(w http.ResponseWriter, r *http.Request, err error)

	// Logger, when set, gets one line per refused request (code, reason,
	// method, path, request id and, on a 403, the user and session ids;
	// never a token, cookie or query string): at Debug for requests without
	// credentials, Info for other refusals, Warn for 503 and Error for 500.
	Logger *slog.Logger

	// DisableRequestID leaves X-Request-Id alone, for applications that
	// assign request ids themselves. Problem documents then carry the
	// X-Request-Id the application has already set on the response, if any.
	DisableRequestID bool

	// Realm is the realm of the WWW-Authenticate challenge; empty means
	// "clerkgate".
	Realm string

	// Now is the clock used to age the factor verifications of a session
	// (see Reverification); nil means time.Now. Token expiry follows the
	// Verifier's own clock.
	Now func() time.Time
}

// Middleware guards net/http handlers with Clerk session tokens. Create one
// with New; it is safe for concurrent use.
type Middleware struct {
	v            *verify.Verifier
	sources      Source
	roleFunc     func(*verify.Claims) (string, []string)
	errorHandler func(http.ResponseWriter, *http.Request, error)
	log          *slog.Logger
	noRequestID  bool
	realm        string
	now          func() time.Time
}

// New returns a Middleware configured by opts.
func New(opts Options) (*Middleware, error) {
	var problems []string
	if opts.Verifier == nil {
		problems = append(problems, "a Verifier is required")
	}
	if opts.Sources&^sourceBoth != 0 {
		problems = append(problems, fmt.Sprintf("the Sources %#x are not a combination of SourceHeader and SourceCookie", uint8(opts.Sources)))
	}
	if !validRealm(opts.Realm) {
		problems = append(problems, "the Realm must be printable ASCII without quotes or backslashes")
	}
	if len(problems) > 0 {
		return nil, errors.New("middleware: invalid options: " + strings.Join(problems, "; "))
	}
	m := &Middleware{
		v:            opts.Verifier,
		sources:      opts.Sources,
		roleFunc:     opts.RoleFunc,
		errorHandler: opts.ErrorHandler,
		log:          opts.Logger,
		noRequestID:  opts.DisableRequestID,
		realm:        opts.Realm,
		now:          opts.Now,
	}
	if m.sources == 0 {
		m.sources = sourceBoth
	}
	if m.roleFunc == nil {
		m.roleFunc = orgRoleFunc(opts.OrgRoles, opts.DefaultRole, opts.Permissions)
	}
	if m.errorHandler == nil {
		m.errorHandler = m.writeError
	}
	if m.realm == "" {
		m.realm = defaultRealm
	}
	if m.now == nil {
		m.now = time.Now
	}
	return m, nil
}

// validRealm reports whether realm can be a quoted-string as it is.
func validRealm(realm string) bool {
	for i := 0; i < len(realm); i++ {
		if c := realm[i]; c < ' ' || c > '~' || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// orgRoleFunc is the default RoleFunc: the active organization's role
// mapped by orgRoles, else def; the role's permissions plus the
// organization permissions of the token, sorted and without repeats.
func orgRoleFunc(orgRoles map[string]string, def string, perms map[string][]string) func(*verify.Claims) (string, []string) {
	if orgRoles == nil {
		orgRoles = DefaultOrgRoles()
	} else {
		orgRoles = maps.Clone(orgRoles)
	}
	if def == "" {
		def = DefaultRole
	}
	if perms == nil {
		perms = DefaultPermissions()
	} else {
		cp := make(map[string][]string, len(perms))
		for r, p := range perms {
			cp[r] = slices.Clone(p)
		}
		perms = cp
	}
	return func(c *verify.Claims) (string, []string) {
		role := def
		var orgPerms []string
		if c.Org != nil {
			if r, ok := orgRoles[c.Org.Role]; ok && c.Org.Role != "" {
				role = r
			}
			orgPerms = c.Org.Permissions
		}
		granted := make([]string, 0, len(perms[role])+len(orgPerms))
		granted = append(append(granted, perms[role]...), orgPerms...)
		slices.Sort(granted)
		return role, slices.Compact(granted)
	}
}

// token reads the session token from the configured sources, with the
// rules of verify.TokenFromRequest: a source that is not used is not looked
// at, so two __session cookies do not matter to a header-only Middleware.
func (m *Middleware) token(r *http.Request) (string, error) {
	switch m.sources {
	case SourceHeader:
		return verify.TokenFromRequest(&http.Request{Header: http.Header{"Authorization": r.Header["Authorization"]}})
	case SourceCookie:
		return verify.TokenFromRequest(&http.Request{Header: http.Header{"Cookie": r.Header["Cookie"]}})
	default:
		return verify.TokenFromRequest(r)
	}
}

// authenticate returns the caller of r: the Identity a wrapper of m has
// already put in the context, or one built from the request's token.
func (m *Middleware) authenticate(r *http.Request, allowPending bool) (*Identity, bool, error) {
	if e, ok := r.Context().Value(identityKey{}).(*identityEntry); ok && e.m == m {
		if e.id.Claims.Pending() && !allowPending {
			return nil, false, &verify.Error{Code: clerkgate.CodeSessionPending, Reason: "pending"}
		}
		return e.id, true, nil
	}
	tok, err := m.token(r)
	if err != nil {
		return nil, false, err
	}
	claims, err := m.v.VerifyWith(r.Context(), tok, verify.Policy{AllowPending: allowPending})
	if err != nil {
		return nil, false, err
	}
	role, perms := m.roleFunc(claims)
	return &Identity{
		UserID:      claims.Subject,
		SessionID:   claims.SessionID,
		Role:        role,
		Permissions: perms,
		Org:         claims.Org,
		Actor:       claims.Actor,
		Claims:      claims,
	}, false, nil
}

// fail answers a refusal through the error handler, after one log line.
func (m *Middleware) fail(w http.ResponseWriter, r *http.Request, err error) {
	if m.log != nil {
		code := clerkgate.ErrorCode(err)
		level := slog.LevelInfo
		switch {
		case code == clerkgate.CodeUnauthenticated: // no credentials: anonymous traffic, not an event
			level = slog.LevelDebug
		case code.Status() >= 500 && code != clerkgate.CodeUnavailable:
			level = slog.LevelError
		case code.Status() >= 500:
			level = slog.LevelWarn
		}
		attrs := []slog.Attr{
			slog.String("code", string(code)),
			slog.String("method", r.Method),
			slog.String("path", r.URL.Path),
		}
		if reason := reasonOf(err); reason != "" {
			attrs = append(attrs, slog.String("reason", reason))
		}
		if id, ok := FromContext(r.Context()); ok {
			attrs = append(attrs, slog.String("user_id", id.UserID), slog.String("session_id", id.SessionID))
		}
		if rid := requestIDOf(w, r); rid != "" {
			attrs = append(attrs, slog.String("request_id", rid))
		}
		m.log.LogAttrs(r.Context(), level, "request refused", attrs...)
	}
	m.errorHandler(w, r, err)
}

package policy

import (
	"errors"
	"slices"
	"strings"
	"time"
)

// Route is one entry of the policy's routes: which requests it matches and
// what they need. The zero Requirement with Anonymous false means "any
// authenticated user".
type Route struct {
	// Path is the pattern as written: literal segments, "*" for exactly one
	// segment, and "**" as the last segment for any suffix, including none.
	Path string
	// Methods the route matches, upper-case; empty matches every method.
	// HEAD and OPTIONS are not implied by GET or anything else.
	Methods []string
	// Anonymous routes need no credentials at all.
	Anonymous bool
	// Require is what an authenticated caller needs; see Requirement.
	Require Requirement
	// Machines lets Clerk API keys, M2M tokens and OAuth access tokens in.
	Machines bool
	// AllowPending lets sessions whose status is "pending" in.
	AllowPending bool
	// AllowImpersonation lets sessions of an impersonating actor (the
	// token's "act" claim) in.
	AllowImpersonation bool
	// StripCredentials removes the Authorization header and the __session
	// cookie before the request goes upstream.
	StripCredentials bool
	// Reverify, when set, needs a recent enough factor verification.
	Reverify *Reverify
	// Line is the route's line in the policy file (0 when built in code).
	Line int

	segments []string // Path split at "/", without the leading empty one
}

// Requirement is what a route needs of an authenticated caller. Each list
// that is not empty must be satisfied, and all of them together:
// Roles is any-of (the caller's resolved role is one of them), Permissions
// is all-of (the caller holds every one, wildcards granted by the role
// count), OrgRoles is any-of (the role in the session's active
// organization, such as "org:admin", is one of them).
type Requirement struct {
	Roles       []string
	Permissions []string
	OrgRoles    []string
}

// Satisfied reports whether a caller with the resolved role, its granted
// permissions (PermissionsFor) and the active organization role ("" when
// none) meets r.
func (r Requirement) Satisfied(role string, granted []string, orgRole string) bool {
	if len(r.Roles) > 0 && !slices.Contains(r.Roles, role) {
		return false
	}
	for _, need := range r.Permissions {
		if !Allowed(granted, need) {
			return false
		}
	}
	if len(r.OrgRoles) > 0 && (orgRole == "" || !slices.Contains(r.OrgRoles, orgRole)) {
		return false
	}
	return true
}

// Factor is the kind of factor a reverification asks for.
type Factor string

// Factors of Reverify, as written in the policy file. Clerk's session token
// carries their ages, in minutes, in the fva claim: [first, second].
const (
	FactorFirst  Factor = "first"
	FactorSecond Factor = "second"
)

// Reverify asks for a factor verified within MaxAge (whole minutes, as
// Clerk counts them).
type Reverify struct {
	MaxAge time.Duration
	Factor Factor
}

// Match returns the first route that matches method and canonicalPath (the
// result of Canonicalize). A route matches when its pattern matches the
// path and it lists the method or lists none. When the first route whose
// pattern matches does not list the method, only later routes with the same
// pattern are tried: a broader rule never catches a method the narrower one
// left out. No match means the request is denied. Paths are case-sensitive, and one
// trailing slash of the path is ignored: "/x" matches "/x/" as well, so
// that an upstream that treats them as one resource cannot be reached past
// a rule for it. The returned Route belongs to p and must not be modified.
func (p *Policy) Match(method, canonicalPath string) (*Route, bool) {
	segs, ok := pathSegments(canonicalPath)
	if !ok {
		return nil, false
	}
	// The first route whose path matches decides. When its methods do not
	// include the request's, only later routes with the very same path
	// pattern may still take it (GET /x anonymous, then POST /x for
	// admins); a broader pattern further down never does, so a method the
	// first route does not list (HEAD, OPTIONS) cannot slip through to a
	// more permissive rule.
	var first *Route
	for i := range p.Routes {
		r := &p.Routes[i]
		if !r.matchesPath(segs) || (first != nil && r.Path != first.Path) {
			continue
		}
		if first == nil {
			first = r
		}
		if r.matchesMethod(method) {
			return r, true
		}
	}
	return nil, false
}

// pathSegments splits a canonical path into its segments, ignoring one
// trailing slash: "/" is none, "/a/b/" is [a b].
func pathSegments(path string) ([]string, bool) {
	rest, ok := strings.CutPrefix(path, "/")
	if !ok {
		return nil, false
	}
	rest = strings.TrimSuffix(rest, "/")
	if rest == "" {
		return nil, true
	}
	return strings.Split(rest, "/"), true
}

func (r *Route) matchesMethod(method string) bool {
	return len(r.Methods) == 0 || slices.Contains(r.Methods, method)
}

func (r *Route) matchesPath(segs []string) bool {
	pat := r.segments
	if pat == nil {
		pat, _ = pathSegments(r.Path) // a Route built in code
	}
	for i, ps := range pat {
		switch {
		case ps == "**":
			return true
		case i >= len(segs):
			return false
		case ps == "*":
			if segs[i] == "" {
				return false
			}
		case ps != segs[i]:
			return false
		}
	}
	return len(pat) == len(segs)
}

// covers reports whether every request that b matches is matched by a, so
// that b after a can never match.
func covers(a, b *Route) bool {
	if len(a.Methods) > 0 {
		if len(b.Methods) == 0 {
			return false
		}
		for _, m := range b.Methods {
			if !slices.Contains(a.Methods, m) {
				return false
			}
		}
	}
	for i, as := range a.segments {
		switch {
		case as == "**":
			return true
		case i >= len(b.segments), b.segments[i] == "**":
			return false
		case as == "*":
		case as != b.segments[i]:
			return false
		}
	}
	return len(a.segments) == len(b.segments)
}

// httpMethods are the methods a route may list.
var httpMethods = []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT", "TRACE"}

// parsePattern checks a route path and splits it into segments.
func parsePattern(path string) ([]string, error) {
	if !strings.HasPrefix(path, "/") {
		return nil, errors.New("must start with /")
	}
	if path == "/" {
		return []string{}, nil
	}
	if strings.HasSuffix(path, "/") {
		return nil, errors.New(`must not end with / (a path matches with or without one trailing slash; use /** for a subtree)`)
	}
	segs := strings.Split(path[1:], "/")
	for i, s := range segs {
		switch {
		case s == "":
			return nil, errors.New("has an empty segment (//)")
		case s == "." || s == "..":
			return nil, errors.New("has a . or .. segment")
		case s == "**" && i != len(segs)-1:
			return nil, errors.New("may have ** only as its last segment")
		case s == "*" || s == "**":
		case strings.Contains(s, "*"):
			return nil, errors.New("may have * only as a whole segment")
		default:
			if err := literalSegment(s); err != nil {
				return nil, err
			}
		}
	}
	return segs, nil
}

// literalSegment checks a literal pattern segment: it must be something a
// canonical path can contain, or the route could never match.
func literalSegment(s string) error {
	if strings.ContainsAny(s, "?#%\\;") {
		return errors.New(`must not contain ?, #, %, \ or ; (patterns are matched against decoded paths)`)
	}
	if reason := badSegmentText(s); reason != "" {
		return errors.New("has a segment that " + reason)
	}
	return nil
}

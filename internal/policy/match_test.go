package policy_test

import (
	"testing"

	"github.com/clerkgate/clerkgate/internal/policy"
)

const matchPolicy = `
routes:
  - path: /api/public/**          # 0
    anonymous: true
  - path: /api/admin/**           # 1
    require: {roles: [admin]}
  - path: /api/users/*            # 2
    methods: [GET]
  - path: /api/users/*            # 3
    methods: [PUT, DELETE]
    require: {roles: [admin]}
  - path: /files/*/meta           # 4
  - path: /exact                  # 5
    methods: [GET]
  - path: /                       # 6
    methods: [GET]
  - path: /api/*                  # 7
    require: {permissions: ["api:access"]}
`

// deny is the route index of "no route matches".
const deny = -1

func TestMatch(t *testing.T) {
	t.Parallel()
	p := mustParse(t, matchPolicy)
	cases := []struct {
		method, path string
		want         int
	}{
		// ** is any suffix, including none, with or without a trailing slash.
		{"GET", "/api/public", 0},
		{"GET", "/api/public/", 0},
		{"GET", "/api/public/a", 0},
		{"POST", "/api/public/a/b/c", 0},
		{"GET", "/api/publicx", 7},
		{"GET", "/api/public.json", 7},
		{"GET", "/api/admin", 1},
		{"DELETE", "/api/admin/users/7", 1},

		// * is exactly one segment.
		{"GET", "/api/users/7", 2},
		{"GET", "/api/users/7/", 2},
		{"GET", "/api/users", 7},
		{"GET", "/api/users/7/keys", deny},
		{"GET", "/files/a/meta", 4},
		{"GET", "/files/a/b/meta", deny},
		{"GET", "/files/meta", deny},

		// Methods: a route that does not list the method is skipped, and
		// nothing is implied (no HEAD for GET, no OPTIONS).
		{"PUT", "/api/users/7", 3},
		{"DELETE", "/api/users/7", 3},
		{"POST", "/api/users/7", deny},
		{"HEAD", "/api/users/7", deny},
		{"OPTIONS", "/api/users/7", deny},
		{"get", "/api/users/7", deny},
		{"GET", "/exact", 5},
		{"GET", "/exact/", 5},
		{"HEAD", "/exact", deny},
		{"GET", "/exact/more", deny},
		{"GET", "/", 6},
		{"POST", "/", deny},

		// First match wins, and paths are case-sensitive.
		{"GET", "/api/x", 7},
		{"GET", "/API/x", deny},
		{"GET", "/Api/admin/x", deny},
		{"GET", "/api/Admin", 7},
		{"GET", "/nowhere", deny},

		// Not canonical: never a match.
		{"GET", "", deny},
		{"GET", "api/x", deny},
	}
	for _, c := range cases {
		r, ok := p.Match(c.method, c.path)
		got := deny
		if ok {
			got = routeIndex(p, r)
		}
		if got != c.want {
			t.Errorf("Match(%s, %q) = route %d, want %d", c.method, c.path, got, c.want)
		}
	}
}

func routeIndex(p *policy.Policy, r *policy.Route) int {
	for i := range p.Routes {
		if &p.Routes[i] == r {
			return i
		}
	}
	return -2
}

// TestMatchBypass sends raw paths through Canonicalize and Match, as the
// proxy does: each attempt to reach /api/admin must be refused, denied or
// land on the admin rule, never on an anonymous one.
func TestMatchBypass(t *testing.T) {
	t.Parallel()
	p := mustParse(t, matchPolicy)
	const admin = 1
	cases := []struct {
		raw  string
		want int // admin, deny, or 400 for refused
	}{
		{"/api/public/../admin/x", admin},
		{"/api/public/%2e%2e/admin/x", admin},
		{"/api/public/.%2E/admin", admin},
		{"/api/public//../admin", admin},
		{"//api//admin//x", admin},
		{"/api/./admin", admin},
		{"/api/%61dmin/x", admin},
		{"/api/admin/", admin},
		{"/api/admin?x=/api/public", admin},
		{"/api/public/..%2fadmin", 400},
		{"/api/public%2f..%2fadmin", 400},
		{"/api/public/..%5cadmin", 400},
		{`/api/public/..\admin`, 400},
		{"/api/public/..;/admin", 400},
		{"/api/public/%252e%252e/admin", 400},
		{"/api/public/%c0%ae%c0%ae/admin", 400},
		{"/api/public/\uFF0E\uFF0E/admin", 400},
		{"/api/public/x%00/../../admin", 400},
		{"/API/admin", deny},
	}
	for _, c := range cases {
		got := deny
		if canon, err := policy.Canonicalize(c.raw); err != nil {
			got = 400
		} else if r, ok := p.Match("GET", canon); ok {
			got = routeIndex(p, r)
		}
		if got != c.want {
			t.Errorf("%q: got %d, want %d", c.raw, got, c.want)
		}
	}
}

func TestMatchRouteBuiltInCode(t *testing.T) {
	t.Parallel()
	p := &policy.Policy{Routes: []policy.Route{{Path: "/x/**"}, {Path: "/y/*", Methods: []string{"GET"}}}}
	if _, ok := p.Match("GET", "/x"); !ok {
		t.Error("/x/** does not match /x")
	}
	if _, ok := p.Match("GET", "/y/1"); !ok {
		t.Error("/y/* does not match /y/1")
	}
	if _, ok := policy.Default().Match("GET", "/"); ok {
		t.Error("the built-in policy has a route")
	}
}

func TestRequirement(t *testing.T) {
	t.Parallel()
	cases := []struct {
		req     policy.Requirement
		role    string
		granted []string
		orgRole string
		want    bool
	}{
		{policy.Requirement{}, "member", nil, "", true},
		{policy.Requirement{Roles: []string{"admin", "billing"}}, "billing", nil, "", true},
		{policy.Requirement{Roles: []string{"admin"}}, "member", []string{"*"}, "", false},
		{policy.Requirement{Permissions: []string{"a:read", "b:write"}}, "m", []string{"a:read"}, "", false},
		{policy.Requirement{Permissions: []string{"a:read", "b:write"}}, "m", []string{"a:*", "b:write"}, "", true},
		{policy.Requirement{Permissions: []string{"a:read"}}, "m", []string{"*"}, "", true},
		{policy.Requirement{OrgRoles: []string{"org:admin"}}, "m", nil, "org:admin", true},
		{policy.Requirement{OrgRoles: []string{"org:admin"}}, "m", nil, "org:member", false},
		{policy.Requirement{OrgRoles: []string{"org:admin"}}, "m", nil, "", false},
		{policy.Requirement{Roles: []string{"admin"}, OrgRoles: []string{"org:admin"}}, "admin", nil, "org:member", false},
	}
	for i, c := range cases {
		if got := c.req.Satisfied(c.role, c.granted, c.orgRole); got != c.want {
			t.Errorf("case %d: %+v.Satisfied(%q, %v, %q) = %v", i, c.req, c.role, c.granted, c.orgRole, got)
		}
	}
}

// BenchmarkCanonicalizeMatch is the per-request cost in proxy mode.
func BenchmarkCanonicalizeMatch(b *testing.B) {
	p := mustParse(b, matchPolicy)
	b.ReportAllocs()
	for b.Loop() {
		canon, err := policy.Canonicalize("/api/users/%37/../42")
		if err != nil {
			b.Fatal(err)
		}
		if _, ok := p.Match("GET", canon); !ok {
			b.Fatal("no match")
		}
	}
}

// A method that the first matching route does not list is never caught by
// a broader rule further down: only routes with the same pattern may take
// it. Otherwise HEAD or OPTIONS of an admin path would reach the upstream
// through a catch-all rule for members.
func TestMatchNoFallThroughToBroaderRule(t *testing.T) {
	t.Parallel()
	p := mustParse(t, `
routes:
  - path: /api/admin/**
    methods: [GET, POST]
    require: {roles: [admin]}
  - path: /api/admin/**
    methods: [DELETE]
    require: {roles: [admin], permissions: ["users:delete"]}
  - path: /api/**
`)
	cases := []struct {
		method, path string
		want         int
	}{
		{"GET", "/api/admin/users", 0},
		{"DELETE", "/api/admin/users/1", 1},
		{"HEAD", "/api/admin/users", deny},
		{"OPTIONS", "/api/admin/users", deny},
		{"PUT", "/api/admin/users/1", deny},
		{"HEAD", "/api/things", 2},
	}
	for _, c := range cases {
		r, ok := p.Match(c.method, c.path)
		got := deny
		if ok {
			got = routeIndex(p, r)
		}
		if got != c.want {
			t.Errorf("%s %s: route %d, want %d", c.method, c.path, got, c.want)
		}
	}
}

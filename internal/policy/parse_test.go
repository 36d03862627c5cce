package policy_test

import (
	"errors"
	"net/netip"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/clerkgate/clerkgate/internal/policy"
)

// mustLoad loads a policy file of testdata.
func mustLoad(tb testing.TB, name string) *policy.Policy {
	tb.Helper()
	p, err := policy.Load(filepath.Join("testdata", name))
	if err != nil {
		tb.Fatalf("Load(%s): %v", name, err)
	}
	return p
}

// mustParse parses an inline policy.
func mustParse(tb testing.TB, src string) *policy.Policy {
	tb.Helper()
	p, err := policy.Parse([]byte(src), "p.yaml")
	if err != nil {
		tb.Fatalf("Parse: %v\n%s", err, src)
	}
	return p
}

func TestLoadSpecExample(t *testing.T) {
	t.Parallel()
	p := mustLoad(t, "spec.yaml")
	def := policy.Default()
	if !reflect.DeepEqual(p.Roles, def.Roles) {
		t.Errorf("roles %+v, want the built-in %+v", p.Roles, def.Roles)
	}
	if !reflect.DeepEqual(p.Permissions, def.Permissions) {
		t.Errorf("permissions %v, want %v", p.Permissions, def.Permissions)
	}
	if len(p.Routes) != 3 {
		t.Fatalf("%d routes", len(p.Routes))
	}
	r0, r1, r2 := p.Routes[0], p.Routes[1], p.Routes[2]
	if r0.Path != "/api/public/*" || !r0.Anonymous || r0.Line != 13 {
		t.Errorf("route 0: %+v", r0)
	}
	if !slices.Equal(r1.Methods, []string{"GET", "POST", "PUT", "PATCH", "DELETE"}) || !slices.Equal(r1.Require.Roles, []string{"admin"}) {
		t.Errorf("route 1: %+v", r1)
	}
	if !slices.Equal(r2.Require.Permissions, []string{"api:access"}) || !r2.Machines || r2.Anonymous {
		t.Errorf("route 2: %+v", r2)
	}
	if p.Upstream == nil || p.Upstream.String() != "http://127.0.0.1:9000" {
		t.Errorf("upstream %v", p.Upstream)
	}
	if !slices.Equal(p.TrustedProxies, policy.DefaultTrustedProxies()) || p.AdminReverify {
		t.Errorf("trusted proxies %v, admin_reverify %v", p.TrustedProxies, p.AdminReverify)
	}
	want := &policy.Legacy{
		Algorithm: "HS256", SecretEnv: "LEGACY_JWT_SECRET", Issuer: "my-app", UserClaim: "sub",
		Sunset:     time.Date(2027, 3, 31, 0, 0, 0, 0, time.UTC),
		LoginPaths: []string{"/auth/login", "/auth/refresh"},
	}
	if !reflect.DeepEqual(p.Legacy, want) {
		t.Errorf("legacy %+v, want %+v", p.Legacy, want)
	}
	if p.Source != filepath.Join("testdata", "spec.yaml") {
		t.Errorf("source %q", p.Source)
	}
}

func TestLoadFull(t *testing.T) {
	t.Parallel()
	p := mustLoad(t, "full.yaml")
	wantRoles := policy.RoleRules{
		Default:     "viewer",
		MetadataKey: "app_roles",
		OrgRoles:    map[string]string{"org:admin": "admin", "org:billing_manager": "billing", "org:member": "viewer"},
		Precedence:  []string{"org", "metadata", "default"},
	}
	if !reflect.DeepEqual(p.Roles, wantRoles) {
		t.Errorf("roles %+v", p.Roles)
	}
	if got := p.Permissions["billing"]; !slices.Equal(got, []string{"invoices:*", "profile:read"}) {
		t.Errorf("billing permissions %v", got)
	}
	if len(p.Routes) != 6 {
		t.Fatalf("%d routes", len(p.Routes))
	}
	admin := p.Routes[2]
	if admin.Reverify == nil || *admin.Reverify != (policy.Reverify{MaxAge: 10 * time.Minute, Factor: policy.FactorSecond}) {
		t.Errorf("admin reverify %+v", admin.Reverify)
	}
	if !slices.Equal(admin.Require.OrgRoles, []string{"org:admin"}) || admin.AllowImpersonation {
		t.Errorf("admin route %+v", admin)
	}
	if rv := p.Routes[3].Reverify; rv == nil || rv.MaxAge != time.Hour || rv.Factor != policy.FactorSecond {
		t.Errorf("invoices reverify %+v (factor defaults to second)", rv)
	}
	if !p.Routes[4].AllowPending || !p.Routes[5].StripCredentials || !p.Routes[1].StripCredentials {
		t.Errorf("route options lost: %+v", p.Routes)
	}
	if p.Upstream.String() != "https://internal.example.com:8443/base" {
		t.Errorf("upstream %v", p.Upstream)
	}
	wantProxies := []netip.Prefix{
		netip.MustParsePrefix("127.0.0.1/32"), netip.MustParsePrefix("::1/128"),
		netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8"),
	}
	if !slices.Equal(p.TrustedProxies, wantProxies) || !p.AdminReverify {
		t.Errorf("trusted proxies %v, admin_reverify %v", p.TrustedProxies, p.AdminReverify)
	}
	l := p.Legacy
	if l.Algorithm != "RS256" || l.PublicKeyFile != filepath.Join("testdata", "keys", "legacy.pem") ||
		l.UserClaim != "uid" || !slices.Equal(l.LoginPaths, []string{"/v1/login", "/v1/token/refresh"}) ||
		l.MigrationGuide != "https://example.com/docs/migration" || l.Issuer != "https://old.example.com" {
		t.Errorf("legacy %+v", l)
	}
}

func TestLoadMinimalTakesBuiltIns(t *testing.T) {
	t.Parallel()
	p := mustLoad(t, "minimal.yaml")
	def := policy.Default()
	if !reflect.DeepEqual(p.Roles, def.Roles) || !reflect.DeepEqual(p.Permissions, def.Permissions) ||
		!slices.Equal(p.TrustedProxies, def.TrustedProxies) || p.Legacy != nil || p.Upstream != nil {
		t.Errorf("minimal policy %+v, want the built-in values", p)
	}
	if _, err := policy.Load(filepath.Join("testdata", "missing.yaml")); err == nil {
		t.Error("Load of a missing file succeeded")
	}
}

func TestParseValidVariants(t *testing.T) {
	t.Parallel()
	cases := map[string]string{
		"no trusted proxies": "trusted_proxies: []",
		"nulls are absent":   "roles:\npermissions:\nroutes:\nlegacy:\nupstream:\n",
		"org_roles omitted":  "roles: {default: member}",
		"require empty":      "routes: [{path: /x, require: {}}]",
		"root route":         "routes: [{path: /, methods: [GET]}, {path: /, methods: [POST]}]",
		"three-part perms":   `permissions: {member: ["org:teams:read", "a.b:c-d:*"]}` + "\nroles: {default: member}",
		"same path, other methods": `routes:
  - {path: /x, methods: [GET]}
  - {path: /x, methods: [POST]}
  - {path: /x}`,
		"unicode literal": "routes: [{path: /café/*}]",
	}
	for name, src := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			mustParse(t, src)
		})
	}
	p := mustParse(t, "trusted_proxies: []")
	if len(p.TrustedProxies) != 0 || p.TrustedProxy(netip.MustParseAddr("127.0.0.1")) {
		t.Errorf("trusted_proxies: [] trusts %v", p.TrustedProxies)
	}
}

func TestTrustedProxy(t *testing.T) {
	t.Parallel()
	p := policy.Default()
	for addr, want := range map[string]bool{
		"127.0.0.1": true, "127.9.9.9": true, "::1": true, "::ffff:127.0.0.1": true,
		"10.0.0.1": false, "::2": false, "192.168.1.1": false,
	} {
		if got := p.TrustedProxy(netip.MustParseAddr(addr)); got != want {
			t.Errorf("TrustedProxy(%s) = %v", addr, got)
		}
	}
	p = mustParse(t, `trusted_proxies: [10.1.0.0/16, "::ffff:192.0.2.7", "2001:db8::/32"]`)
	for addr, want := range map[string]bool{
		"10.1.200.3": true, "10.2.0.1": false, "192.0.2.7": true, "2001:db8::5": true, "127.0.0.1": false,
		"fe80::1%eth0": false,
	} {
		if got := p.TrustedProxy(netip.MustParseAddr(addr)); got != want {
			t.Errorf("TrustedProxy(%s) = %v", addr, got)
		}
	}
}

func TestParseErrorType(t *testing.T) {
	t.Parallel()
	_, err := policy.Parse([]byte("rolez: 1\nroutes: [{path: x}]\n"), "p.yaml")
	var perr *policy.Error
	if !errors.As(err, &perr) {
		t.Fatalf("error %T %v, want *policy.Error", err, err)
	}
	if perr.File != "p.yaml" || len(perr.Problems) != 2 || perr.Problems[0].Line != 1 || perr.Problems[1].Line != 2 {
		t.Errorf("problems %+v", perr.Problems)
	}
	if strings.Contains(err.Error(), "\n") {
		t.Errorf("error spans lines: %q", err)
	}
}

package policy_test

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/clerkgate/clerkgate/internal/policy"
)

func TestResolveRolePrecedence(t *testing.T) {
	t.Parallel()
	full := mustLoad(t, "full.yaml") // precedence [org, metadata, default], metadata_key app_roles
	metadataOnly := mustParse(t, `
roles: {default: member, precedence: [metadata, default], org_roles: {"org:admin": admin}}
permissions: {admin: ["*"], member: ["profile:read"]}`)
	defaultOnly := mustParse(t, `
roles: {default: member, precedence: [default], org_roles: {"org:admin": admin}}
permissions: {admin: ["*"], member: ["profile:read"]}`)
	cases := []struct {
		name    string
		p       *policy.Policy
		md      string
		orgRole string
		want    string
	}{
		{"built-in: metadata first", policy.Default(), `{"role":"admin"}`, "org:member", "admin"},
		{"built-in: list, first known", policy.Default(), `{"role":["root","member","admin"]}`, "", "member"},
		{"built-in: list of unknowns", policy.Default(), `{"role":["root","owner"]}`, "", "member"},
		{"built-in: empty list", policy.Default(), `{"role":[]}`, "org:admin", "admin"},
		{"built-in: object is nothing", policy.Default(), `{"role":{"name":"admin"}}`, "", "member"},
		{"built-in: unmapped org role", policy.Default(), `{}`, "org:billing", "member"},
		{"built-in: other key", policy.Default(), `{"app_roles":"admin"}`, "", "member"},
		{"built-in: unsafe_metadata is not public", policy.Default(), `{"unsafe_metadata":{"role":"admin"}}`, "", "member"},
		{"built-in: null", policy.Default(), `null`, "", "member"},
		{"org first", full, `{"app_roles":"admin"}`, "org:member", "viewer"},
		{"org first, no org", full, `{"app_roles":["billing"]}`, "", "billing"},
		{"org first, unmapped org", full, `{"app_roles":"admin"}`, "org:guest", "admin"},
		{"org first, billing manager", full, `{}`, "org:billing_manager", "billing"},
		{"org first, nothing", full, `{"role":"admin"}`, "", "viewer"},
		{"org not consulted", metadataOnly, `{}`, "org:admin", "member"},
		{"only default", defaultOnly, `{"role":"admin"}`, "org:admin", "member"},
	}
	for _, c := range cases {
		if got := c.p.ResolveRole(json.RawMessage(c.md), c.orgRole); got != c.want {
			t.Errorf("%s: ResolveRole(%s, %q) = %q, want %q", c.name, c.md, c.orgRole, got, c.want)
		}
	}
	// The stored role ignores the session's organization.
	if got := full.StoredRole(json.RawMessage(`{"app_roles":"billing"}`)); got != "billing" {
		t.Errorf("StoredRole = %q", got)
	}
}

// TestUnsafeMetadataNeverGrants: only public metadata reaches role
// resolution; a user's own unsafe_metadata, even shaped like public
// metadata, grants nothing.
func TestUnsafeMetadataNeverGrants(t *testing.T) {
	t.Parallel()
	p := policy.Default()
	user := struct {
		Public json.RawMessage `json:"public_metadata"`
		Unsafe json.RawMessage `json:"unsafe_metadata"`
	}{json.RawMessage(`{}`), json.RawMessage(`{"role":"admin"}`)}
	if got := p.ResolveRole(user.Public, ""); got != "member" {
		t.Fatalf("role %q from public metadata {}", got)
	}
	if got := p.MetadataRole(user.Public); got != "" {
		t.Fatalf("metadata role %q", got)
	}
}

func TestPermissionWildcards(t *testing.T) {
	t.Parallel()
	cases := []struct {
		granted []string
		need    string
		want    bool
	}{
		{[]string{"*"}, "anything:at:all", true},
		{[]string{"users:*"}, "users:read", true},
		{[]string{"users:*"}, "users:keys:rotate", true},
		{[]string{"users:*"}, "users", false},
		{[]string{"users:*"}, "user:read", false},
		{[]string{"users:*"}, "users2:read", false},
		{[]string{"users:read*"}, "users:readall", false},
		{[]string{"org:*"}, "org:teams:read", true},
		{[]string{"org:teams:*"}, "org:teams:read", true},
		{[]string{"org:teams:*"}, "org:billing:read", false},
		{[]string{"invoices:read", "invoices:write"}, "invoices:write", true},
		{[]string{"Invoices:read"}, "invoices:read", false},
	}
	for _, c := range cases {
		if got := policy.Allowed(c.granted, c.need); got != c.want {
			t.Errorf("Allowed(%v, %q) = %v, want %v", c.granted, c.need, got, c.want)
		}
	}
	full := mustLoad(t, "full.yaml")
	got := full.PermissionsFor("billing", []string{"org:invoices:approve"})
	if want := []string{"invoices:*", "org:invoices:approve", "profile:read"}; !slices.Equal(got, want) {
		t.Errorf("PermissionsFor(billing) = %v, want %v", got, want)
	}
	if !policy.Allowed(got, "invoices:write") || policy.Allowed(got, "users:read") {
		t.Errorf("billing grants %v", got)
	}
	if got := full.PermissionsFor("nobody", nil); len(got) != 0 {
		t.Errorf("unknown role has %v", got)
	}
}

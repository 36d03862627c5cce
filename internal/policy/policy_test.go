package policy

import (
	"encoding/json"
	"slices"
	"testing"
)

func TestResolveRole(t *testing.T) {
	t.Parallel()
	p := Default()
	cases := []struct {
		md      string
		orgRole string
		want    string
	}{
		{``, "", "member"},
		{`{"role":"admin"}`, "", "admin"},
		{`{"role":"admin"}`, "org:member", "admin"},
		{`{"role":["nope","admin"]}`, "", "admin"},
		{`{"role":"superuser"}`, "", "member"},
		{`{"role":7}`, "org:admin", "admin"},
		{`{}`, "org:admin", "admin"},
		{`{}`, "org:billing", "member"},
		{`not json`, "", "member"},
	}
	for _, c := range cases {
		if got := p.ResolveRole(json.RawMessage(c.md), c.orgRole); got != c.want {
			t.Errorf("ResolveRole(%s, %q) = %q, want %q", c.md, c.orgRole, got, c.want)
		}
	}
	p.Roles.Precedence = []string{SourceOrg, SourceMetadata, SourceDefault}
	if got := p.ResolveRole(json.RawMessage(`{"role":"member"}`), "org:admin"); got != "admin" {
		t.Errorf("org first: %q", got)
	}
	if got := p.StoredRole(json.RawMessage(`{"role":"admin"}`)); got != "admin" {
		t.Errorf("stored role %q", got)
	}
}

func TestPermissions(t *testing.T) {
	t.Parallel()
	p := Default()
	got := p.PermissionsFor("member", []string{"org:teams:read", "profile:read"})
	if want := []string{"org:teams:read", "profile:read", "profile:write"}; !slices.Equal(got, want) {
		t.Fatalf("permissions %v, want %v", got, want)
	}
	// Without organization permissions the answer may be the policy's own
	// slice: appending to it must not change the policy.
	own := p.PermissionsFor("member", nil)
	before := slices.Clone(own)
	if len(own) > 0 {
		grown := append(own, "zzz:injected")
		grown[0] = "changed"
	}
	if again := p.PermissionsFor("member", nil); !slices.Equal(again, before) {
		t.Fatalf("appending to the answer changed the policy: %v, was %v", again, before)
	}
	cases := []struct {
		granted []string
		need    string
		want    bool
	}{
		{[]string{"*"}, "users:delete", true},
		{[]string{"users:*"}, "users:delete", true},
		{[]string{"users:*"}, "usersx:delete", false},
		{[]string{"users:read"}, "users:write", false},
		{[]string{"users*"}, "users:read", false},
		{nil, "profile:read", false},
	}
	for _, c := range cases {
		if got := Allowed(c.granted, c.need); got != c.want {
			t.Errorf("Allowed(%v, %q) = %v", c.granted, c.need, got)
		}
	}
}

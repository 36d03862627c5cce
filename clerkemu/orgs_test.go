package clerkemu_test

import (
	"errors"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/clerk/clerk-sdk-go/v2"
	"github.com/clerk/clerk-sdk-go/v2/organization"
	"github.com/clerk/clerk-sdk-go/v2/organizationmembership"
	"github.com/clerk/clerk-sdk-go/v2/user"

	"github.com/clerkgate/clerkgate/clerkemu"
)

func TestOrganizationsThroughSDK(t *testing.T) {
	t.Parallel()
	e := newEnv(t, clerkemu.Options{})
	alice, _ := e.srv.CreateUser(clerkemu.UserParams{Email: "alice@example.com", FirstName: "Alice"})
	bob, _ := e.srv.CreateUser(clerkemu.UserParams{Email: "bob@example.com"})

	org, err := e.orgs.Create(ctx(), &organization.CreateParams{Name: clerk.String("Acme"), Slug: clerk.String("acme"),
		CreatedBy: clerk.String(alice.ID), PublicMetadata: rawJSON(`{"plan":"pro"}`)})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(org.ID, "org_") || org.Slug != "acme" || org.CreatedBy != alice.ID ||
		org.MembersCount == nil || *org.MembersCount != 1 {
		t.Errorf("org %+v", org)
	}
	jsonEqual(t, org.PublicMetadata, `{"plan":"pro"}`)

	if got, err := e.orgs.Get(ctx(), "acme"); err != nil || got.ID != org.ID {
		t.Errorf("get by slug: %v %+v", err, got)
	}
	_, err = e.orgs.Create(ctx(), &organization.CreateParams{Name: clerk.String("Acme 2"), Slug: clerk.String("acme")})
	apiError(t, err, http.StatusUnprocessableEntity, "form_identifier_exists")

	m, err := e.members.Create(ctx(), &organizationmembership.CreateParams{OrganizationID: org.ID,
		UserID: clerk.String(bob.ID), Role: clerk.String("org:member")})
	if err != nil {
		t.Fatal(err)
	}
	if m.Role != "org:member" || m.Organization == nil || m.Organization.ID != org.ID ||
		m.PublicUserData == nil || m.PublicUserData.UserID != bob.ID {
		t.Errorf("membership %+v", m)
	}
	_, err = e.members.Create(ctx(), &organizationmembership.CreateParams{OrganizationID: org.ID,
		UserID: clerk.String(bob.ID), Role: clerk.String("org:member")})
	apiError(t, err, http.StatusUnprocessableEntity, "already_a_member_in_organization")
	_, err = e.members.Create(ctx(), &organizationmembership.CreateParams{OrganizationID: org.ID,
		UserID: clerk.String(alice.ID), Role: clerk.String("org:owner")})
	apiError(t, err, http.StatusUnprocessableEntity, "form_param_value_invalid")

	list, err := e.members.List(ctx(), &organizationmembership.ListParams{OrganizationID: org.ID})
	if err != nil || list.TotalCount != 2 {
		t.Fatalf("memberships: %v %+v", err, list)
	}
	roles := map[string]string{}
	for _, m := range list.OrganizationMemberships {
		roles[m.PublicUserData.UserID] = m.Role
	}
	if !reflect.DeepEqual(roles, map[string]string{alice.ID: "org:admin", bob.ID: "org:member"}) {
		t.Errorf("roles %v", roles)
	}

	upd, err := e.members.Update(ctx(), &organizationmembership.UpdateParams{OrganizationID: org.ID, UserID: bob.ID,
		Role: clerk.String("org:admin")})
	if err != nil || upd.Role != "org:admin" {
		t.Fatalf("update role: %v %+v", err, upd)
	}
	mine, err := e.users.ListOrganizationMemberships(ctx(), bob.ID, &user.ListOrganizationMembershipsParams{})
	if err != nil || mine.TotalCount != 1 || mine.OrganizationMemberships[0].Role != "org:admin" {
		t.Fatalf("user memberships: %v %+v", err, mine)
	}

	renamed, err := e.orgs.Update(ctx(), org.ID, &organization.UpdateParams{Name: clerk.String("Acme Corp")})
	if err != nil || renamed.Name != "Acme Corp" || renamed.Slug != "acme" {
		t.Errorf("update: %v %+v", err, renamed)
	}
	merged, err := e.orgs.UpdateMetadata(ctx(), org.ID, &organization.UpdateMetadataParams{PublicMetadata: rawJSON(`{"seats":5}`)})
	if err != nil {
		t.Fatal(err)
	}
	jsonEqual(t, merged.PublicMetadata, `{"plan":"pro","seats":5}`)

	orgs, err := e.orgs.List(ctx(), &organization.ListParams{})
	if err != nil || orgs.TotalCount != 1 {
		t.Errorf("list: %v %+v", err, orgs)
	}

	if _, err := e.members.Delete(ctx(), &organizationmembership.DeleteParams{OrganizationID: org.ID, UserID: bob.ID}); err != nil {
		t.Fatal(err)
	}
	del, err := e.orgs.Delete(ctx(), org.ID)
	if err != nil || !del.Deleted || del.ID != org.ID || del.Object != "organization" {
		t.Fatalf("delete: %v %+v", err, del)
	}
	_, err = e.orgs.Get(ctx(), org.ID)
	apiError(t, err, http.StatusNotFound, "resource_not_found")
	mine, err = e.users.ListOrganizationMemberships(ctx(), alice.ID, &user.ListOrganizationMembershipsParams{})
	if err != nil || mine.TotalCount != 0 {
		t.Errorf("memberships after the org's deletion: %v %+v", err, mine)
	}
}

func TestOrganizationHelpers(t *testing.T) {
	t.Parallel()
	e := newEnv(t, clerkemu.Options{})
	u, _ := e.srv.CreateUser(clerkemu.UserParams{})
	tests := []struct {
		name, orgName, slug, createdBy string
		wantSlug                       string
		wantMembers                    int
		wantErr                        string
	}{
		{"slug from name", "Acme Widgets, Ltd.", "", "", "acme-widgets-ltd", 0, ""},
		{"no creator means no members", "Empty", "empty", "", "empty", 0, ""},
		{"creator becomes admin", "Owned", "owned", u.ID, "owned", 1, ""},
		{"derived slug avoids a taken one", "Owned", "", "", "", 0, ""},
		{"bad slug", "X", "Not A Slug", "", "", 0, "form_param_format_invalid"},
		{"no name", " ", "", "", "", 0, "form_param_missing"},
		{"unknown creator", "Y", "", "user_nope", "", 0, "resource_not_found"},
	}
	for _, tt := range tests {
		org, err := e.srv.CreateOrganization(tt.orgName, tt.slug, tt.createdBy)
		if tt.wantErr != "" {
			var ce *clerkemu.Error
			if !errors.As(err, &ce) || ce.Code != tt.wantErr {
				t.Errorf("%s: error %v, want %s", tt.name, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if tt.wantSlug != "" && org.Slug != tt.wantSlug || tt.wantSlug == "" && !strings.HasPrefix(org.Slug, "owned-") {
			t.Errorf("%s: slug %q", tt.name, org.Slug)
		}
		if org.MembersCount != tt.wantMembers {
			t.Errorf("%s: %d members", tt.name, org.MembersCount)
		}
	}
	org, _ := e.srv.GetOrganization("empty")
	for _, tt := range []struct{ user, role, code string }{
		{u.ID, "org:nope", "form_param_value_invalid"},
		{"user_nope", "org:member", "resource_not_found"},
		{u.ID, "org:member", ""},
		{u.ID, "org:admin", "already_a_member_in_organization"},
	} {
		err := e.srv.AddMembership(org.ID, tt.user, tt.role)
		var ce *clerkemu.Error
		switch {
		case tt.code == "" && err != nil:
			t.Errorf("add %s %s: %v", tt.user, tt.role, err)
		case tt.code != "" && (!errors.As(err, &ce) || ce.Code != tt.code):
			t.Errorf("add %s %s: %v, want %s", tt.user, tt.role, err, tt.code)
		}
	}
}

func TestMembershipLimit(t *testing.T) {
	t.Parallel()
	e := newEnv(t, clerkemu.Options{})
	a, _ := e.srv.CreateUser(clerkemu.UserParams{})
	b, _ := e.srv.CreateUser(clerkemu.UserParams{})
	r := e.do(t, "POST", "/v1/organizations", `{"name":"Tiny","created_by":"`+a.ID+`","max_allowed_memberships":1,"created_at":"2025-01-02T03:04:05Z"}`)
	var org clerkemu.Organization
	r.decode(t, &org)
	if org.MaxAllowedMemberships != 1 || org.MembersCount != 1 || org.CreatedAt != 1735787045000 {
		t.Fatalf("org %s", r.body)
	}
	r = e.do(t, "POST", "/v1/organizations/"+org.ID+"/memberships", `{"user_id":"`+b.ID+`","role":"org:member"}`)
	if code, _ := r.clerkError(t); r.status != 403 || code != "organization_membership_quota_exceeded" {
		t.Errorf("over the limit: %d %s", r.status, code)
	}
	r = e.do(t, "PATCH", "/v1/organizations/"+org.ID, `{"max_allowed_memberships":0}`)
	r = e.do(t, "POST", "/v1/organizations/"+org.ID+"/memberships", `{"user_id":"`+b.ID+`","role":"org:member"}`)
	if r.status != 200 {
		t.Errorf("after lifting the limit: %d %s", r.status, r.body)
	}
}

func TestCustomRoles(t *testing.T) {
	t.Parallel()
	roles := []clerkemu.Role{{Key: "org:billing", Name: "Billing", Permissions: []string{
		"org:invoices:read", "org:invoices:pay", "org:reports:read", "org:sys_memberships:read"}}}
	e := newEnv(t, clerkemu.Options{Roles: roles})
	u, _ := e.srv.CreateUser(clerkemu.UserParams{})
	org, _ := e.srv.CreateOrganization("Shop", "shop", "")
	if err := e.srv.AddMembership(org.ID, u.ID, "org:admin"); err == nil {
		t.Error("org:admin exists although Options.Roles replaced the defaults")
	}
	if err := e.srv.AddMembership(org.ID, u.ID, "org:billing"); err != nil {
		t.Fatal(err)
	}
	s, _ := e.srv.CreateSession(u.ID, org.ID)
	tok, _ := e.srv.SessionToken(s.ID, 0)
	_, claims := decodeJWT(t, tok)
	// per is sorted: pay, read; invoices has both (3), reports read only (2).
	want := map[string]any{"id": org.ID, "slg": "shop", "rol": "billing", "per": "pay,read", "fpm": "3,2"}
	if !reflect.DeepEqual(claims["o"], want) || claims["fea"] != "o:invoices,o:reports" {
		t.Errorf("o %v fea %v", claims["o"], claims["fea"])
	}
	creator, _ := e.srv.CreateUser(clerkemu.UserParams{})
	owned, err := e.srv.CreateOrganization("Owned", "", creator.ID)
	if err != nil {
		t.Fatal(err)
	}
	r := e.do(t, "GET", "/v1/organizations/"+owned.ID+"/memberships", "")
	var ms struct {
		Data []clerkemu.OrganizationMembership `json:"data"`
	}
	r.decode(t, &ms)
	if len(ms.Data) != 1 || ms.Data[0].Role != "org:billing" || ms.Data[0].RoleName != "Billing" {
		t.Errorf("creator membership %s", r.body)
	}
	for _, bad := range [][]clerkemu.Role{
		{{Key: "org:x", Permissions: []string{"invoices:read"}}},
		{{Key: "org:x"}, {Key: "org:x"}},
		{{Key: ""}},
	} {
		if _, err := clerkemu.New(clerkemu.Options{Roles: bad, SigningKey: testKey()}); err == nil {
			t.Errorf("roles %+v accepted", bad)
		}
	}
}

// TestSessionOrgBySlug: a session made active in an organization named by
// its slug is active in that organization, by id, and its tokens say so.
func TestSessionOrgBySlug(t *testing.T) {
	t.Parallel()
	e := newEnv(t, clerkemu.Options{})
	u, _ := e.srv.CreateUser(clerkemu.UserParams{})
	org, _ := e.srv.CreateOrganization("Acme", "acme", u.ID)
	s, err := e.srv.CreateSession(u.ID, "acme")
	if err != nil {
		t.Fatal(err)
	}
	if s.LastActiveOrganizationID == nil || *s.LastActiveOrganizationID != org.ID {
		t.Errorf("last_active_organization_id %v, want %s", s.LastActiveOrganizationID, org.ID)
	}
	tok, _ := e.srv.SessionToken(s.ID, 0)
	_, claims := decodeJWT(t, tok)
	if o, _ := claims["o"].(map[string]any); o == nil || o["id"] != org.ID || o["slg"] != "acme" {
		t.Errorf("o claim %v, want the organization %s", claims["o"], org.ID)
	}
}

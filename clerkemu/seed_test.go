package clerkemu_test

import (
	"bytes"
	"encoding/json"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/clerkgate/clerkgate/clerkemu"
)

// mustSeed seeds e with doc and fails the test on an error.
func mustSeed(t *testing.T, e *env, doc string) *clerkemu.SeedResult {
	t.Helper()
	res, err := e.srv.Seed(strings.NewReader(doc))
	if err != nil {
		t.Fatalf("Seed: %v", err)
	}
	return res
}

func readSeedExample(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("testdata/seed.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestSeedExample(t *testing.T) {
	t.Parallel()
	rec := &recorder{}
	e := newEnv(t, clerkemu.Options{OnEvent: rec.add})
	seed := readSeedExample(t)
	res := mustSeed(t, e, seed)
	if res.CreatedUsers != 3 || res.CreatedOrganizations != 1 || res.CreatedMemberships != 2 {
		t.Errorf("created %d users, %d organizations, %d memberships; want 3, 1, 2", res.CreatedUsers, res.CreatedOrganizations, res.CreatedMemberships)
	}
	want := []string{"user.created", "user.created", "user.created", "organization.created",
		"organizationMembership.created", "organizationMembership.created"}
	if got := types(rec.take()); !reflect.DeepEqual(got, want) {
		t.Errorf("events %v, want %v", got, want)
	}

	var users []struct {
		ID             string
		FirstName      string         `json:"first_name"`
		ExternalID     *string        `json:"external_id"`
		Banned         bool           `json:"banned"`
		PublicMetadata map[string]any `json:"public_metadata"`
	}
	mustOK(t, e.do(t, "GET", "/v1/users?email_address=alice@example.com", ""), "alice").decode(t, &users)
	if len(users) != 1 || users[0].FirstName != "Alice" || users[0].ExternalID == nil || *users[0].ExternalID != "42" ||
		users[0].PublicMetadata["role"] != "admin" || users[0].ID != res.Users[0].ID {
		t.Errorf("alice %+v", users)
	}
	jsonEqual(t, mustOK(t, e.do(t, "GET", "/v1/users/user_mallory", ""), "mallory").body, string(mustMarshal(t, res.Users[2])))
	if !res.Users[2].Banned || res.Users[2].PrivateMetadata["since"] != "2026-01-15" {
		t.Errorf("mallory %+v", res.Users[2])
	}
	var members []struct {
		Role           string `json:"role"`
		PublicUserData struct {
			Identifier string `json:"identifier"`
		} `json:"public_user_data"`
	}
	var page struct{ Data any }
	r := mustOK(t, e.do(t, "GET", "/v1/organizations/acme/memberships?order_by=created_at", ""), "members")
	r.decode(t, &page)
	r.body = mustMarshal(t, page.Data)
	r.decode(t, &members)
	if len(members) != 2 || members[0].Role != "org:admin" || members[0].PublicUserData.Identifier != "alice@example.com" ||
		members[1].Role != "org:member" || members[1].PublicUserData.Identifier != "bob@example.com" {
		t.Errorf("members %+v", members)
	}
	if o := res.Organizations[0]; o.Slug != "acme" || o.MembersCount != 2 || o.PublicMetadata["seats"] == nil {
		t.Errorf("organization %+v", o)
	}

	t.Run("again keeps everything", func(t *testing.T) {
		again := mustSeed(t, e, seed)
		if again.CreatedUsers+again.CreatedOrganizations+again.CreatedMemberships != 0 {
			t.Errorf("a second seed created %+v", again)
		}
		if !reflect.DeepEqual(again.Users, res.Users) || !reflect.DeepEqual(again.Organizations, res.Organizations) {
			t.Error("a second seed reports other records")
		}
		if evs := rec.take(); len(evs) != 0 {
			t.Errorf("a second seed emitted %v", types(evs))
		}
	})
	t.Run("after a restore", func(t *testing.T) {
		snap, err := e.srv.Snapshot()
		if err != nil {
			t.Fatal(err)
		}
		restored := newEnv(t, clerkemu.Options{State: snap})
		again := mustSeed(t, restored, seed)
		if again.CreatedUsers+again.CreatedOrganizations+again.CreatedMemberships != 0 || again.Users[0].ID != res.Users[0].ID {
			t.Errorf("seeding a restored emulator created %+v", again)
		}
	})
}

func TestSeedJSON(t *testing.T) {
	t.Parallel()
	e := newEnv(t, clerkemu.Options{})
	res := mustSeed(t, e, "{\n\t\"users\": [\n\t\t{\"email\": \"Alice@Example.com\", \"public_metadata\": {\"n\": 12345678901234567890123, \"f\": 0.5}}\n\t],\n"+
		"\t\"organizations\": [{\"name\": \"Acme Corp!\", \"members\": [{\"email\": \"alice@example.com\"}]}]\n}\n")
	u := res.Users[0]
	if u.PrimaryEmail() != "alice@example.com" || string(mustMarshal(t, u.PublicMetadata)) != `{"f":0.5,"n":12345678901234567890123}` {
		t.Errorf("user %s %s", u.PrimaryEmail(), mustMarshal(t, u.PublicMetadata))
	}
	if o := res.Organizations[0]; o.Slug != "acme-corp" || o.MembersCount != 1 {
		t.Errorf("organization %+v", o)
	}
}

func TestSeedMetadataKeepsText(t *testing.T) {
	t.Parallel()
	e := newEnv(t, clerkemu.Options{})
	res := mustSeed(t, e, `
users:
  - email: m@example.com
    public_metadata:
      joined: 2024-01-01
      at: 2024-01-01T10:00:00Z
      hex: 0x1F
      big: 123456789012345678901234567890
      exact: 1.50
      none: ~
      yes: yes
      on: true
      quoted: "007"
      base: &base {tier: gold, limits: [1, 2]}
      copy: *base
      list: [a, {b: c}]
`[1:])
	got := string(mustMarshal(t, res.Users[0].PublicMetadata))
	want := `{"at":"2024-01-01T10:00:00Z","base":{"limits":[1,2],"tier":"gold"},"big":123456789012345678901234567890,` +
		`"copy":{"limits":[1,2],"tier":"gold"},"exact":1.50,"hex":31,` +
		`"joined":"2024-01-01","list":["a",{"b":"c"}],"none":null,"on":true,"quoted":"007","yes":"yes"}`
	if got != want {
		t.Errorf("metadata\n got %s\nwant %s", got, want)
	}
}

func TestSeedKeepsExistingRecords(t *testing.T) {
	t.Parallel()
	e := newEnv(t, clerkemu.Options{})
	alice := mustUser(t, e, "alice@example.com")
	if _, err := e.srv.CreateOrganization("Old Acme", "acme", ""); err != nil {
		t.Fatal(err)
	}
	res := mustSeed(t, e, readSeedExample(t))
	if res.Users[0].ID != alice || res.Users[0].FirstName != nil {
		t.Errorf("an existing user was replaced or changed: %+v", res.Users[0])
	}
	if res.CreatedUsers != 2 || res.CreatedOrganizations != 0 || res.CreatedMemberships != 0 {
		t.Errorf("created %+v, want the two missing users only", res)
	}
	if o := res.Organizations[0]; o.Name != "Old Acme" || o.MembersCount != 0 {
		t.Errorf("an existing organization was changed: %+v", o)
	}
	// A member may be a user that only the emulator has.
	res = mustSeed(t, e, "organizations:\n  - name: Beta\n    members: [{email: alice@example.com, role: org:admin}]\n")
	if res.CreatedMemberships != 1 || res.Organizations[0].Slug != "beta" {
		t.Errorf("seed with an emulator user as member: %+v", res)
	}
}

func TestSeedErrors(t *testing.T) {
	t.Parallel()
	bomb := "users:\n  - email: a@example.com\n    public_metadata:\n      a: &a [x, x, x, x, x, x, x, x, x, x]\n"
	for _, c := range "bcdefghij" {
		prev := "*" + string(rune(c-1))
		bomb += "      " + string(c) + ": &" + string(c) + " [" + strings.Repeat(prev+", ", 9) + prev + "]\n"
	}
	tests := []struct {
		name string
		seed string
		want string
	}{
		{"unknown key", "users:\n  - email: a@example.com\n    emial: b@example.com\n", `line 3: unknown key "emial" in a user`},
		{"unknown top-level key", "user:\n  - email: a@example.com\n", `line 1: unknown key "user" in the seed document`},
		{"unknown member key", "organizations:\n  - name: A\n    members: [{email: a@example.com, rol: x}]\n", `line 3: unknown key "rol" in a member`},
		{"wrong type", "users: 3\n", "line 1: cannot unmarshal !!int `3`"},
		{"a list", "- a\n", "cannot unmarshal !!seq into the seed document"},
		{"syntax", "users:\n  - email: a: b\n", "clerkemu: seed: line 2: mapping values are not allowed"},
		{"two documents", "users: []\n---\nusers: []\n", "line 2: a second YAML document"},
		{"no email", "users:\n  - first_name: A\n", "line 2: users[0]: email is required"},
		{"bad email", "users:\n  - email: not-an-address\n", `users[0]: email "not-an-address" is not a valid email address`},
		{"email twice", "users:\n  - email: a@example.com\n  - email: A@example.com\n", "line 3: users[1]: email a@example.com is also users[0]'s"},
		{"bad id", "users:\n  - {email: a@example.com, id: alice}\n", `users[0]: id "alice" is not user_ followed by`},
		{"id twice", "users:\n  - {email: a@example.com, id: user_a}\n  - {email: b@example.com, id: user_a}\n", "users[1]: id user_a is also users[0]'s"},
		{"metadata not a mapping", "users:\n  - {email: a@example.com, public_metadata: [1]}\n", "users[0]: public_metadata: must be a mapping"},
		{"metadata key not a string", "users:\n  - email: a@example.com\n    public_metadata: {[1]: x}\n", "public_metadata: line 3: keys must be plain strings"},
		{"metadata key twice", "users:\n  - email: a@example.com\n    public_metadata: {a: 1, a: 2}\n", `key "a" appears twice`},
		{"metadata not JSON", "users:\n  - email: a@example.com\n    public_metadata: {n: .nan}\n", "line 3: .nan is not a JSON number"},
		{"alias bomb", bomb, "public_metadata: too deep or too many aliases"},
		{"org without name", "organizations:\n  - slug: acme\n", "line 2: organizations[0]: name is required"},
		{"bad slug", "organizations:\n  - {name: A, slug: A B}\n", `slug "A B" may hold only`},
		{"slug twice", "organizations:\n  - {name: Acme}\n  - {name: acme}\n", "organizations[1]: slug acme is also organizations[0]'s"},
		{"bad org id", "organizations:\n  - {name: A, id: user_x}\n", `id "user_x" is not org_ followed by`},
		{"negative limit", "organizations:\n  - {name: A, max_allowed_memberships: -1}\n", "max_allowed_memberships must not be negative"},
		{"too many members", "users: [{email: a@example.com}, {email: b@example.com}]\norganizations:\n  - name: A\n    max_allowed_memberships: 1\n" +
			"    members: [{email: a@example.com}, {email: b@example.com}]\n", "2 members are more than max_allowed_memberships 1"},
		{"unknown member", "users: [{email: a@example.com}]\norganizations:\n  - name: A\n    members:\n      - {email: a@example.com}\n      - {email: carol@example.com}\n",
			"line 6: organizations[0].members[1]: no user has the email carol@example.com, in the seed or in the emulator"},
		{"member twice", "users: [{email: a@example.com}]\norganizations:\n  - name: A\n    members: [{email: a@example.com}, {email: a@example.com}]\n", "a@example.com is also members[0]"},
		{"unknown role", "users: [{email: a@example.com}]\norganizations:\n  - name: A\n    members: [{email: a@example.com, role: admin}]\n",
			`role "admin" is not one of the emulator's roles (org:admin, org:member)`},
		{"several problems", "users:\n  - first_name: A\n  - email: x\n", "users[0]: email is required; line 3: users[1]: email \"x\""},
		{"fixed id, email of another", "users:\n  - {email: taken@example.com, id: user_new}\n", "email taken@example.com belongs to user user_"},
		{"fixed id, slug of another", "organizations:\n  - {name: Taken, id: org_new}\n", "slug taken belongs to organization org_"},
		{"username taken", "users:\n  - {email: fresh@example.com}\n  - {email: other@example.com, username: takenname}\n", "line 3: users[1]: That username is taken"},
		{"too large", "users: []\n" + strings.Repeat("#", 8<<20), "larger than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := &recorder{}
			e := newEnv(t, clerkemu.Options{OnEvent: rec.add})
			if _, err := e.srv.CreateUser(clerkemu.UserParams{Email: "taken@example.com", Username: "takenname"}); err != nil {
				t.Fatal(err)
			}
			if _, err := e.srv.CreateOrganization("Taken", "taken", ""); err != nil {
				t.Fatal(err)
			}
			before, _ := e.srv.Snapshot()
			rec.take()
			_, err := e.srv.Seed(strings.NewReader(tt.seed))
			switch {
			case err == nil:
				t.Fatalf("Seed succeeded, want an error containing %q", tt.want)
			case !strings.Contains(err.Error(), tt.want):
				t.Errorf("error %q, want %q", err, tt.want)
			case strings.Contains(err.Error(), "\n") || strings.Contains(err.Error(), "clerkemu.seed"):
				t.Errorf("error %q is not one line about the seed's keys", err)
			}
			if after, _ := e.srv.Snapshot(); !bytes.Equal(before, after) {
				t.Error("a failed seed changed the emulator")
			}
			if evs := rec.take(); len(evs) != 0 {
				t.Errorf("a failed seed emitted %v", types(evs))
			}
		})
	}
}

func TestSeedEmpty(t *testing.T) {
	t.Parallel()
	e := newEnv(t, clerkemu.Options{})
	for _, doc := range []string{"", "# nothing\n", "users: []\n", "{}", "null\n"} {
		res, err := e.srv.Seed(strings.NewReader(doc))
		if err != nil || len(res.Users)+len(res.Organizations) != 0 {
			t.Errorf("Seed(%q) = %+v, %v; want nothing done", doc, res, err)
		}
	}
}

func TestSeedCustomRoles(t *testing.T) {
	t.Parallel()
	e := newEnv(t, clerkemu.Options{Roles: []clerkemu.Role{{Key: "org:owner"}, {Key: "org:viewer"}}})
	_, err := e.srv.Seed(strings.NewReader("users: [{email: a@example.com}]\norganizations:\n  - {name: A, members: [{email: a@example.com}]}\n"))
	if err == nil || !strings.Contains(err.Error(), `role "org:member" is not one of the emulator's roles (org:owner, org:viewer)`) {
		t.Errorf("member without a role where org:member does not exist: %v", err)
	}
	res := mustSeed(t, e, "users: [{email: a@example.com}]\norganizations:\n  - {name: A, members: [{email: a@example.com, role: org:viewer}]}\n")
	if res.CreatedMemberships != 1 {
		t.Errorf("created %+v", res)
	}
	if !slices.ContainsFunc(res.Users, func(u clerkemu.User) bool { return u.PrimaryEmail() == "a@example.com" }) {
		t.Errorf("users %+v", res.Users)
	}
}

func mustMarshal(tb testing.TB, v any) []byte {
	tb.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

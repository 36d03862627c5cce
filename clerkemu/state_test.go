package clerkemu_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/clerk/clerk-sdk-go/v2/jwt"

	"github.com/clerkgate/clerkgate/clerkemu"
)

// mustOK fails the test unless r answered 200, and returns r.
func mustOK(tb testing.TB, r rawResponse, what string) rawResponse {
	tb.Helper()
	if r.status != http.StatusOK {
		tb.Fatalf("%s: status %d: %s", what, r.status, r.body)
	}
	return r
}

// idOf returns the "id" of a JSON object answer.
func idOf(tb testing.TB, r rawResponse) string {
	tb.Helper()
	var v struct{ ID string }
	r.decode(tb, &v)
	if v.ID == "" {
		tb.Fatalf("no id in %s", r.body)
	}
	return v.ID
}

// richState builds an emulator with every kind of record, through the Go
// helpers and the HTTP API, and returns it with tokens it minted along the
// way (signed by different keys) and the ids of its users and orgs.
func richState(t *testing.T, clk *fixedClock) (e *env, tokens []string, users, orgs []string) {
	t.Helper()
	e = newEnv(t, clerkemu.Options{Clock: clk.Now, TokenTTL: time.Hour})
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	// A session that expires on its own: stored active, read as expired.
	early, err := e.srv.CreateUser(clerkemu.UserParams{Email: "early@example.com"})
	must(err)
	_, err = e.srv.CreateSession(early.ID, "")
	must(err)
	clk.Advance(8 * 24 * time.Hour)

	alice, err := e.srv.CreateUser(clerkemu.UserParams{Email: "alice@example.com", MoreEmails: []string{"a.admin@example.com"},
		Username: "alice", FirstName: "Alice", LastName: "Admin", ExternalID: "42", Password: "correct horse",
		PublicMetadata: map[string]any{"role": "admin", "n": uint64(12345678901234567890)}})
	must(err)
	bob := idOf(t, mustOK(t, e.do(t, "POST", "/v1/users", `{"email_address":["bob@example.com"],"first_name":"Bob",
		"public_metadata":{"role":"member","big":123456789012345678901234567890,"f":0.1},
		"private_metadata":{"x":{"y":[1,2.5,null,"s"]}},"unsafe_metadata":{"theme":"dark"}}`), "create bob"))
	carol := idOf(t, mustOK(t, e.do(t, "POST", "/v1/users", `{"email_address":["carol@example.com"]}`), "create carol"))
	dave, err := e.srv.CreateUser(clerkemu.UserParams{Email: "dave@example.com", PasswordDigest: "$2a$10$abcdefghijklmnopqrstuv", PasswordHasher: "bcrypt"})
	must(err)
	_, err = e.srv.LockUser(dave.ID)
	must(err)
	eve, err := e.srv.CreateUser(clerkemu.UserParams{Email: "eve@example.com"})
	must(err)

	acme, err := e.srv.CreateOrganization("Acme", "acme", alice.ID)
	must(err)
	mustOK(t, e.do(t, "POST", "/v1/organizations/"+acme.ID+"/memberships", `{"user_id":"`+bob+`","role":"org:member"}`), "add bob")
	mustOK(t, e.do(t, "PATCH", "/v1/organizations/"+acme.ID+"/metadata", `{"public_metadata":{"plan":"pro"},"private_metadata":{"seats":25}}`), "org metadata")
	globex := idOf(t, mustOK(t, e.do(t, "POST", "/v1/organizations", `{"name":"Globex","max_allowed_memberships":3}`), "create globex"))
	initech, err := e.srv.CreateOrganization("Initech", "", "")
	must(err)
	must(e.srv.AddMembership(initech.ID, bob, "org:admin"))

	// Sessions: active with an organization, revoked, pending, with an
	// actor, one whose organization is deleted, and one of a banned user.
	aliceSess, err := e.srv.CreateSession(alice.ID, acme.ID)
	must(err)
	tok, err := e.srv.SessionToken(aliceSess.ID, 24*time.Hour)
	must(err)
	tokens = append(tokens, tok)
	revoked := idOf(t, mustOK(t, e.do(t, "POST", "/v1/sessions", `{"user_id":"`+bob+`"}`), "bob session"))
	mustOK(t, e.do(t, "POST", "/v1/sessions/"+revoked+"/revoke", ""), "revoke")
	mustOK(t, e.do(t, "POST", "/v1/sessions", `{"user_id":"`+bob+`","status":"pending"}`), "pending")
	_, err = e.srv.CreateSessionWith(clerkemu.SessionParams{UserID: bob, Actor: map[string]any{"sub": alice.ID}, AuthorizedParty: "https://app.example"})
	must(err)
	_, err = e.srv.CreateSession(bob, initech.ID)
	must(err)
	mustOK(t, e.do(t, "DELETE", "/v1/organizations/"+initech.ID, ""), "delete initech")
	_, err = e.srv.CreateSession(carol, "")
	must(err)
	mustOK(t, e.do(t, "POST", "/v1/users/"+carol+"/ban", ""), "ban carol")
	must(e.srv.DeleteUser(eve.ID))

	// Rotated keys: a token from each key, the old ones kept.
	for range 2 {
		if _, err := e.srv.RotateKey(true); err != nil {
			t.Fatal(err)
		}
		tok, err := e.srv.SessionToken(aliceSess.ID, 24*time.Hour)
		must(err)
		tokens = append(tokens, tok)
	}
	clk.Advance(time.Minute)
	return e, tokens, []string{early.ID, alice.ID, bob, carol, dave.ID}, []string{acme.ID, globex}
}

// readPaths are the GET requests whose answers a restore must keep.
func readPaths(users, orgs []string) []string {
	paths := []string{"/v1/users?limit=500", "/v1/users?order_by=%2Bcreated_at&limit=500", "/v1/users/count",
		"/v1/organizations?limit=500&include_members_count=true", "/v1/jwks"}
	for _, id := range users {
		paths = append(paths, "/v1/users/"+id, "/v1/users/"+id+"/organization_memberships",
			"/v1/sessions?user_id="+id+"&limit=500")
	}
	for _, id := range orgs {
		paths = append(paths, "/v1/organizations/"+id, "/v1/organizations/"+id+"/memberships?limit=500")
	}
	return paths
}

func TestStateRoundTrip(t *testing.T) {
	t.Parallel()
	clk := &fixedClock{t: epoch}
	a, tokens, users, orgs := richState(t, clk)
	snap, err := a.srv.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	b := newEnv(t, clerkemu.Options{Clock: clk.Now, TokenTTL: time.Hour, State: snap, OnEvent: rec.add})

	if b.srv.SecretKey() != a.srv.SecretKey() || b.srv.Issuer() != a.srv.Issuer() || b.srv.KeyID() != a.srv.KeyID() {
		t.Error("the restored instance has another secret key, issuer or signing key")
	}
	for _, p := range readPaths(users, orgs) {
		got, want := mustOK(t, b.do(t, "GET", p, ""), p), mustOK(t, a.do(t, "GET", p, ""), p)
		if !bytes.Equal(got.body, want.body) {
			t.Errorf("GET %s after restore:\n got %s\nwant %s", p, got.body, want.body)
		}
	}
	if again, err := b.srv.Snapshot(); err != nil || !bytes.Equal(again, snap) {
		t.Errorf("Snapshot of the restored emulator differs from the one it was restored from (%v)", err)
	}
	if evs := rec.take(); len(evs) != 0 {
		t.Errorf("restore emitted %v", types(evs))
	}

	for i, tok := range tokens {
		h, _ := decodeJWT(t, tok)
		if _, err := jwt.Verify(ctx(), &jwt.VerifyParams{Token: tok, JWK: b.fetchKey(t, h["kid"].(string)), Clock: clk}); err != nil {
			t.Errorf("token %d (kid %v) minted before the restore does not verify: %v", i, h["kid"], err)
		}
	}

	t.Run("keeps working", func(t *testing.T) { checkRestoredWorks(t, b, clk, snap, users[1], users[2], orgs[0]) })
}

// checkRestoredWorks creates, updates and deletes through a restored
// emulator, checking that new ids and the order of records continue the
// old ones.
func checkRestoredWorks(t *testing.T, b *env, clk *fixedClock, snap []byte, alice, bob, acme string) {
	frank := idOf(t, mustOK(t, b.do(t, "POST", "/v1/users", `{"email_address":["frank@example.com"]}`), "create frank"))
	sess := idOf(t, mustOK(t, b.do(t, "POST", "/v1/sessions", `{"user_id":"`+alice+`","active_organization_id":"`+acme+`"}`), "session"))
	org := idOf(t, mustOK(t, b.do(t, "POST", "/v1/organizations", `{"name":"New Co","created_by":"`+frank+`"}`), "org"))
	for _, id := range []string{frank, sess, org} {
		if bytes.Contains(snap, []byte(`"`+id+`"`)) {
			t.Errorf("new id %s was already in the state", id)
		}
	}
	// Same clock, so only the restored sequence orders the new records
	// after the old ones: newest first.
	var list []struct{ ID string }
	mustOK(t, b.do(t, "GET", "/v1/users?limit=1", ""), "list").decode(t, &list)
	if len(list) != 1 || list[0].ID != frank {
		t.Errorf("newest user %v, want %s", list, frank)
	}
	mustOK(t, b.do(t, "GET", "/v1/sessions?user_id="+alice+"&limit=1", ""), "sessions").decode(t, &list)
	if len(list) != 1 || list[0].ID != sess {
		t.Errorf("newest session %v, want %s", list, sess)
	}
	var tok struct{ JWT string }
	mustOK(t, b.do(t, "POST", "/v1/sessions/"+sess+"/tokens", ""), "token").decode(t, &tok)
	h, c := decodeJWT(t, tok.JWT)
	if _, err := jwt.Verify(ctx(), &jwt.VerifyParams{Token: tok.JWT, JWK: b.fetchKey(t, h["kid"].(string)), Clock: clk}); err != nil {
		t.Errorf("new token: %v", err)
	}
	if o, _ := c["o"].(map[string]any); o["id"] != acme || o["rol"] != "admin" {
		t.Errorf("o claim %v, want admin of %s", c["o"], acme)
	}

	if r := b.do(t, "POST", "/v1/users", `{"email_address":["alice@example.com"]}`); r.status != http.StatusUnprocessableEntity {
		t.Errorf("a restored email address is free again: %d %s", r.status, r.body)
	}
	if r := b.do(t, "POST", "/v1/organizations", `{"name":"x","slug":"acme"}`); r.status != http.StatusUnprocessableEntity {
		t.Errorf("a restored slug is free again: %d %s", r.status, r.body)
	}
	mustOK(t, b.do(t, "PATCH", "/v1/users/"+alice, `{"first_name":"Alicia"}`), "update")
	mustOK(t, b.do(t, "PATCH", "/v1/users/"+alice+"/metadata", `{"public_metadata":{"n":null,"x":1}}`), "metadata")
	var u struct {
		FirstName      string         `json:"first_name"`
		PublicMetadata map[string]any `json:"public_metadata"`
	}
	mustOK(t, b.do(t, "GET", "/v1/users/"+alice, ""), "get").decode(t, &u)
	if u.FirstName != "Alicia" || len(u.PublicMetadata) != 2 || u.PublicMetadata["role"] != "admin" {
		t.Errorf("after update: %+v", u)
	}
	mustOK(t, b.do(t, "DELETE", "/v1/users/"+bob, ""), "delete bob")
	var o struct {
		MembersCount int `json:"members_count"`
	}
	mustOK(t, b.do(t, "GET", "/v1/organizations/"+acme, ""), "org").decode(t, &o)
	if o.MembersCount != 1 {
		t.Errorf("members_count %d after deleting a member, want 1", o.MembersCount)
	}
	if r := b.do(t, "GET", "/v1/sessions?user_id="+bob, ""); string(r.body) != "[]" {
		t.Errorf("sessions of a deleted user: %s", r.body)
	}
	clk.Advance(time.Second)
}

func TestStateOptions(t *testing.T) {
	t.Parallel()
	src := newEnv(t, clerkemu.Options{SecretKey: "sk_test_state_options", Issuer: "https://clerk.state.example"})
	u, _ := src.srv.CreateUser(clerkemu.UserParams{Email: "m@example.com"})
	org, _ := src.srv.CreateOrganization("Org", "org", u.ID)
	if err := src.srv.AddMembership(org.ID, mustUser(t, src, "n@example.com"), "org:member"); err != nil {
		t.Fatal(err)
	}
	snap, err := src.srv.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		opts clerkemu.Options
		want string // "" for success
	}{
		{"same settings", clerkemu.Options{SecretKey: "sk_test_state_options", Issuer: "https://clerk.state.example", Name: "clerkgate"}, ""},
		{"settings from the state", clerkemu.Options{}, ""},
		{"signing key", clerkemu.Options{SigningKey: testKey()}, "Options.SigningKey and Options.State cannot be used together"},
		{"other secret key", clerkemu.Options{SecretKey: "sk_test_other"}, "the secret key (Options.SecretKey) differs from the state's"},
		{"other issuer", clerkemu.Options{Issuer: "https://clerk.other.example"}, `the issuer "https://clerk.other.example" (Options.Issuer) differs from the state's "https://clerk.state.example"`},
		{"other name", clerkemu.Options{Name: "other"}, `the name "other" (Options.Name) differs`},
		{"a role is gone", clerkemu.Options{Roles: []clerkemu.Role{{Key: "org:admin"}}}, `memberships[1] (`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.opts.State = snap
			e, err := clerkemu.New(tt.opts)
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("New: %v", err)
			case tt.want == "":
				if e.SecretKey() != "sk_test_state_options" || e.Issuer() != "https://clerk.state.example" {
					t.Errorf("secret key or issuer not restored: %q", e.Issuer())
				}
			case err == nil:
				t.Fatalf("New succeeded, want an error containing %q", tt.want)
			case !strings.Contains(err.Error(), tt.want):
				t.Errorf("error %q, want %q", err, tt.want)
			case strings.Contains(err.Error(), "sk_test_"):
				t.Errorf("error shows a secret key: %q", err)
			}
		})
	}
}

func mustUser(t *testing.T, e *env, email string) string {
	t.Helper()
	u, err := e.srv.CreateUser(clerkemu.UserParams{Email: email})
	if err != nil {
		t.Fatal(err)
	}
	return u.ID
}

func TestSaveAndLoadFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "state.json")
	if data, err := clerkemu.LoadFile(path); data != nil || err != nil {
		t.Fatalf("LoadFile of a missing file = %q, %v; want nil, nil", data, err)
	}
	e := newEnv(t, clerkemu.Options{})
	id := mustUser(t, e, "file@example.com")
	if err := os.WriteFile(path, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := e.srv.SaveFile(path); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path); err != nil {
		t.Fatal(err)
	} else if runtime.GOOS != "windows" && fi.Mode().Perm() != 0o600 {
		t.Errorf("state file mode %v, want 0600", fi.Mode().Perm())
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("files left in the directory: %v", entries)
	}
	data, err := clerkemu.LoadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Version int `json:"version"`
	}
	if err := json.Unmarshal(data, &doc); err != nil || doc.Version != 1 {
		t.Errorf("state file: version %d, %v", doc.Version, err)
	}
	restored, err := clerkemu.New(clerkemu.Options{State: data})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := restored.GetUser(id); err != nil {
		t.Errorf("user not restored from the file: %v", err)
	}

	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := clerkemu.LoadFile(path); err == nil || !strings.Contains(err.Error(), "empty file, not a state") {
		t.Errorf("LoadFile of an empty file: %v, want an error", err)
	}
	err = e.srv.SaveFile(filepath.Join(dir, "missing", "state.json"))
	if err == nil || !strings.Contains(err.Error(), "clerkemu: save state") {
		t.Errorf("SaveFile into a missing directory: %v", err)
	}
	if entries, _ := os.ReadDir(dir); !slices.ContainsFunc(entries, func(d os.DirEntry) bool { return d.Name() == "state.json" }) || len(entries) != 1 {
		t.Errorf("files in the directory: %v", entries)
	}
}

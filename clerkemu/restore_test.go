package clerkemu_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/clerkgate/clerkgate/clerkemu"
)

const baseSecret = "sk_test_hostile_state_base"

// baseState is a small valid state: two users (the first with a username
// and an external id), an organization with both as members, a session.
var baseState = sync.OnceValues(func() ([]byte, error) {
	e, err := clerkemu.New(clerkemu.Options{SigningKey: testKey(), SecretKey: baseSecret})
	if err != nil {
		return nil, err
	}
	a, err := e.CreateUser(clerkemu.UserParams{Email: "a@example.com", Username: "alpha", ExternalID: "42",
		PublicMetadata: map[string]any{"k": []any{1, "two", nil}}})
	if err != nil {
		return nil, err
	}
	b, err := e.CreateUser(clerkemu.UserParams{Email: "b@example.com"})
	if err != nil {
		return nil, err
	}
	org, err := e.CreateOrganization("Org", "org", a.ID)
	if err != nil {
		return nil, err
	}
	if err := e.AddMembership(org.ID, b.ID, "org:member"); err != nil {
		return nil, err
	}
	if _, err := e.CreateSession(b.ID, org.ID); err != nil {
		return nil, err
	}
	return e.Snapshot()
})

func mustBaseState(tb testing.TB) []byte {
	tb.Helper()
	s, err := baseState()
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// stateDoc is a state document decoded generically, for mutation.
type stateDoc map[string]any

func decodeDoc(tb testing.TB, data []byte) stateDoc {
	tb.Helper()
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var d stateDoc
	if err := dec.Decode(&d); err != nil {
		tb.Fatal(err)
	}
	return d
}

// obj returns the object at path: member names and list indexes.
func (d stateDoc) obj(path ...any) map[string]any {
	var v any = map[string]any(d)
	for _, p := range path {
		switch p := p.(type) {
		case string:
			v = v.(map[string]any)[p]
		case int:
			v = v.([]any)[p]
		}
	}
	return v.(map[string]any)
}

// list returns the list member name.
func (d stateDoc) list(name string) []any { return d[name].([]any) }

// clone deep-copies a decoded JSON value.
func clone(v any) any {
	raw, _ := json.Marshal(v)
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var out any
	_ = dec.Decode(&out)
	return out
}

func pkcs8(tb testing.TB, key any) string {
	tb.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		tb.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(der)
}

func TestRestoreRejectsHostileState(t *testing.T) {
	t.Parallel()
	base := mustBaseState(t)
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	smallKey, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	user := func(i int) []any { return []any{"users", i, "user"} }
	tests := []struct {
		name   string
		raw    string           // the document, if set
		mutate func(d stateDoc) // else a change to the base state
		want   string
	}{
		{name: "not JSON", raw: "hello", want: "state is not a JSON object"},
		{name: "truncated", raw: string(base[:len(base)/2]), want: "not a JSON object (truncated or damaged?)"},
		{name: "trailing data", raw: string(base) + "{}", want: "not a JSON object"},
		{name: "a list", raw: "[]", want: "not a JSON object"},
		{name: "null", raw: "null", want: "state has no version"},
		{name: "no version", raw: "{}", want: "state has no version"},
		{name: "future version", raw: `{"version":2}`, want: "state version 2 is not supported (want 1)"},
		{name: "version as string", raw: `{"version":"1"}`, want: `state version "1" is not supported`},
		{name: "only a version", raw: `{"version":1}`, want: "state has no secret_key"},
		{name: "unknown member", mutate: func(d stateDoc) { d["extra"] = true }, want: `unknown field "extra"`},
		{name: "unknown user member", mutate: func(d stateDoc) { d.obj(user(0)...)["favourite"] = 1 }, want: `unknown field "favourite"`},
		{name: "wrong type", mutate: func(d stateDoc) { d.obj("users", 0)["user"] = "alice" }, want: "cannot unmarshal string"},
		{name: "metadata not an object", mutate: func(d stateDoc) { d.obj(user(0)...)["public_metadata"] = []any{1} }, want: "cannot unmarshal array"},
		{name: "no secret key", mutate: func(d stateDoc) { delete(d, "secret_key") }, want: "state has no secret_key"},
		{name: "secret key with space", mutate: func(d stateDoc) { d["secret_key"] = "sk_test_a b" }, want: "must not contain white space"},
		{name: "no issuer", mutate: func(d stateDoc) { d["issuer"] = "" }, want: "state has no issuer"},
		{name: "no keys", mutate: func(d stateDoc) { d["keys"] = []any{} }, want: "state: no signing key"},
		{name: "keys null", mutate: func(d stateDoc) { d["keys"] = nil }, want: "state: no signing key"},
		{name: "key not base64", mutate: func(d stateDoc) { d.obj("keys", 0)["private_key"] = "!!" }, want: "keys[0] (ins_"},
		{name: "key not PKCS 8", mutate: func(d stateDoc) { d.obj("keys", 0)["private_key"] = "anVuaw==" }, want: "private_key is not a PKCS #8 key"},
		{name: "EC key", mutate: func(d stateDoc) { d.obj("keys", 0)["private_key"] = pkcs8(t, ecKey) }, want: "want an RSA key"},
		{name: "small key", mutate: func(d stateDoc) { d.obj("keys", 0)["private_key"] = pkcs8(t, smallKey) }, want: "signing key has 1024 bits"},
		{name: "bad kid", mutate: func(d stateDoc) { d.obj("keys", 0)["kid"] = `x"y` }, want: `kid "x\"y" is not an ins_... key id`},
		{name: "kid twice", mutate: func(d stateDoc) { d["keys"] = []any{d.list("keys")[0], d.list("keys")[0]} }, want: "keys[1]: kid"},
		{name: "seq too small", mutate: func(d stateDoc) { d["seq"] = 1 }, want: "seq 2 is not in 1..1"},
		{name: "seq zero", mutate: func(d stateDoc) { d.obj("users", 0)["seq"] = 0 }, want: "users[0] (user_"},
		{name: "seq negative", mutate: func(d stateDoc) { d["seq"] = -1 }, want: "cannot unmarshal number -1"},
		{name: "seq twice", mutate: func(d stateDoc) { d.obj("users", 1)["seq"] = d.obj("users", 0)["seq"] }, want: `seq "1" is also users[0]`},
		{name: "bad user id", mutate: func(d stateDoc) { d.obj(user(0)...)["id"] = "../x" }, want: `users[0] (../x): id "../x" is not a user_... id`},
		{name: "user twice", mutate: func(d stateDoc) { d["users"] = append(d.list("users"), clone(d.list("users")[0])) }, want: "users[2] (user_"},
		{name: "email taken", mutate: func(d stateDoc) {
			d.obj(append(user(1), "email_addresses", 0)...)["email_address"] = "a@example.com"
		}, want: `email address "a@example.com" is also users[0]`},
		{name: "email upper case", mutate: func(d stateDoc) {
			d.obj(append(user(0), "email_addresses", 0)...)["email_address"] = "A@example.com"
		}, want: `"A@example.com" is not a valid lower-case email address`},
		{name: "email id twice", mutate: func(d stateDoc) {
			d.obj(append(user(1), "email_addresses", 0)...)["id"] = d.obj(append(user(0), "email_addresses", 0)...)["id"]
			d.obj(user(1)...)["primary_email_address_id"] = d.obj(user(0)...)["primary_email_address_id"]
		}, want: "email address id"},
		{name: "primary email elsewhere", mutate: func(d stateDoc) {
			d.obj(user(1)...)["primary_email_address_id"] = d.obj(user(0)...)["primary_email_address_id"]
		}, want: "is not one of the user's addresses"},
		{name: "bad username", mutate: func(d stateDoc) { d.obj(user(0)...)["username"] = "Al pha" }, want: `username "Al pha" is invalid`},
		{name: "username taken", mutate: func(d stateDoc) { d.obj(user(1)...)["username"] = "alpha" }, want: `username "alpha" is also users[0]`},
		{name: "external id taken", mutate: func(d stateDoc) { d.obj(user(1)...)["external_id"] = "42" }, want: `external_id "42" is also users[0]`},
		{name: "digest without hasher", mutate: func(d stateDoc) { d.obj("users", 0)["password_digest"] = "x" }, want: "password_digest and password_hasher go together"},
		{name: "org without name", mutate: func(d stateDoc) { d.obj("organizations", 0, "organization")["name"] = " " }, want: "organizations[0] (org_"},
		{name: "bad slug", mutate: func(d stateDoc) { d.obj("organizations", 0, "organization")["slug"] = "Bad Slug" }, want: `slug "Bad Slug"`},
		{name: "slug taken", mutate: func(d stateDoc) {
			o := clone(d.list("organizations")[0]).(map[string]any)
			o["seq"] = d["seq"]
			o["organization"].(map[string]any)["id"] = "org_other"
			d["organizations"] = append(d.list("organizations"), o)
		}, want: "organizations[1] (org_other): slug \"org\": That slug is taken"},
		{name: "negative limit", mutate: func(d stateDoc) { d.obj("organizations", 0, "organization")["max_allowed_memberships"] = -1 }, want: "max_allowed_memberships is negative"},
		{name: "membership of a missing org", mutate: func(d stateDoc) { d.obj("memberships", 0)["organization_id"] = "org_missing" }, want: `memberships[0] (orgmem_`},
		{name: "membership of a missing user", mutate: func(d stateDoc) { d.obj("memberships", 1)["user_id"] = "user_missing" }, want: `user "user_missing" does not exist`},
		{name: "unknown role", mutate: func(d stateDoc) { d.obj("memberships", 1)["role"] = "org:owner" }, want: `role "org:owner" is not one of Options.Roles`},
		{name: "member twice", mutate: func(d stateDoc) { d.obj("memberships", 1)["user_id"] = d.obj("memberships", 0)["user_id"] }, want: "is already a member of"},
		{name: "session of a missing user", mutate: func(d stateDoc) { d.obj("sessions", 0, "session")["user_id"] = "user_gone" }, want: `sessions[0] (sess_`},
		{name: "bad session status", mutate: func(d stateDoc) { d.obj("sessions", 0, "session")["status"] = "zombie" }, want: `status "zombie" is not a session status`},
		{name: "actor without sub", mutate: func(d stateDoc) { d.obj("sessions", 0, "session")["actor"] = map[string]any{"x": 1} }, want: "actor has no sub"},
		{name: "bad session id", mutate: func(d stateDoc) { d.obj("sessions", 0, "session")["id"] = "session_1" }, want: `id "session_1" is not a sess_... id`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			data := []byte(tt.raw)
			if tt.mutate != nil {
				d := decodeDoc(t, base)
				tt.mutate(d)
				var err error
				if data, err = json.Marshal(d); err != nil {
					t.Fatal(err)
				}
			}
			_, err := clerkemu.New(clerkemu.Options{State: data})
			switch {
			case err == nil:
				t.Fatalf("New succeeded, want an error containing %q", tt.want)
			case !strings.Contains(err.Error(), tt.want):
				t.Errorf("error %q, want %q", err, tt.want)
			case strings.ContainsAny(err.Error(), "\n") || !strings.HasPrefix(err.Error(), "clerkemu: "):
				t.Errorf("error %q is not one clerkemu line", err)
			case strings.Contains(err.Error(), baseSecret):
				t.Errorf("error shows the secret key: %q", err)
			}
		})
	}
}

// FuzzRestore feeds New arbitrary state documents: it must fail cleanly or
// restore an emulator that serves without errors and snapshots to a state
// that restores to itself.
func FuzzRestore(f *testing.F) {
	base := mustBaseState(f)
	f.Add(base)
	for _, n := range []int{0, 1, 12, len(base) / 3, len(base) - 1} {
		f.Add(base[:n])
	}
	d := decodeDoc(f, base)
	d["users"] = []any{}
	d["memberships"] = []any{}
	noUsers, _ := json.Marshal(d)
	f.Add(noUsers)
	f.Add([]byte(`{"version":1,"name":"n","issuer":"i","secret_key":"sk","seq":0,"keys":[]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := clerkemu.New(clerkemu.Options{State: data})
		if err != nil {
			if !strings.HasPrefix(err.Error(), "clerkemu: ") {
				t.Errorf("error %q without the package prefix", err)
			}
			return
		}
		snap, err := e.Snapshot()
		if err != nil {
			t.Fatalf("Snapshot of a restored emulator: %v", err)
		}
		again, err := clerkemu.New(clerkemu.Options{State: snap})
		if err != nil {
			t.Fatalf("the Snapshot of a restored emulator does not restore: %v", err)
		}
		if snap2, _ := again.Snapshot(); !bytes.Equal(snap, snap2) {
			t.Errorf("state changes through a second restore:\n%s\n%s", snap, snap2)
		}
		var doc struct {
			Users []struct {
				User struct{ ID string } `json:"user"`
			} `json:"users"`
			Organizations []struct {
				Organization struct{ ID string } `json:"organization"`
			} `json:"organizations"`
		}
		_ = json.Unmarshal(snap, &doc)
		paths := []string{"/v1/users", "/v1/organizations", "/v1/jwks"}
		for _, u := range doc.Users {
			paths = append(paths, "/v1/users/"+u.User.ID+"/organization_memberships", "/v1/sessions?user_id="+u.User.ID)
		}
		for _, o := range doc.Organizations {
			paths = append(paths, "/v1/organizations/"+o.Organization.ID+"/memberships")
		}
		for _, p := range paths {
			req := httptest.NewRequest(http.MethodGet, p, nil)
			req.Header.Set("Authorization", "Bearer "+e.SecretKey())
			rec := httptest.NewRecorder()
			e.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK {
				t.Errorf("GET %s: %d %s", p, rec.Code, rec.Body)
			}
		}
	})
}

package main

import (
	"bytes"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/clerkgate/clerkgate/clerkemu"
	"github.com/clerkgate/clerkgate/verify"
)

// app is the notes server in front of an emulated Clerk instance: alice is
// org:admin of acme, bob its org:member, carol in no organization.
type app struct {
	emu   *clerkemu.Server
	deny  *verify.MemoryDenyList
	url   string
	users map[string]string // name -> Clerk user id
	acme  string
}

func newApp(t *testing.T) *app {
	t.Helper()
	emu := clerkemu.Start(t, clerkemu.Options{})
	a := &app{emu: emu, deny: &verify.MemoryDenyList{}, users: map[string]string{}}
	for _, name := range []string{"alice", "bob", "carol"} {
		u, err := emu.CreateUser(clerkemu.UserParams{Email: name + "@example.com"})
		must(t, err)
		a.users[name] = u.ID
	}
	org, err := emu.CreateOrganization("Acme", "acme", a.users["alice"])
	must(t, err)
	a.acme = org.ID
	must(t, emu.AddMembership(org.ID, a.users["bob"], "org:member"))

	// As run does it: the key set from the Backend API, with the secret key.
	v, err := verify.New(verify.Options{JWKSURL: emu.APIURL + "/jwks", SecretKey: emu.SecretKey(), DenyList: a.deny})
	must(t, err)
	h, err := newServer(deps{Verifier: v})
	must(t, err)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	a.url = srv.URL
	return a
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// session creates a session described by p and returns a token of it and
// its id.
func (a *app) session(t *testing.T, p clerkemu.SessionParams) (token, sessionID string) {
	t.Helper()
	s, err := a.emu.CreateSessionWith(p)
	must(t, err)
	token, err = a.emu.SessionToken(s.ID, time.Minute)
	must(t, err)
	return token, s.ID
}

// token is session for a user, in acme when they are a member of it.
func (a *app) token(t *testing.T, name string) string {
	t.Helper()
	p := clerkemu.SessionParams{UserID: a.users[name]}
	if name != "carol" {
		p.ActiveOrganizationID = a.acme
	}
	tok, _ := a.session(t, p)
	return tok
}

type result struct {
	status int
	header http.Header
	body   []byte
	doc    map[string]any
}

func (r result) code() string { s, _ := r.doc["code"].(string); return s }

// do sends a request with the token (none when empty) and a JSON body (none
// when nil).
func (a *app) do(t *testing.T, method, path, token string, body any) result {
	t.Helper()
	var rd io.Reader
	if body != nil {
		if s, ok := body.(string); ok {
			rd = strings.NewReader(s)
		} else {
			b, err := json.Marshal(body)
			must(t, err)
			rd = bytes.NewReader(b)
		}
	}
	req, err := http.NewRequest(method, a.url+path, rd)
	must(t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	must(t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	must(t, err)
	out := result{status: res.StatusCode, header: res.Header, body: b}
	json.Unmarshal(b, &out.doc)
	return out
}

func (a *app) mustDo(t *testing.T, want int, method, path, token string, body any) result {
	t.Helper()
	res := a.do(t, method, path, token, body)
	if res.status != want {
		t.Fatalf("%s %s: status %d, want %d; body %s", method, path, res.status, want, res.body)
	}
	return res
}

// ids returns the ids of the notes of a {"data":[...]} answer.
func ids(t *testing.T, res result) []string {
	t.Helper()
	data, ok := res.doc["data"].([]any)
	if !ok {
		t.Fatalf("no data array in %s", res.body)
	}
	out := []string{}
	for _, d := range data {
		out = append(out, d.(map[string]any)["id"].(string))
	}
	return out
}

// TestOwnerOnly checks the object-level rule: a note is its owner's alone,
// and another user cannot tell it from a note that does not exist.
func TestOwnerOnly(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	alice, bob := a.token(t, "alice"), a.token(t, "bob")

	created := a.mustDo(t, 201, "POST", "/notes", bob, map[string]string{"title": "groceries", "body": "milk"})
	id, _ := created.doc["id"].(string)
	if !strings.HasPrefix(id, "note_") || created.header.Get("Location") != "/notes/"+id || created.doc["owner_id"] != a.users["bob"] {
		t.Fatalf("created %s, Location %q", created.body, created.header.Get("Location"))
	}
	a.mustDo(t, 201, "POST", "/notes", alice, map[string]string{"title": "alice's"})

	got := a.mustDo(t, 200, "GET", "/notes/"+id, bob, nil)
	if got.doc["title"] != "groceries" || got.doc["body"] != "milk" {
		t.Errorf("GET = %s", got.body)
	}
	if l := ids(t, a.mustDo(t, 200, "GET", "/notes", bob, nil)); !slices.Equal(l, []string{id}) {
		t.Errorf("bob's list = %q, want [%s]", l, id)
	}
	if l := ids(t, a.mustDo(t, 200, "GET", "/notes", alice, nil)); len(l) != 1 || l[0] == id {
		t.Errorf("alice's list = %q, want her note only", l)
	}

	// Alice (an admin, even) gets for bob's note exactly what she gets for
	// a note that does not exist.
	for _, tc := range []struct {
		method string
		body   any
	}{{"GET", nil}, {"PUT", map[string]string{"title": "hacked"}}, {"PUT", "not json"}, {"DELETE", nil}} {
		theirs := a.do(t, tc.method, "/notes/"+id, alice, tc.body)
		missing := a.do(t, tc.method, "/notes/note_00000000000000000000000000000000", alice, tc.body)
		if theirs.status != 404 || theirs.code() != "not_found" {
			t.Errorf("%s someone else's note: %d %s", tc.method, theirs.status, theirs.body)
		}
		delete(theirs.doc, "request_id")
		delete(missing.doc, "request_id")
		if !maps.Equal(theirs.doc, missing.doc) || theirs.header.Get("Content-Type") != missing.header.Get("Content-Type") {
			t.Errorf("%s: someone else's note %s, a missing one %s", tc.method, theirs.body, missing.body)
		}
	}
	if got := a.mustDo(t, 200, "GET", "/notes/"+id, bob, nil); got.doc["title"] != "groceries" {
		t.Errorf("after alice's attempts: %s", got.body)
	}

	updated := a.mustDo(t, 200, "PUT", "/notes/"+id, bob, map[string]string{"title": "groceries", "body": "milk, eggs"})
	if updated.doc["body"] != "milk, eggs" || updated.doc["created_at"] != created.doc["created_at"] {
		t.Errorf("PUT = %s", updated.body)
	}
	a.mustDo(t, 204, "DELETE", "/notes/"+id, bob, nil)
	a.mustDo(t, 404, "GET", "/notes/"+id, bob, nil)
	a.mustDo(t, 404, "DELETE", "/notes/"+id, bob, nil)
}

// TestAdminView checks that the admin role sees every note, and that a
// member is refused the admin route.
func TestAdminView(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	alice, bob, carol := a.token(t, "alice"), a.token(t, "bob"), a.token(t, "carol")
	var want []string
	for _, tok := range []string{alice, bob, carol} {
		want = append(want, a.mustDo(t, 201, "POST", "/notes", tok, map[string]string{"title": "t"}).doc["id"].(string))
	}
	all := a.mustDo(t, 200, "GET", "/admin/notes", alice, nil)
	if got := ids(t, all); !slices.Equal(slices.Sorted(slices.Values(got)), slices.Sorted(slices.Values(want))) {
		t.Errorf("admin view = %q, want %q", got, want)
	}
	for name, tok := range map[string]string{"org member": bob, "no organization": carol} {
		res := a.mustDo(t, 403, "GET", "/admin/notes", tok, nil)
		if res.code() != "forbidden" || res.header.Get("WWW-Authenticate") != "" {
			t.Errorf("%s: %s", name, res.body)
		}
	}
	// Alice without an active organization is a member like any other.
	aliceAlone, _ := a.session(t, clerkemu.SessionParams{UserID: a.users["alice"]})
	a.mustDo(t, 403, "GET", "/admin/notes", aliceAlone, nil)
}

// TestRefused checks the sessions the application refuses on every route,
// with the exact status and code.
func TestRefused(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	pending, _ := a.session(t, clerkemu.SessionParams{UserID: a.users["carol"], Pending: true})
	impersonated, _ := a.session(t, clerkemu.SessionParams{UserID: a.users["bob"], ActiveOrganizationID: a.acme, Actor: map[string]any{"sub": a.users["alice"]}})
	revoked, revokedID := a.session(t, clerkemu.SessionParams{UserID: a.users["alice"], ActiveOrganizationID: a.acme})
	now := time.Now()
	expired, err := a.emu.Sign(map[string]any{
		"iss": a.emu.Issuer(), "sub": a.users["alice"], "sid": "sess_expired", "v": 2,
		"iat": now.Add(-time.Hour).Unix(), "nbf": now.Add(-time.Hour).Unix(), "exp": now.Add(-time.Minute).Unix(),
	}, nil)
	must(t, err)

	// A session revoked at Clerk still has valid tokens until they expire:
	// only the deny list ends them at once.
	if _, err := a.emu.RevokeSession(revokedID); err != nil {
		t.Fatal(err)
	}
	a.mustDo(t, 200, "GET", "/notes", revoked, nil)
	a.deny.DenySession(revokedID, time.Time{})

	tests := []struct {
		name   string
		token  string
		status int
		code   string
	}{
		{"no token", "", 401, "unauthenticated"},
		{"pending session", pending, 401, "session_pending"},
		{"impersonated session", impersonated, 403, "forbidden"},
		{"revoked session", revoked, 401, "session_revoked"},
		{"expired token", expired, 401, "token_expired"},
		{"garbage", "abc", 401, "token_invalid"},
	}
	routes := [][2]string{{"GET", "/notes"}, {"POST", "/notes"}, {"GET", "/notes/note_x"}, {"PUT", "/notes/note_x"}, {"DELETE", "/notes/note_x"}, {"GET", "/admin/notes"}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			for _, rt := range routes {
				res := a.do(t, rt[0], rt[1], tt.token, map[string]string{"title": "x"})
				if res.status != tt.status || res.code() != tt.code {
					t.Errorf("%s %s: %d %q, want %d %s", rt[0], rt[1], res.status, res.code(), tt.status, tt.code)
				}
				if ct := res.header.Get("Content-Type"); ct != "application/problem+json" || res.header.Get("X-Request-Id") == "" {
					t.Errorf("%s %s: Content-Type %q, X-Request-Id %q", rt[0], rt[1], ct, res.header.Get("X-Request-Id"))
				}
				challenge := res.header.Get("WWW-Authenticate")
				switch {
				case tt.status == 403 && challenge != "":
					t.Errorf("%s %s: challenge on a 403: %q", rt[0], rt[1], challenge)
				case tt.code == "unauthenticated" && challenge != `Bearer realm="clerkgate"`:
					t.Errorf("%s %s: challenge %q", rt[0], rt[1], challenge)
				case tt.status == 401 && tt.code != "unauthenticated" && !strings.HasPrefix(challenge, `Bearer realm="clerkgate", error="invalid_token", error_description="`+tt.code+": "):
					t.Errorf("%s %s: challenge %q", rt[0], rt[1], challenge)
				}
			}
		})
	}
	if res := a.mustDo(t, 200, "GET", "/healthz", "abc", nil); res.doc["status"] != "ok" {
		t.Errorf("healthz: %s", res.body)
	}
}

// TestBadInput checks the refusals of malformed bodies.
func TestBadInput(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	bob := a.token(t, "bob")
	id := a.mustDo(t, 201, "POST", "/notes", bob, map[string]string{"title": "t"}).doc["id"].(string)
	tests := []struct {
		name   string
		body   any
		detail string
	}{
		{"unknown field", `{"title":"t","owner_id":"user_x"}`, `unknown field "owner_id"`},
		{"wrong type", `{"title":5}`, `field "title" has the wrong type`},
		{"not json", `title=t`, "the body is not a JSON object of the expected shape"},
		{"empty", ``, "the body is empty"},
		{"trailing data", `{"title":"t"}{}`, "the body is not a JSON object of the expected shape"},
		{"no title", `{"body":"b"}`, "title is required"},
		{"blank title", `{"title":"  "}`, "title is required"},
		{"long title", map[string]string{"title": strings.Repeat("é", 201)}, "title is longer than 200 characters"},
		{"long body", map[string]string{"title": "t", "body": strings.Repeat("b", 64<<10+1)}, "body is longer than 65536 bytes"},
		{"huge body", `{"title":"` + strings.Repeat("b", 1<<20) + `"}`, "the body is larger than 1048576 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			for _, rt := range [][2]string{{"POST", "/notes"}, {"PUT", "/notes/" + id}} {
				res := a.do(t, rt[0], rt[1], bob, tt.body)
				if res.status != 400 || res.code() != "invalid_request" || res.doc["detail"] != tt.detail {
					t.Errorf("%s: %d %s, want 400 invalid_request %q", rt[0], res.status, res.body, tt.detail)
				}
			}
		})
	}
	if got := a.mustDo(t, 200, "GET", "/notes/"+id, bob, nil); got.doc["title"] != "t" {
		t.Errorf("the note changed: %s", got.body)
	}
}

package middleware_test

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/clerkgate/clerkgate/clerkemu"
	"github.com/clerkgate/clerkgate/middleware"
	"github.com/clerkgate/clerkgate/verify"
)

// signingKey is shared by the emulators of the tests: key generation is
// the slow part of starting one.
var signingKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

// world is a Clerk instance with the people of the matrix, and a verifier
// of its tokens with a deny list.
type world struct {
	emu    *clerkemu.Emulator
	deny   *verify.MemoryDenyList
	v      *verify.Verifier
	users  map[string]string // name -> Clerk user id
	acme   string            // organization ids
	globex string
}

// The organization roles of the test instance: Clerk's defaults plus an
// editor, mapped to an application role of its own.
var (
	testOrgRoles = map[string]string{"org:admin": "admin", "org:member": "member", "org:editor": "editor"}
	testPerms    = map[string][]string{
		"admin":  {"*"},
		"member": {"notes:read"},
		"editor": {"notes:*"},
	}
)

// newWorld builds the instance: alice creates acme (org:admin), bob is its
// org:member, dave its org:editor; erin is org:member of globex; frank
// belongs to no organization.
func newWorld(tb testing.TB) *world {
	tb.Helper()
	roles := append(clerkemu.DefaultRoles(), clerkemu.Role{Key: "org:editor", Permissions: []string{"org:notes:write"}})
	emu, err := clerkemu.New(clerkemu.Options{SigningKey: signingKey(), Roles: roles, TokenTTL: time.Hour})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(emu.Close)
	w := &world{emu: emu, deny: &verify.MemoryDenyList{}, users: map[string]string{}}
	for _, name := range []string{"alice", "bob", "dave", "erin", "frank"} {
		u, err := emu.CreateUser(clerkemu.UserParams{Email: name + "@example.com"})
		if err != nil {
			tb.Fatal(err)
		}
		w.users[name] = u.ID
	}
	acme, err := emu.CreateOrganization("Acme", "acme", w.users["alice"])
	must(tb, err)
	globex, err := emu.CreateOrganization("Globex", "globex", "")
	must(tb, err)
	w.acme, w.globex = acme.ID, globex.ID
	must(tb, emu.AddMembership(acme.ID, w.users["bob"], "org:member"))
	must(tb, emu.AddMembership(acme.ID, w.users["dave"], "org:editor"))
	must(tb, emu.AddMembership(globex.ID, w.users["erin"], "org:member"))
	w.v, err = verify.New(verify.Options{JWTKey: emu.PublicKeyPEM(), DenyList: w.deny})
	must(tb, err)
	return w
}

func must(tb testing.TB, err error) {
	tb.Helper()
	if err != nil {
		tb.Fatal(err)
	}
}

// token returns a token of a new session described by p.
func (w *world) token(tb testing.TB, p clerkemu.SessionParams) (tok, sessionID string) {
	tb.Helper()
	s, err := w.emu.CreateSessionWith(p)
	must(tb, err)
	tok, err = w.emu.SessionToken(s.ID, 0)
	must(tb, err)
	return tok, s.ID
}

// signed returns a token with claims of its own, for what Clerk would not
// issue through a session (expired, chosen fva); a nil value removes a
// claim.
func (w *world) signed(tb testing.TB, user string, extra map[string]any) string {
	tb.Helper()
	now := time.Now()
	claims := map[string]any{
		"iss": w.emu.Issuer(), "sub": w.users[user], "sid": "sess_" + user + "_signed", "v": 2,
		"iat": now.Unix(), "nbf": now.Unix() - 5, "exp": now.Unix() + 300,
	}
	maps.Copy(claims, extra)
	maps.DeleteFunc(claims, func(_ string, v any) bool { return v == nil }) // nil: leave the claim out
	tok, err := w.emu.Sign(claims, nil)
	must(tb, err)
	return tok
}

// middleware returns a Middleware of w with the test roles, changed by
// edit.
func (w *world) middleware(tb testing.TB, edit func(*middleware.Options)) *middleware.Middleware {
	tb.Helper()
	o := middleware.Options{Verifier: w.v, OrgRoles: testOrgRoles, Permissions: testPerms}
	if edit != nil {
		edit(&o)
	}
	mw, err := middleware.New(o)
	must(tb, err)
	return mw
}

// whoami answers 200 with the caller as the wrappers left it.
var whoami = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	id := middleware.MustFromContext(r.Context())
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{
		"user_id": id.UserID, "session_id": id.SessionID, "role": id.Role, "permissions": id.Permissions,
		"impersonated": id.Actor != nil, "pending": id.Claims.Pending(),
	})
})

// response is what a test looks at in an answer.
type response struct {
	status int
	header http.Header
	body   []byte
	doc    map[string]any // the JSON body, problem document or not
}

func serve(h http.Handler, r *http.Request) response {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	res := rec.Result()
	body, _ := io.ReadAll(res.Body)
	out := response{status: res.StatusCode, header: res.Header, body: body}
	json.Unmarshal(body, &out.doc)
	return out
}

// bearer returns a GET request with an Authorization: Bearer token ("" for
// no header).
func bearer(tok string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/x", nil)
	if tok != "" {
		r.Header.Set("Authorization", "Bearer "+tok)
	}
	return r
}

func (r response) code() string {
	c, _ := r.doc["code"].(string)
	return c
}

// sortedKeys returns the members of a JSON object.
func sortedKeys(m map[string]any) []string {
	return slices.Sorted(maps.Keys(m))
}

// syncBuffer is a bytes.Buffer safe for concurrent writers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

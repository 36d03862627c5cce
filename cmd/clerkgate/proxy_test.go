package main

import (
	"bufio"
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clerkgate/clerkgate/clerkemu"
	"github.com/clerkgate/clerkgate/internal/policy"
)

// The reverse proxy and forward-auth of SPEC §7, end to end: run() serves
// in front of a real upstream (an httptest server on 127.0.0.1 that echoes
// what it received), with real session tokens from the emulator.

// proxyPolicy is the policy of the proxy tests. Its upstream is a closed
// port: CLERKGATE_UPSTREAM, which the fixture sets, must win over it.
const proxyPolicy = `roles:
  default: member
  metadata_key: role
  org_roles:
    "org:admin": admin
    "org:member": member
permissions:
  admin: ["*"]
  member: ["profile:read", "api:access"]
routes:
  - path: /api/public/**
    anonymous: true
  - path: /api/admin/**
    methods: [GET, POST, PUT, PATCH, DELETE]
    require: {roles: [admin]}
  - path: /api/stripped/**
    strip_credentials: true
  - path: /api/org/**
    require: {org_roles: ["org:admin"]}
  - path: /api/pending/**
    allow_pending: true
  - path: /api/acting/**
    allow_impersonation: true
  - path: /api/reverify/**
    reverify: {max_age: 10m}
  - path: /api/**
    require: {permissions: ["api:access"]}
  - path: /reports/**
    methods: [GET]
upstream: http://127.0.0.1:9
`

// echoed is what the upstream received, as it answers it.
type echoed struct {
	Method string      `json:"method"`
	URI    string      `json:"uri"` // the request target exactly as received
	Host   string      `json:"host"`
	Header http.Header `json:"header"`
}

// upstream is the API behind the proxy. Besides echoing, a few path
// suffixes drive the streaming tests, whose steps meet on the channels.
type upstream struct {
	*httptest.Server
	mu   sync.Mutex
	uris []string // every request target received, in order

	sseRelease      chan struct{} // closed by the test once the first event arrived
	uploadStarted   chan struct{} // closed by the upstream after the first MiB of an upload
	downloadStarted chan struct{} // closed by the test after the first MiB of a download
}

const (
	bigBody = 50 << 20
	mib     = 1 << 20
)

func startUpstream(t *testing.T) *upstream {
	t.Helper()
	u := &upstream{sseRelease: make(chan struct{}), uploadStarted: make(chan struct{}), downloadStarted: make(chan struct{})}
	u.Server = httptest.NewServer(http.HandlerFunc(u.serve))
	t.Cleanup(u.Close)
	return u
}

func (u *upstream) seen() []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return slices.Clone(u.uris)
}

func (u *upstream) serve(w http.ResponseWriter, r *http.Request) {
	u.mu.Lock()
	u.uris = append(u.uris, r.RequestURI)
	u.mu.Unlock()
	p := r.URL.Path
	switch {
	case strings.HasSuffix(p, "/sse"):
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "data: one\n\n")
		http.NewResponseController(w).Flush()
		select {
		case <-u.sseRelease:
		case <-time.After(20 * time.Second):
		}
		io.WriteString(w, "data: two\n\n")
	case strings.HasSuffix(p, "/ws"):
		wsEcho(w, r)
	case strings.HasSuffix(p, "/upload"):
		h := sha256.New()
		n, err := io.CopyN(h, r.Body, mib)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		close(u.uploadStarted) // the first MiB is here while the client holds back the rest
		m, err := io.Copy(h, r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		json.NewEncoder(w).Encode(map[string]any{"bytes": n + m, "sha256": hex.EncodeToString(h.Sum(nil))})
	case strings.HasSuffix(p, "/download"):
		w.Header().Set("Content-Length", fmt.Sprint(bigBody))
		src := pattern()
		io.CopyN(w, src, mib)
		http.NewResponseController(w).Flush()
		select {
		case <-u.downloadStarted:
		case <-time.After(20 * time.Second):
			return // a short body: the client fails
		}
		io.CopyN(w, src, bigBody-mib)
	case strings.HasSuffix(p, "/reset"):
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			conn.Close()
		}
	default:
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Request-Id", "upstream-own-id")
		json.NewEncoder(w).Encode(echoed{Method: r.Method, URI: r.RequestURI, Host: r.Host, Header: r.Header})
	}
}

// pattern is an endless deterministic byte stream.
func pattern() io.Reader {
	return &patternReader{}
}

type patternReader struct{ n uint64 }

func (p *patternReader) Read(b []byte) (int, error) {
	for i := range b {
		b[i] = byte(p.n*7 + p.n>>9)
		p.n++
	}
	return len(b), nil
}

// proxyFixture is a service with an upstream, an emulator and users:
// alice (admin) and bob (member; alice's organization acme as org:member).
type proxyFixture struct {
	emu        *clerkemu.Server
	up         *upstream
	base, addr string
	alice, bob *clerkemu.User
	acme       string
}

func newProxyFixture(t *testing.T, extraPolicy string) *proxyFixture {
	t.Helper()
	f := &proxyFixture{emu: clerkemu.Start(t, clerkemu.Options{}), up: startUpstream(t)}
	dir := t.TempDir()
	pol := dir + "/policy.yaml"
	if err := os.WriteFile(pol, []byte(proxyPolicy+extraPolicy), 0o600); err != nil {
		t.Fatal(err)
	}
	env := serviceEnv(f.emu, "sqlite://"+dir+"/proxy.db")
	env["CLERKGATE_POLICY"] = pol
	env["CLERKGATE_UPSTREAM"] = f.up.URL
	env["CLERKGATE_AUTH_FAILURE_LIMIT"] = "0"
	f.base, _ = startServe(t, env)
	f.addr = strings.TrimPrefix(f.base, "http://")
	var err error
	if f.alice, err = f.emu.CreateUser(clerkemu.UserParams{Email: "alice@example.com", PublicMetadata: map[string]any{"role": "admin"}}); err != nil {
		t.Fatal(err)
	}
	if f.bob, err = f.emu.CreateUser(clerkemu.UserParams{Email: "bob@example.com"}); err != nil {
		t.Fatal(err)
	}
	org, err := f.emu.CreateOrganization("Acme", "acme", f.alice.ID)
	if err != nil {
		t.Fatal(err)
	}
	f.acme = org.ID
	if err := f.emu.AddMembership(org.ID, f.bob.ID, "org:member"); err != nil {
		t.Fatal(err)
	}
	return f
}

// token returns a session token for a new session described by p.
func (f *proxyFixture) token(t *testing.T, p clerkemu.SessionParams) string {
	t.Helper()
	s, err := f.emu.CreateSessionWith(p)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := f.emu.SessionToken(s.ID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// proxied is one answer through the proxy.
type proxied struct {
	status int
	header http.Header
	body   []byte
	echo   *echoed        // the upstream's echo, when it answered
	prob   map[string]any // the problem document, when clerkgate answered
}

func parseProxied(t *testing.T, resp *http.Response) proxied {
	t.Helper()
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	p := proxied{status: resp.StatusCode, header: resp.Header, body: body}
	if len(body) == 0 { // HEAD, 101, 204
		return p
	}
	switch resp.Header.Get("Content-Type") {
	case "application/json":
		p.echo = &echoed{}
		if err := json.Unmarshal(body, p.echo); err != nil {
			t.Fatalf("echo: %v: %q", err, body)
		}
	case "application/problem+json":
		if err := json.Unmarshal(body, &p.prob); err != nil {
			t.Fatalf("problem: %v: %q", err, body)
		}
	}
	return p
}

// send makes a request through the validating client.
func send(t *testing.T, method, url string, edit func(*http.Request)) proxied {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		edit(req)
	}
	c := client(t)
	if method == "HEAD" { // the validator reads problem documents of unknown paths
		c = streamClient
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return parseProxied(t, resp)
}

// raw sends a request written byte for byte (target, header names and
// all) and reads the answer.
func raw(t *testing.T, addr, method, target string, headers ...string) proxied {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(20 * time.Second))
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n", method, target, addr)
	for _, h := range headers {
		b.WriteString(h + "\r\n")
	}
	b.WriteString("\r\n")
	if _, err := io.WriteString(conn, b.String()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), &http.Request{Method: method})
	if err != nil {
		t.Fatalf("%s %s: %v", method, target, err)
	}
	return parseProxied(t, resp)
}

// gatewayHeaders returns the X-Clerkgate-* headers (any spelling) of h.
func gatewayHeaders(h http.Header) map[string]string {
	out := map[string]string{}
	for k, v := range h {
		if strings.HasPrefix(strings.ReplaceAll(strings.ToLower(k), "_", "-"), "x-clerkgate-") {
			out[k] = strings.Join(v, "|")
		}
	}
	return out
}

// me is GET /auth/me for tok.
func me(t *testing.T, base, tok string) map[string]any {
	t.Helper()
	r := get(t, base+"/auth/me", bearer(tok))
	if r.status != 200 {
		t.Fatalf("/auth/me: %d %v", r.status, r.body)
	}
	return r.body
}

func TestProxyIdentityHeaders(t *testing.T) {
	t.Parallel()
	f := newProxyFixture(t, "")
	aliceTok := f.token(t, clerkemu.SessionParams{UserID: f.alice.ID})
	bobOrgTok := f.token(t, clerkemu.SessionParams{UserID: f.bob.ID, ActiveOrganizationID: f.acme})
	for _, c := range []struct {
		name, tok, path string
	}{
		{"admin", aliceTok, "/api/admin/reports?year=2026&x=%2F"},
		{"member in an organization", bobOrgTok, "/api/things/1"},
	} {
		m := me(t, f.base, c.tok)
		want := map[string]string{
			"X-Clerkgate-User-Id":       m["id"].(string),
			"X-Clerkgate-Clerk-User-Id": m["clerk_user_id"].(string),
			"X-Clerkgate-Email":         m["email"].(string),
			"X-Clerkgate-Role":          m["role"].(string),
			"X-Clerkgate-Session-Id":    m["session_id"].(string),
			"X-Clerkgate-Auth":          "session",
		}
		var perms []string
		for _, p := range m["permissions"].([]any) {
			perms = append(perms, p.(string))
		}
		want["X-Clerkgate-Permissions"] = strings.Join(perms, ",")
		if org, ok := m["org"].(map[string]any); ok {
			want["X-Clerkgate-Org-Id"], want["X-Clerkgate-Org-Role"] = org["id"].(string), org["role"].(string)
		}
		p := send(t, "GET", f.base+c.path, bearer(c.tok))
		if p.status != 200 || p.echo == nil {
			t.Fatalf("%s: %d %s", c.name, p.status, p.body)
		}
		if got := gatewayHeaders(p.echo.Header); !mapsEqual(got, want) {
			t.Errorf("%s: the upstream got\n%v\nwant\n%v", c.name, got, want)
		}
		// The canonical path and the query as sent; the upstream's own host;
		// X-Forwarded-* from the proxy; one X-Request-Id, the service's.
		if p.echo.URI != c.path {
			t.Errorf("%s: upstream target %q, want %q", c.name, p.echo.URI, c.path)
		}
		if p.echo.Host != strings.TrimPrefix(f.up.URL, "http://") {
			t.Errorf("%s: upstream Host %q", c.name, p.echo.Host)
		}
		h := p.echo.Header
		if h.Get("X-Forwarded-For") != "127.0.0.1" || h.Get("X-Forwarded-Host") != f.addr || h.Get("X-Forwarded-Proto") != "http" {
			t.Errorf("%s: forwarded headers %v", c.name, h)
		}
		if h.Get("Authorization") != "Bearer "+c.tok {
			t.Errorf("%s: Authorization was not passed on", c.name)
		}
		if ids := p.header.Values("X-Request-Id"); len(ids) != 1 || ids[0] != h.Get("X-Request-Id") {
			t.Errorf("%s: X-Request-Id %v to the client, %q upstream", c.name, ids, h.Get("X-Request-Id"))
		}
	}
	if m := me(t, f.base, bobOrgTok); m["org"] == nil || m["role"] != "member" {
		t.Fatalf("bob in acme: %v", m)
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func TestProxySpoofedHeaders(t *testing.T) {
	t.Parallel()
	f := newProxyFixture(t, "")
	bobTok := f.token(t, clerkemu.SessionParams{UserID: f.bob.ID})
	aliceTok := f.token(t, clerkemu.SessionParams{UserID: f.alice.ID})
	spoofs := []string{
		"X-Clerkgate-Role: admin", "x-clerkgate-role: admin", "X-CLERKGATE-ROLE: admin", "X_Clerkgate_Role: admin",
		"x_clerkgate_user_id: usr_alice", "X-Clerkgate-Permissions: *", "X-Clerkgate-Anything-Else: 1",
		"X-Clerkgate_Auth: machine",
	}
	// A member's request: the upstream sees bob, and only bob.
	p := raw(t, f.addr, "GET", "/api/things", append([]string{"Authorization: Bearer " + bobTok}, spoofs...)...)
	if p.status != 200 || p.echo == nil {
		t.Fatalf("spoofed member request: %d %s", p.status, p.body)
	}
	got := gatewayHeaders(p.echo.Header)
	if got["X-Clerkgate-Role"] != "member" || got["X-Clerkgate-Auth"] != "session" || got["X-Clerkgate-Permissions"] != "api:access,profile:read" || len(got) != 7 {
		t.Errorf("upstream identity after spoofing: %v", got)
	}
	spoofID := p.header.Get("X-Request-Id")
	// An anonymous route: none of them arrives.
	p = raw(t, f.addr, "GET", "/api/public/page", spoofs...)
	if p.status != 200 || p.echo == nil || len(gatewayHeaders(p.echo.Header)) != 0 {
		t.Fatalf("spoofed anonymous request: %d %v", p.status, p.echo)
	}
	// A refused request is recorded too; a clean one is not.
	if p := raw(t, f.addr, "GET", "/api/admin/x", append([]string{"Authorization: Bearer " + bobTok}, spoofs[0])...); p.status != 403 {
		t.Fatalf("spoofed admin request: %d %s", p.status, p.body)
	}
	clean := raw(t, f.addr, "GET", "/api/things", "Authorization: Bearer "+bobTok)
	// One header_spoofing event per request, naming headers, never values.
	code, out, _ := do(t, "GET", f.base+"/admin/security-events?kind=header_spoofing&limit=200", aliceTok, "")
	if code != 200 {
		t.Fatalf("security events: %d %v", code, out)
	}
	perRequest := map[string]int{}
	for _, e := range out["data"].([]any) {
		ev := e.(map[string]any)
		perRequest[ev["request_id"].(string)]++
		if ev["ip"] != "127.0.0.1" {
			t.Errorf("event ip %v", ev["ip"])
		}
		if d, _ := json.Marshal(ev["detail"]); strings.Contains(string(d), "admin") || strings.Contains(string(d), "usr_alice") {
			t.Errorf("event detail holds header values: %s", d)
		}
	}
	if len(perRequest) != 3 || perRequest[spoofID] != 1 || perRequest[clean.header.Get("X-Request-Id")] != 0 {
		t.Errorf("header_spoofing events per request: %v (spoofed request %s)", perRequest, spoofID)
	}
}

func TestProxyRoutes(t *testing.T) {
	t.Parallel()
	f := newProxyFixture(t, "")
	aliceTok := f.token(t, clerkemu.SessionParams{UserID: f.alice.ID})
	aliceOrgTok := f.token(t, clerkemu.SessionParams{UserID: f.alice.ID, ActiveOrganizationID: f.acme})
	bobTok := f.token(t, clerkemu.SessionParams{UserID: f.bob.ID})
	bobOrgTok := f.token(t, clerkemu.SessionParams{UserID: f.bob.ID, ActiveOrganizationID: f.acme})
	pendingTok := f.token(t, clerkemu.SessionParams{UserID: f.bob.ID, Pending: true})
	actingTok := f.token(t, clerkemu.SessionParams{UserID: f.bob.ID, Actor: map[string]any{"sub": f.alice.ID}})
	const garbage = "eyJhbGciOiJSUzI1NiJ9.e30.c2ln"
	cases := []struct {
		method, path, tok string
		status            int
		code              string // of a problem document
		identity          bool   // the upstream got identity headers
	}{
		{"GET", "/api/public/page", "", 200, "", false},
		{"GET", "/api/public/page", bobTok, 200, "", true}, // a valid session is passed on
		{"GET", "/api/public/page", garbage, 200, "", false},
		{"GET", "/api/public/page", actingTok, 200, "", false},
		{"POST", "/api/public/form", "", 200, "", false},
		{"GET", "/api/admin/users", "", 401, "unauthenticated", false},
		{"GET", "/api/admin/users", garbage, 401, "token_invalid", false},
		{"GET", "/api/admin/users", bobTok, 403, "forbidden", false},
		{"GET", "/api/admin/users", aliceTok, 200, "", true},
		{"DELETE", "/api/admin/users/1", aliceTok, 200, "", true},
		{"GET", "/reports/q1", bobTok, 200, "", true},
		{"HEAD", "/reports/q1", bobTok, 403, "", false},             // no implicit HEAD
		{"OPTIONS", "/reports/q1", bobTok, 403, "forbidden", false}, // nor OPTIONS (CORS preflight)
		// A method the first matching route does not list never falls
		// through to the broader /api/** rule.
		{"HEAD", "/api/admin/users", bobTok, 403, "", false},
		{"OPTIONS", "/api/admin/users", aliceTok, 403, "forbidden", false},
		{"GET", "/api/things", bobTok, 200, "", true},
		{"GET", "/api/things", "", 401, "unauthenticated", false},
		{"GET", "/api/org/settings", bobOrgTok, 403, "forbidden", false},
		{"GET", "/api/org/settings", aliceTok, 403, "forbidden", false}, // no active organization
		{"GET", "/api/org/settings", aliceOrgTok, 200, "", true},
		{"GET", "/api/things", pendingTok, 401, "session_pending", false},
		{"GET", "/api/pending/choose-org", pendingTok, 200, "", true},
		{"GET", "/api/things", actingTok, 403, "forbidden", false},
		{"GET", "/api/acting/x", actingTok, 200, "", true},
		{"GET", "/api/reverify/x", bobTok, 403, "reverification_required", false},
		{"GET", "/elsewhere", aliceTok, 403, "forbidden", false}, // no route
		{"GET", "/", aliceTok, 403, "forbidden", false},
		{"GET", "/auth/login", "", 403, "forbidden", false}, // not the service's: proxied, and no route
	}
	for _, c := range cases {
		var edit func(*http.Request)
		if c.tok != "" {
			edit = bearer(c.tok)
		}
		p := send(t, c.method, f.base+c.path, edit)
		if p.status != c.status || (c.code != "" && p.prob["code"] != c.code) {
			t.Errorf("%s %s (%.12s): %d %s, want %d %s", c.method, c.path, c.tok, p.status, p.body, c.status, c.code)
			continue
		}
		if p.status == 200 && c.method != "HEAD" {
			if p.echo == nil || p.echo.Method != c.method || p.echo.URI != c.path {
				t.Errorf("%s %s: upstream saw %+v", c.method, c.path, p.echo)
			} else if ids := gatewayHeaders(p.echo.Header); (len(ids) > 0) != c.identity {
				t.Errorf("%s %s: identity headers %v, want some: %v", c.method, c.path, ids, c.identity)
			}
		}
		if c.code == "reverification_required" {
			if hint, _ := p.prob["clerk_error"].(map[string]any); hint["reason"] != "reverification-error" {
				t.Errorf("reverification without Clerk's hint: %v", p.prob)
			}
		}
		if p.status == 401 && !strings.HasPrefix(p.header.Get("WWW-Authenticate"), `Bearer realm="clerkgate"`) {
			t.Errorf("%s %s: 401 without a challenge", c.method, c.path)
		}
	}
	// The service's own endpoints stay its own.
	if m := me(t, f.base, bobTok); m["email"] != "bob@example.com" {
		t.Fatalf("/auth/me with an upstream: %v", m)
	}
	if p := send(t, "POST", f.base+"/auth/me", bearer(bobTok)); p.status != 405 {
		t.Fatalf("POST /auth/me: %d", p.status)
	}
	for _, uri := range f.up.seen() {
		if strings.HasPrefix(uri, "/auth/me") || uri == "/elsewhere" || uri == "/" {
			t.Errorf("the upstream got %s", uri)
		}
	}
}

// TestProxyPathBypass sends requests that try to reach /api/admin as bob
// (a member) or to confuse routing: each is refused (400 or 403) or routed
// by its canonical path, and the upstream sees only canonical paths.
func TestProxyPathBypass(t *testing.T) {
	t.Parallel()
	f := newProxyFixture(t, "")
	bobAuth := "Authorization: Bearer " + f.token(t, clerkemu.SessionParams{UserID: f.bob.ID})
	aliceAuth := "Authorization: Bearer " + f.token(t, clerkemu.SessionParams{UserID: f.alice.ID})
	cases := []struct {
		name, method, target string
		headers              []string
		status               int
		upstream             string // the target the upstream must see when allowed
		method2              string // the method the upstream must see ("" = method)
	}{
		{"encoded slash", "GET", "/api/public/..%2fadmin/users", nil, 400, "", ""},
		{"encoded slash upper", "GET", "/api%2Fadmin/users", nil, 400, "", ""},
		{"encoded dot-dot", "GET", "/api/public/%2e%2e/admin/users", []string{bobAuth}, 403, "", ""},
		{"encoded dot-dot admin", "GET", "/api/public/%2e%2e/admin/users", []string{aliceAuth}, 200, "/api/admin/users", ""},
		{"dot-dot", "GET", "/api/public/../admin/users", []string{bobAuth}, 403, "", ""},
		{"dot-dot admin", "GET", "/api/public/../admin/users", []string{aliceAuth}, 200, "/api/admin/users", ""},
		{"dot-dot anonymous", "GET", "/api/admin/../public/x", nil, 200, "/api/public/x", ""},
		{"dot", "GET", "/api/public/./x", nil, 200, "/api/public/x", ""},
		{"dot-dot above the root", "GET", "/../api/public/x", nil, 400, "", ""},
		{"double slash", "GET", "//api//admin//users", []string{bobAuth}, 403, "", ""},
		{"double slash admin", "GET", "//api//admin//users", []string{aliceAuth}, 200, "/api/admin/users", ""},
		{"double slash public", "GET", "/api/public//x", nil, 200, "/api/public/x", ""},
		{"query holding a path", "GET", "/api/public/x?x=/api/admin/users", nil, 200, "/api/public/x?x=/api/admin/users", ""},
		{"query kept as sent", "GET", "/api/public/x?a=1;b=2&c=%zz&&d", nil, 200, "/api/public/x?a=1;b=2&c=%zz&&d", ""},
		{"query on admin", "GET", "/api/admin/users?x=/api/public/", []string{bobAuth}, 403, "", ""},
		{"fragment", "GET", "/api/public/x#/../../admin/users", nil, 400, "", ""},
		{"upper-case prefix", "GET", "/API/admin/users", []string{bobAuth}, 403, "", ""},
		{"upper-case segment", "GET", "/api/ADMIN/users", []string{bobAuth}, 200, "/api/ADMIN/users", ""},
		{"trailing slash", "GET", "/api/admin/users/", []string{bobAuth}, 403, "", ""},
		{"bare prefix", "GET", "/api/admin", []string{bobAuth}, 403, "", ""},
		{"bare prefix slash", "GET", "/api/admin/", []string{bobAuth}, 403, "", ""},
		{"method override", "GET", "/api/things", []string{bobAuth, "X-HTTP-Method-Override: DELETE", "X-Method-Override: DELETE", "X-HTTP-Method: DELETE"}, 200, "/api/things", "GET"},
		{"X-Original-URL", "GET", "/api/public/x", []string{"X-Original-URL: /api/admin/users", "X-Rewrite-URL: /api/admin/users"}, 200, "/api/public/x", ""},
		{"X-Original-URL on admin", "GET", "/api/admin/users", []string{bobAuth, "X-Original-URL: /api/public/x"}, 403, "", ""},
		{"X-Forwarded-Prefix", "GET", "/api/public/x", []string{"X-Forwarded-Prefix: /api/admin", "X-Forwarded-Uri: /api/admin/users", "X-Original-URI: /api/admin/users", "X_Original_URL: /api/admin/users"}, 200, "/api/public/x", ""},
		{"semicolon", "GET", "/api/admin;x=1/users", []string{bobAuth}, 400, "", ""},
		{"semicolon public", "GET", "/api/public/x;.css", nil, 400, "", ""},
		{"backslash", "GET", `/api/public\..\admin/users`, nil, 400, "", ""},
		{"encoded backslash", "GET", "/api/public/..%5cadmin/users", nil, 400, "", ""},
		{"double encoding", "GET", "/api/public/%252e%252e/admin/users", nil, 400, "", ""},
		{"NUL", "GET", "/api/public/x%00", nil, 400, "", ""},
		{"overlong UTF-8", "GET", "/api/public/%c0%ae%c0%ae/admin", nil, 400, "", ""},
		{"fullwidth solidus", "GET", "/api/public/..%ef%bc%8fadmin/users", nil, 400, "", ""},
		{"absolute form", "GET", "http://evil.example/api/admin/users", []string{bobAuth}, 403, "", ""},
		{"own endpoint in disguise", "GET", "/api/public/%2e%2e/%2e%2e/auth/me", []string{bobAuth}, 400, "", ""},
	}
	for _, c := range cases {
		p := raw(t, f.addr, c.method, c.target, c.headers...)
		if p.status != c.status {
			t.Errorf("%s: %s %s: %d %s, want %d", c.name, c.method, c.target, p.status, p.body, c.status)
			continue
		}
		if c.status == 200 {
			want := c.method2
			if want == "" {
				want = c.method
			}
			if p.echo == nil || p.echo.URI != c.upstream || p.echo.Method != want {
				t.Errorf("%s: the upstream saw %+v, want %s %s", c.name, p.echo, want, c.upstream)
				continue
			}
			for k := range p.echo.Header {
				n := strings.ReplaceAll(strings.ToLower(k), "_", "-")
				if strings.Contains(n, "original") || strings.Contains(n, "rewrite") || strings.Contains(n, "override") ||
					n == "x-http-method" || n == "x-forwarded-prefix" || n == "x-forwarded-uri" {
					t.Errorf("%s: the upstream got %s", c.name, k)
				}
			}
		} else if p.prob == nil {
			t.Errorf("%s: %d without a problem document: %s", c.name, p.status, p.body)
		}
	}
	// OPTIONS * is answered by the HTTP server itself, never proxied.
	if p := raw(t, f.addr, "OPTIONS", "*"); p.status != 200 || p.echo != nil {
		t.Errorf("OPTIONS *: %d %s", p.status, p.body)
	}
	// Whatever was sent, the upstream saw canonical paths only.
	for _, uri := range f.up.seen() {
		u, err := url.ParseRequestURI(uri)
		if err != nil {
			t.Errorf("upstream target %q: %v", uri, err)
			continue
		}
		if canon, err := policy.Canonicalize(u.EscapedPath()); err != nil || canon != u.Path {
			t.Errorf("upstream target %q is not canonical (%q, %v)", uri, canon, err)
		}
	}
}

// TestProxyConnectionHeader: a client that names the identity headers (or
// Authorization) in Connection cannot remove them on the way upstream.
func TestProxyConnectionHeader(t *testing.T) {
	t.Parallel()
	f := newProxyFixture(t, "")
	bobTok := f.token(t, clerkemu.SessionParams{UserID: f.bob.ID})
	p := raw(t, f.addr, "GET", "/api/things", "Authorization: Bearer "+bobTok,
		"Connection: close, X-Clerkgate-Role, X-Clerkgate-User-Id, X-Clerkgate-Auth, X-Request-Id",
		"Connection: X-Clerkgate-Permissions, x-clerkgate-session-id, X-Forwarded-For")
	if p.status != 200 || p.echo == nil {
		t.Fatalf("%d %s", p.status, p.body)
	}
	got := gatewayHeaders(p.echo.Header)
	for _, h := range []string{"X-Clerkgate-Role", "X-Clerkgate-User-Id", "X-Clerkgate-Auth", "X-Clerkgate-Permissions", "X-Clerkgate-Session-Id"} {
		if got[h] == "" {
			t.Errorf("Connection removed %s: %v", h, got)
		}
	}
	if p.echo.Header.Get("X-Request-Id") == "" || p.echo.Header.Get("X-Forwarded-For") != "127.0.0.1" {
		t.Errorf("Connection removed the gateway's X-Request-Id or X-Forwarded-For: %v", p.echo.Header)
	}
}

func TestProxyStripCredentials(t *testing.T) {
	t.Parallel()
	f := newProxyFixture(t, "")
	bobTok := f.token(t, clerkemu.SessionParams{UserID: f.bob.ID})
	cookies := "theme=dark; __session=" + bobTok + "; csrf=abc"
	p := raw(t, f.addr, "GET", "/api/stripped/x", "Authorization: Bearer "+bobTok, "Cookie: "+cookies)
	if p.status != 200 || p.echo == nil {
		t.Fatalf("%d %s", p.status, p.body)
	}
	if h := p.echo.Header; h.Get("Authorization") != "" || h.Get("Cookie") != "theme=dark; csrf=abc" || h.Get("X-Clerkgate-Role") != "member" {
		t.Errorf("strip_credentials: upstream headers %v", h)
	}
	// The cookie alone authenticates too, and is stripped the same way.
	p = raw(t, f.addr, "GET", "/api/stripped/x", "Cookie: a=1", "Cookie: __session="+bobTok)
	if p.status != 200 || p.echo.Header.Get("Cookie") != "a=1" || p.echo.Header.Get("X-Clerkgate-Auth") != "session" {
		t.Errorf("strip_credentials, cookie: %d %v", p.status, p.echo)
	}
	// Elsewhere both pass unchanged.
	p = raw(t, f.addr, "GET", "/api/things", "Authorization: Bearer "+bobTok, "Cookie: "+cookies)
	if p.status != 200 || p.echo.Header.Get("Authorization") != "Bearer "+bobTok || p.echo.Header.Get("Cookie") != cookies {
		t.Errorf("credentials not passed on: %d %v", p.status, p.echo)
	}
}

// streamClient is a client that does not read whole answers (the
// validating client does).
var streamClient = &http.Client{Timeout: 60 * time.Second}

func TestProxyStreaming(t *testing.T) {
	t.Parallel()
	f := newProxyFixture(t, "")
	bobTok := f.token(t, clerkemu.SessionParams{UserID: f.bob.ID})

	t.Run("server-sent events", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, "GET", f.base+"/api/events/sse", nil)
		req.Header.Set("Authorization", "Bearer "+bobTok)
		resp, err := streamClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		br := bufio.NewReader(resp.Body)
		line, err := br.ReadString('\n')
		if err != nil || line != "data: one\n" {
			t.Fatalf("first event before the upstream ended: %q %v", line, err)
		}
		close(f.up.sseRelease)
		rest, err := io.ReadAll(br)
		if err != nil || string(rest) != "\ndata: two\n\n" {
			t.Fatalf("rest: %q %v", rest, err)
		}
	})

	t.Run("websocket", func(t *testing.T) {
		conn, err := net.DialTimeout("tcp", f.addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(10 * time.Second))
		key := base64.StdEncoding.EncodeToString([]byte("clerkgate-ws-key"))
		fmt.Fprintf(conn, "GET /api/chat/ws HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nUpgrade: websocket\r\n"+
			"Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\nX-Clerkgate-Role: admin\r\n\r\n", f.addr, bobTok, key)
		br := bufio.NewReader(conn)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != 101 || resp.Header.Get("Sec-WebSocket-Accept") != wsAccept(key) || resp.Header.Get("X-Saw-Role") != "member" {
			t.Fatalf("handshake: %d %v", resp.StatusCode, resp.Header)
		}
		if err := writeFrame(conn, []byte("hello through clerkgate"), true); err != nil {
			t.Fatal(err)
		}
		got, err := readFrame(br)
		if err != nil || string(got) != "hello through clerkgate" {
			t.Fatalf("echo: %q %v", got, err)
		}
		// Without credentials the upgrade never reaches the upstream.
		p := raw(t, f.addr, "GET", "/api/chat/ws", "Upgrade: websocket", "Sec-WebSocket-Key: "+key, "Sec-WebSocket-Version: 13")
		if p.status != 401 {
			t.Fatalf("anonymous upgrade: %d %s", p.status, p.body)
		}
	})

	t.Run("50 MiB upload", func(t *testing.T) {
		want := sha256.New()
		io.CopyN(want, pattern(), bigBody)
		pr, pw := io.Pipe()
		go func() {
			src := pattern()
			if _, err := io.CopyN(pw, src, mib); err != nil {
				pw.CloseWithError(err)
				return
			}
			select { // the upstream has the first MiB before the rest is sent: no buffering
			case <-f.up.uploadStarted:
			case <-time.After(20 * time.Second):
				pw.CloseWithError(errors.New("the upstream did not get the first MiB: the proxy buffers bodies"))
				return
			}
			_, err := io.CopyN(pw, src, bigBody-mib)
			pw.CloseWithError(err)
		}()
		req, _ := http.NewRequest("PUT", f.base+"/api/files/upload", pr)
		req.ContentLength = bigBody
		req.Header.Set("Authorization", "Bearer "+bobTok)
		resp, err := streamClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out struct {
			Bytes  int64  `json:"bytes"`
			SHA256 string `json:"sha256"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != 200 {
			t.Fatalf("upload: %d %v", resp.StatusCode, err)
		}
		if out.Bytes != bigBody || out.SHA256 != hex.EncodeToString(want.Sum(nil)) {
			t.Fatalf("upload arrived as %d bytes, sha256 %s", out.Bytes, out.SHA256)
		}
	})

	t.Run("50 MiB download", func(t *testing.T) {
		req, _ := http.NewRequest("GET", f.base+"/api/files/download", nil)
		req.Header.Set("Authorization", "Bearer "+bobTok)
		resp, err := streamClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		got := sha256.New()
		if _, err := io.CopyN(got, resp.Body, mib); err != nil {
			t.Fatalf("the first MiB did not arrive while the upstream waits: the proxy buffers answers: %v", err)
		}
		close(f.up.downloadStarted)
		n, err := io.Copy(got, resp.Body)
		want := sha256.New()
		io.CopyN(want, pattern(), bigBody)
		if err != nil || n+mib != bigBody || !slices.Equal(got.Sum(nil), want.Sum(nil)) {
			t.Fatalf("download: %d bytes, %v", n+mib, err)
		}
	})
}

// wsAccept is the Sec-WebSocket-Accept of key (RFC 6455).
func wsAccept(key string) string {
	h := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	return base64.StdEncoding.EncodeToString(h[:])
}

// wsEcho answers a websocket handshake and echoes one text frame.
func wsEcho(w http.ResponseWriter, r *http.Request) {
	if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
		http.Error(w, "not a websocket request", http.StatusBadRequest)
		return
	}
	conn, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(brw, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Accept: %s\r\nX-Saw-Role: %s\r\n\r\n", wsAccept(r.Header.Get("Sec-WebSocket-Key")), r.Header.Get("X-Clerkgate-Role"))
	brw.Flush()
	msg, err := readFrame(brw.Reader)
	if err != nil {
		return
	}
	writeFrame(conn, msg, false)
}

// writeFrame writes one final text frame of under 126 bytes, masked as a
// client must.
func writeFrame(w io.Writer, payload []byte, mask bool) error {
	if len(payload) > 125 {
		return errors.New("payload too long for this test")
	}
	b := []byte{0x81, byte(len(payload))}
	if !mask {
		b = append(b, payload...)
	} else {
		key := [4]byte{1, 2, 3, 4}
		b[1] |= 0x80
		b = append(b, key[:]...)
		for i, c := range payload {
			b = append(b, c^key[i%4])
		}
	}
	_, err := w.Write(b)
	return err
}

// readFrame reads one frame of under 126 bytes and unmasks it.
func readFrame(r *bufio.Reader) ([]byte, error) {
	var hdr [2]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, err
	}
	n := int(hdr[1] & 0x7f)
	if hdr[0] != 0x81 || n > 125 {
		return nil, fmt.Errorf("unexpected frame header %x", hdr)
	}
	var key [4]byte
	if hdr[1]&0x80 != 0 {
		if _, err := io.ReadFull(r, key[:]); err != nil {
			return nil, err
		}
	}
	payload := make([]byte, n)
	if _, err := io.ReadFull(r, payload); err != nil {
		return nil, err
	}
	for i := range payload {
		payload[i] ^= key[i%4]
	}
	return payload, nil
}

func TestProxyUpstreamFailures(t *testing.T) {
	t.Parallel()
	// An upstream that resets the connection.
	f := newProxyFixture(t, "")
	p := send(t, "GET", f.base+"/api/public/reset", nil)
	if p.status != 502 || p.prob["code"] != "unavailable" {
		t.Fatalf("reset: %d %s", p.status, p.body)
	}
	// An upstream that is down: the policy's upstream (a closed port), with
	// no CLERKGATE_UPSTREAM to override it.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close()
	dir := t.TempDir()
	pol := dir + "/p.yaml"
	os.WriteFile(pol, []byte("routes:\n  - path: /**\n    anonymous: true\nupstream: http://"+dead+"\n"), 0o600)
	env := serviceEnv(f.emu, "sqlite://"+dir+"/down.db")
	env["CLERKGATE_POLICY"] = pol
	base, _ := startServe(t, env)
	p = send(t, "POST", base+"/anything?x=1", nil)
	if p.status != 502 || p.prob["code"] != "unavailable" {
		t.Fatalf("upstream down: %d %s", p.status, p.body)
	}
	if d := p.prob["detail"].(string); strings.Contains(d, "127.0.0.1") || strings.Contains(d, "refused") || strings.Contains(d, "dial") {
		t.Errorf("the problem shows upstream details: %q", d)
	}
	if r := get(t, base+"/healthz", nil); r.status != 200 {
		t.Fatalf("healthz with the upstream down: %d", r.status)
	}
}

func TestProxyMetrics(t *testing.T) {
	t.Parallel()
	f := newProxyFixture(t, "")
	bobTok := f.token(t, clerkemu.SessionParams{UserID: f.bob.ID})
	send(t, "GET", f.base+"/api/things/usr_secret_42", bearer(bobTok))
	send(t, "GET", f.base+"/api/public/page", nil)
	send(t, "GET", f.base+"/nowhere/usr_secret_43", nil)
	resp, err := http.Get(f.base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	text := string(body)
	for _, want := range []string{
		"clerkgate_proxy_upstream_duration_seconds_count 2\n",
		`clerkgate_proxy_upstream_route_duration_seconds_count{route="/api/**"} 1`,
		`clerkgate_proxy_upstream_route_duration_seconds_count{route="/api/public/**"} 1`,
		`clerkgate_http_requests_total{code="200",route="/api/**"} 1`,
		`clerkgate_http_requests_total{code="403",route="unmatched"} 1`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if strings.Contains(text, "usr_secret") {
		t.Errorf("a raw path reached a metric label")
	}
}

func TestForwardAuth(t *testing.T) {
	t.Parallel()
	f := newProxyFixture(t, "")
	aliceTok := f.token(t, clerkemu.SessionParams{UserID: f.alice.ID})
	bobTok := f.token(t, clerkemu.SessionParams{UserID: f.bob.ID})
	verifyReq := func(tok string, headers ...string) func(*http.Request) {
		return func(r *http.Request) {
			if tok != "" {
				r.Header.Set("Authorization", "Bearer "+tok)
			}
			for _, h := range headers {
				k, v, _ := strings.Cut(h, ": ")
				r.Header.Add(k, v)
			}
		}
	}
	cases := []struct {
		name    string
		tok     string
		headers []string
		status  int
		code    string
		role    string // X-Clerkgate-Role of a 200
	}{
		{"admin allowed", aliceTok, []string{"X-Original-URI: /api/admin/users?page=2", "X-Original-Method: GET"}, 200, "", "admin"},
		{"Traefik names", aliceTok, []string{"X-Forwarded-Uri: /api/admin/users", "X-Forwarded-Method: DELETE"}, 200, "", "admin"},
		{"both names agree", aliceTok, []string{"X-Forwarded-Uri: /api/admin/users", "X-Original-URI: /api/admin/users", "X-Forwarded-Method: GET", "X-Original-Method: GET"}, 200, "", "admin"},
		{"member refused", bobTok, []string{"X-Original-URI: /api/admin/users", "X-Original-Method: GET"}, 403, "forbidden", ""},
		{"member allowed elsewhere", bobTok, []string{"X-Original-URI: /api/things", "X-Original-Method: POST"}, 200, "", "member"},
		{"no credentials", "", []string{"X-Original-URI: /api/admin/users", "X-Original-Method: GET"}, 401, "unauthenticated", ""},
		{"anonymous route", "", []string{"X-Original-URI: /api/public/x", "X-Original-Method: GET"}, 200, "", ""},
		{"method not listed", aliceTok, []string{"X-Original-URI: /reports/q1", "X-Original-Method: HEAD"}, 403, "forbidden", ""},
		{"method listed", bobTok, []string{"X-Original-URI: /reports/q1", "X-Original-Method: GET"}, 200, "", "member"},
		{"no route", aliceTok, []string{"X-Original-URI: /elsewhere", "X-Original-Method: GET"}, 403, "forbidden", ""},
		{"no original URI", aliceTok, []string{"X-Original-Method: GET"}, 400, "invalid_request", ""},
		{"no original method", aliceTok, []string{"X-Original-URI: /api/public/x"}, 400, "invalid_request", ""},
		{"URIs disagree", aliceTok, []string{"X-Forwarded-Uri: /api/public/x", "X-Original-URI: /api/admin/users", "X-Original-Method: GET"}, 400, "invalid_request", ""},
		{"methods disagree", bobTok, []string{"X-Original-URI: /api/things", "X-Forwarded-Method: GET", "X-Original-Method: DELETE"}, 400, "invalid_request", ""},
		{"URI twice", aliceTok, []string{"X-Original-URI: /api/public/x", "X-Original-URI: /api/admin/users", "X-Original-Method: GET"}, 400, "invalid_request", ""},
		{"ambiguous path", aliceTok, []string{"X-Original-URI: /api/public/..%2fadmin/users", "X-Original-Method: GET"}, 400, "invalid_request", ""},
		{"dot-dot", bobTok, []string{"X-Original-URI: /api/public/../admin/users", "X-Original-Method: GET"}, 403, "forbidden", ""},
		{"not a path", aliceTok, []string{"X-Original-URI: http://evil/api/public/x", "X-Original-Method: GET"}, 400, "invalid_request", ""},
		{"bad method", aliceTok, []string{"X-Original-URI: /api/public/x", "X-Original-Method: GET /"}, 400, "invalid_request", ""},
	}
	for _, c := range cases {
		p := send(t, "GET", f.base+"/auth/verify", verifyReq(c.tok, c.headers...))
		if p.status != c.status || (c.code != "" && p.prob["code"] != c.code) {
			t.Errorf("%s: %d %s, want %d %s", c.name, p.status, p.body, c.status, c.code)
			continue
		}
		if p.status == 200 {
			if got := p.header.Get("X-Clerkgate-Role"); got != c.role {
				t.Errorf("%s: role header %q, want %q", c.name, got, c.role)
			}
			if c.tok != "" && (p.header.Get("X-Clerkgate-User-Id") == "" || p.header.Get("X-Clerkgate-Auth") != "session") {
				t.Errorf("%s: identity headers %v", c.name, p.header)
			}
			if len(p.body) != 0 {
				t.Errorf("%s: a body on 200: %q", c.name, p.body)
			}
		}
	}
	// Spoofed identity headers on the forwarded request change nothing.
	p := send(t, "GET", f.base+"/auth/verify", verifyReq(bobTok, "X-Original-URI: /api/things", "X-Original-Method: GET", "X-Clerkgate-Role: admin"))
	if p.status != 200 || p.header.Get("X-Clerkgate-Role") != "member" {
		t.Fatalf("spoofed forward-auth: %d %v", p.status, p.header)
	}
	if len(f.up.seen()) != 0 {
		t.Fatalf("forward-auth reached the upstream: %v", f.up.seen())
	}
}

// TestForwardAuthUntrusted: with trusted_proxies that leave out loopback,
// the service's loopback callers are refused, whatever they claim.
func TestForwardAuthUntrusted(t *testing.T) {
	t.Parallel()
	f := newProxyFixture(t, "trusted_proxies: [10.0.0.0/8, 192.168.1.7]\n")
	aliceTok := f.token(t, clerkemu.SessionParams{UserID: f.alice.ID})
	for _, claim := range [][]string{
		nil,
		{"X-Forwarded-For: 10.0.0.1"},
		{"X-Forwarded-For: 10.1.2.3, 192.168.1.7"},
		{"X-Real-IP: 10.0.0.1"},
		{"Forwarded: for=10.0.0.1;proto=http"},
	} {
		headers := append([]string{"Authorization: Bearer " + aliceTok, "X-Original-URI: /api/public/x", "X-Original-Method: GET"}, claim...)
		p := raw(t, f.addr, "GET", "/auth/verify", headers...)
		if p.status != 403 || p.prob["code"] != "forbidden" || p.header.Get("X-Clerkgate-User-Id") != "" {
			t.Errorf("untrusted sender claiming %v: %d %s", claim, p.status, p.body)
		}
	}
	// The proxy itself ignores trusted_proxies: it is the edge.
	if p := raw(t, f.addr, "GET", "/api/public/x"); p.status != 200 {
		t.Errorf("proxy with loopback untrusted: %d", p.status)
	}
}

package httpapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/clerkgate/clerkgate"
	"github.com/clerkgate/clerkgate/internal/httpapi"
	"github.com/clerkgate/clerkgate/internal/identity"
	"github.com/clerkgate/clerkgate/internal/policy"
	"github.com/clerkgate/clerkgate/internal/sqlite"
	"github.com/clerkgate/clerkgate/verify"
)

// The proxy's hooks for machine credentials and legacy tokens, with tiny
// in-test verifiers, and what the service-level tests cannot configure: the
// upstream timeout and an upstream that appears with a policy reload.

const hookPolicy = `routes:
  - path: /m/**
    machines: true
    require: {permissions: ["api:access"]}
  - path: /staff/**
    machines: true
    require: {roles: [admin]}
  - path: /rv/**
    reverify: {max_age: 10m}
  - path: /open/**
    anonymous: true
  - path: /**
`

// fakeMachines verifies "ak_good" (scope api:access), "mt_noscope", and
// fails the rest in the ways a real verifier may.
type fakeMachines struct{}

func (fakeMachines) VerifyMachine(_ context.Context, tok string) (*httpapi.Machine, error) {
	switch tok {
	case "ak_good":
		return &httpapi.Machine{Subject: "mch_1", Scopes: []string{"api:access", "reports:read"}, Kind: "api_key"}, nil
	case "mt_noscope":
		return &httpapi.Machine{Subject: "mch_2", Kind: "m2m_token"}, nil
	case "oat_down":
		return nil, &clerkgate.Error{Code: clerkgate.CodeUnavailable, Message: "Clerk cannot be asked"}
	case "ak_weird":
		return nil, errors.New("something without a code")
	}
	return nil, &clerkgate.Error{Code: clerkgate.CodeTokenInvalid, Message: "revoked"}
}

// fakeLegacy takes "legacy.<local id>" tokens.
type fakeLegacy struct{}

func (fakeLegacy) IsLegacy(tok string) bool { return strings.HasPrefix(tok, "legacy.") }

func (fakeLegacy) VerifyLegacy(_ context.Context, tok string) (string, error) {
	id := strings.TrimPrefix(tok, "legacy.")
	switch id {
	case "sunset":
		return "", &clerkgate.Error{Code: clerkgate.CodeLegacyTokenSunset, Message: "legacy tokens ended"}
	case "expired":
		return "", &clerkgate.Error{Code: clerkgate.CodeTokenExpired}
	}
	return id, nil
}

type hookFixture struct {
	url          string
	upstreamHits atomic.Int64
	admin        *clerkgate.User // stored, role admin, linked to Clerk
	banned       *clerkgate.User
	pol          atomic.Pointer[policy.Policy]
}

// newHookFixture serves the proxy over a SQLite store; edit may change the
// dependencies.
func newHookFixture(t *testing.T, edit func(*httpapi.Deps)) *hookFixture {
	t.Helper()
	ctx := context.Background()
	f := &hookFixture{}
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.upstreamHits.Add(1)
		if r.URL.Path == "/open/slow" {
			select {
			case <-time.After(3 * time.Second):
			case <-r.Context().Done():
			}
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"uri": r.RequestURI, "header": r.Header})
	}))
	t.Cleanup(up.Close)
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "hooks.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if f.admin, _, err = st.SaveClerkUser(ctx, &clerkgate.User{ClerkUserID: "user_old", Email: "old@example.com", Role: "admin", ClerkUpdatedAt: 1}); err != nil {
		t.Fatal(err)
	}
	if f.banned, _, err = st.SaveClerkUser(ctx, &clerkgate.User{ClerkUserID: "user_banned", Role: "admin", Banned: true, ClerkUpdatedAt: 1}); err != nil {
		t.Fatal(err)
	}
	pol, err := policy.Parse([]byte(hookPolicy), "hooks.yaml")
	if err != nil {
		t.Fatal(err)
	}
	f.pol.Store(pol)
	pem, err := emulatorKey()
	if err != nil {
		t.Fatal(err)
	}
	v, err := verify.New(verify.Options{JWTKey: pem, Issuer: "https://clerk.clerkgate.emulator"})
	if err != nil {
		t.Fatal(err)
	}
	ident, err := identity.New(identity.Options{Store: st, PolicyFunc: f.pol.Load})
	if err != nil {
		t.Fatal(err)
	}
	target, _ := url.Parse(up.URL)
	d := httpapi.Deps{Verifier: v, Identity: ident, Store: st, Policy: f.pol.Load, Upstream: target,
		Machines: fakeMachines{}, Legacy: fakeLegacy{}}
	if edit != nil {
		edit(&d)
	}
	srv := httptest.NewServer(httpapi.NewServer(d))
	t.Cleanup(srv.Close)
	f.url = srv.URL
	return f
}

type hookAnswer struct {
	status int
	code   string      // of a problem document
	header http.Header // what the upstream got
	took   time.Duration
}

func (f *hookFixture) get(t *testing.T, path, tok string) hookAnswer {
	t.Helper()
	req, _ := http.NewRequest("GET", f.url+path, nil)
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	start := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	a := hookAnswer{status: resp.StatusCode, took: time.Since(start)}
	var out struct {
		Code   string      `json:"code"`
		Header http.Header `json:"header"`
	}
	json.Unmarshal(body, &out)
	a.code, a.header = out.Code, out.Header
	return a
}

func identityOf(h http.Header) map[string]string {
	out := map[string]string{}
	for k, v := range h {
		if strings.HasPrefix(k, "X-Clerkgate-") {
			out[k] = strings.Join(v, ",")
		}
	}
	return out
}

func TestProxyMachineHook(t *testing.T) {
	t.Parallel()
	f := newHookFixture(t, nil)
	a := f.get(t, "/m/report", "ak_good")
	want := map[string]string{"X-Clerkgate-Auth": "machine", "X-Clerkgate-Subject": "mch_1",
		"X-Clerkgate-Scopes": "api:access,reports:read", "X-Clerkgate-Machine-Kind": "api_key"}
	if got := identityOf(a.header); a.status != 200 || !equalMaps(got, want) {
		t.Fatalf("machine: %d, upstream identity %v", a.status, got)
	}
	for _, c := range []struct {
		path, tok string
		status    int
		code      string
	}{
		{"/m/report", "mt_noscope", 403, "forbidden"}, // lacks the scope
		{"/staff/x", "ak_good", 403, "forbidden"},     // a machine has no role
		{"/other", "ak_good", 401, "token_invalid"},   // machines: false, so read as a session token
		{"/m/report", "ak_revoked", 401, "token_invalid"},
		{"/m/report", "ak_weird", 401, "token_invalid"}, // an error without a code is no 500
		{"/m/report", "oat_down", 503, "unavailable"},
	} {
		if a := f.get(t, c.path, c.tok); a.status != c.status || a.code != c.code {
			t.Errorf("%s with %s: %d %s, want %d %s", c.path, c.tok, a.status, a.code, c.status, c.code)
		}
	}
	// Without a MachineVerifier, machine credentials are just invalid tokens.
	off := newHookFixture(t, func(d *httpapi.Deps) { d.Machines = nil })
	if a := off.get(t, "/m/report", "ak_good"); a.status != 401 || a.code != "token_invalid" {
		t.Fatalf("machines off: %d %s", a.status, a.code)
	}
}

func TestProxyLegacyHook(t *testing.T) {
	t.Parallel()
	f := newHookFixture(t, nil)
	a := f.get(t, "/staff/x", "legacy."+f.admin.ID)
	want := map[string]string{"X-Clerkgate-Auth": "legacy", "X-Clerkgate-User-Id": f.admin.ID,
		"X-Clerkgate-Clerk-User-Id": "user_old", "X-Clerkgate-Email": "old@example.com",
		"X-Clerkgate-Role": "admin", "X-Clerkgate-Permissions": "*"}
	if got := identityOf(a.header); a.status != 200 || !equalMaps(got, want) {
		t.Fatalf("legacy: %d, upstream identity %v", a.status, got)
	}
	for _, c := range []struct {
		path, tok string
		status    int
		code      string
	}{
		{"/staff/x", "legacy." + f.banned.ID, 401, "session_revoked"},
		{"/staff/x", "legacy.usr_nobody", 401, "token_invalid"},
		{"/staff/x", "legacy.sunset", 401, "legacy_token_sunset"},
		{"/staff/x", "legacy.expired", 401, "token_expired"},
		{"/rv/x", "legacy." + f.admin.ID, 403, "reverification_required"}, // no factor ages in a legacy token
		{"/open/x", "legacy." + f.admin.ID, 200, ""},                      // anonymous: passed, no identity
	} {
		if a := f.get(t, c.path, c.tok); a.status != c.status || a.code != c.code {
			t.Errorf("%s with %s: %d %s, want %d %s", c.path, c.tok, a.status, a.code, c.status, c.code)
		} else if c.path == "/open/x" && len(identityOf(a.header)) != 0 {
			t.Errorf("anonymous route with a legacy token: identity %v", identityOf(a.header))
		}
	}
	off := newHookFixture(t, func(d *httpapi.Deps) { d.Legacy = nil })
	if a := off.get(t, "/staff/x", "legacy."+off.admin.ID); a.status != 401 || a.code != "token_invalid" {
		t.Fatalf("legacy off: %d %s", a.status, a.code)
	}
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestProxyUpstreamTimeout(t *testing.T) {
	t.Parallel()
	f := newHookFixture(t, func(d *httpapi.Deps) { d.UpstreamTimeout = 200 * time.Millisecond })
	a := f.get(t, "/open/slow", "")
	if a.status != 502 || a.code != "unavailable" || a.took > 2*time.Second {
		t.Fatalf("slow upstream: %d %s after %v", a.status, a.code, a.took)
	}
}

// TestProxyUpstreamFromPolicy: without Deps.Upstream the policy's upstream
// is used, and a reloaded policy can bring or take it away.
func TestProxyUpstreamFromPolicy(t *testing.T) {
	t.Parallel()
	f := newHookFixture(t, func(d *httpapi.Deps) { d.Upstream = nil })
	if a := f.get(t, "/open/x", ""); a.status != 404 || a.code != "not_found" {
		t.Fatalf("no upstream: %d %s", a.status, a.code)
	}
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "{}") }))
	t.Cleanup(up.Close)
	pol, err := policy.Parse([]byte(hookPolicy+"upstream: "+up.URL+"\n"), "hooks.yaml")
	if err != nil {
		t.Fatal(err)
	}
	f.pol.Store(pol)
	if a := f.get(t, "/open/x//y/../z", ""); a.status != 200 {
		t.Fatalf("policy upstream: %d %s", a.status, a.code)
	}
	if a := f.get(t, "/healthz", ""); a.status != 200 {
		t.Fatalf("healthz: %d", a.status)
	}
}

// TestRequestIDTravels checks that one request id, the client's when sane
// and a new one otherwise, is on the answer, in a problem document and on
// the request the upstream gets.
func TestRequestIDTravels(t *testing.T) {
	f := newHookFixture(t, nil)
	fresh := regexp.MustCompile(`^[0-9a-f]{24}$`)
	do := func(path, sent string) (*http.Response, []byte) {
		t.Helper()
		req, _ := http.NewRequest("GET", f.url+path, nil)
		if sent != "" {
			req.Header.Set("X-Request-Id", sent)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp, body
	}
	for _, sent := range []string{"req-7.a_b:c", "", "two words", "<x>", strings.Repeat("a", 129)} {
		sane := clerkgate.SaneRequestID(sent)
		// Proxied: the upstream sees the answer's id.
		resp, body := do("/open/x", sent)
		got := resp.Header.Values("X-Request-Id")
		var out struct {
			Header http.Header `json:"header"`
		}
		if err := json.Unmarshal(body, &out); err != nil {
			t.Fatalf("sent %q: %v in %s", sent, err, body)
		}
		if len(got) != 1 || (sane && got[0] != sent) || (!sane && !fresh.MatchString(got[0])) {
			t.Errorf("sent %q: answer's X-Request-Id %q", sent, got)
			continue
		}
		if up := out.Header.Values("X-Request-Id"); !slices.Equal(up, got) {
			t.Errorf("sent %q: upstream got X-Request-Id %q, answer has %q", sent, up, got)
		}
		// A problem document names the same id as its header.
		resp, body = do("/auth/me", sent)
		var doc struct {
			RequestID string `json:"request_id"`
		}
		json.Unmarshal(body, &doc)
		if resp.StatusCode != http.StatusUnauthorized || doc.RequestID == "" || doc.RequestID != resp.Header.Get("X-Request-Id") ||
			(sane && doc.RequestID != sent) {
			t.Errorf("sent %q: %d, request_id %q, X-Request-Id %q", sent, resp.StatusCode, doc.RequestID, resp.Header.Get("X-Request-Id"))
		}
	}
}

// A request built by hand without a header map is served, not a panic.
func TestRequestWithoutHeaderMap(t *testing.T) {
	h := httpapi.NewServer(httpapi.Deps{})
	r := httptest.NewRequest("GET", "/healthz", nil)
	r.Header = nil
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != http.StatusOK || !regexp.MustCompile(`^[0-9a-f]{24}$`).MatchString(w.Header().Get("X-Request-Id")) {
		t.Fatalf("%d, X-Request-Id %q", w.Code, w.Header().Get("X-Request-Id"))
	}
}

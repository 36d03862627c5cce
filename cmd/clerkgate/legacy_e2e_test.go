package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/clerkgate/clerkgate"
	"github.com/clerkgate/clerkgate/clerkemu"
	"github.com/clerkgate/clerkgate/examples/legacy-api/app"
	"github.com/clerkgate/clerkgate/internal/sqlite"
)

// legacyCall is one answer of the legacy end-to-end test.
type legacyCall struct {
	status int
	header http.Header
	body   map[string]any
}

// legacyDo sends a request with an optional bearer token and JSON body.
func legacyDo(t *testing.T, method, url, tok, body string) legacyCall {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	json.Unmarshal(raw, &out)
	return legacyCall{resp.StatusCode, resp.Header, out}
}

const legacyGuide = "https://docs.example.test/migration"

// wantDeprecated fails t unless h carries the deprecation headers of a
// window that ends at sunset.
func wantDeprecated(t *testing.T, what string, h http.Header, sunset time.Time) {
	t.Helper()
	if h.Get("Deprecation") != "true" || h.Get("Sunset") != sunset.UTC().Format(http.TimeFormat) ||
		!strings.Contains(h.Get("Link"), "<"+legacyGuide+`>; rel="deprecation"`) {
		t.Errorf("%s: Deprecation %q, Sunset %q, Link %q", what, h.Get("Deprecation"), h.Get("Sunset"), h.Get("Link"))
	}
}

// TestLegacyMigration walks the whole migration of SPEC §8 with the example
// API of examples/legacy-api behind clerkgate in proxy mode: legacy tokens
// work → the users are imported into Clerk → Clerk tokens work for the same
// local users → the sunset passes → legacy tokens and the old login are
// refused. A client of a migrated user that switched to Clerk before the
// sunset sees no failed request along the way.
func TestLegacyMigration(t *testing.T) {
	t.Parallel()
	const secret = "legacy-hs256-secret-of-the-example-api"
	type person struct{ id, email, password, first, last, role string }
	people := []person{
		{"1001", "ann@example.com", "ann-password", "Ann", "Lee", "admin"},
		{"1002", "bob@example.com", "bob-password", "Bob", "Martin", "member"},
	}

	// The old application, and its users copied into clerkgate's store
	// (in production: the same rows, see docs/migration.md).
	dbURL := "sqlite://" + filepath.Join(t.TempDir(), "gate.db")
	st, err := sqlite.Open(t.Context(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	var users []app.User
	for _, p := range people {
		h, err := bcrypt.GenerateFromPassword([]byte(p.password), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		users = append(users, app.User{ID: p.id, Email: p.email, PasswordHash: string(h), FirstName: p.first, LastName: p.last, Role: p.role})
		if _, err := st.CreateLocalUser(t.Context(), &clerkgate.User{ID: p.id, Email: p.email, EmailVerified: true,
			FirstName: p.first, LastName: p.last, Role: p.role, PasswordDigest: string(h)}); err != nil {
			t.Fatal(err)
		}
	}
	// Two legacy users who may no longer sign in: banned, and deleted.
	for _, u := range []*clerkgate.User{
		{ID: "1003", Email: "eve@example.com", Banned: true},
		{ID: "1004", Email: "gone@example.com", DeletedAt: time.Now().Add(-time.Hour)},
	} {
		if _, err := st.CreateLocalUser(t.Context(), u); err != nil {
			t.Fatal(err)
		}
	}
	st.Close()
	api, err := app.New(app.Options{Secret: []byte(secret), Users: users, TrustGateway: true, TokenTTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	upstream := httptest.NewServer(api)
	t.Cleanup(upstream.Close)

	// clerkgate in front of it, with the emulator as Clerk and a migration
	// window that ends in a few seconds.
	emu := clerkemu.Start(t, clerkemu.Options{})
	sunset := time.Now().Add(12 * time.Second).Truncate(time.Second)
	policyFile := filepath.Join(t.TempDir(), "policy.yaml")
	policyYAML := fmt.Sprintf(`upstream: %s
routes:
  - path: /auth/login
    methods: [POST]
    anonymous: true
  - path: /auth/refresh
    methods: [POST]
    anonymous: true
  - path: /api/**
    require: {permissions: ["profile:read"]}
legacy:
  algorithm: HS256
  secret_env: LEGACY_JWT_SECRET
  issuer: legacy-api
  sunset: %s
  migration_guide: %s
`, upstream.URL, sunset.Format(time.RFC3339), legacyGuide)
	if err := os.WriteFile(policyFile, []byte(policyYAML), 0o600); err != nil {
		t.Fatal(err)
	}
	env := serviceEnv(emu, dbURL)
	env["CLERKGATE_POLICY"] = policyFile
	env["LEGACY_JWT_SECRET"] = secret
	env["CLERK_WEBHOOK_SIGNING_SECRET"] = testWebhookSecret
	base, log := startServe(t, env)
	if err := emu.AddWebhookEndpoint(base+"/webhooks/clerk", testWebhookSecret); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if strings.Contains(log.String(), secret) {
			t.Error("the legacy secret reached the log")
		}
	})

	// 1. The old login, through clerkgate to the upstream, deprecated.
	login := func(p person) (access, refresh string) {
		t.Helper()
		r := legacyDo(t, "POST", base+"/auth/login", "", `{"email":"`+p.email+`","password":"`+p.password+`"}`)
		if r.status != 200 || r.body["access_token"] == nil {
			t.Fatalf("legacy login of %s: %d %v", p.email, r.status, r.body)
		}
		wantDeprecated(t, "login", r.header, sunset)
		return r.body["access_token"].(string), r.body["refresh_token"].(string)
	}
	annLegacy, annRefresh := login(people[0])
	bobLegacy, _ := login(people[1])

	// 2. Legacy tokens work on the proxied API and on clerkgate's own API.
	r := legacyDo(t, "GET", base+"/api/profile", annLegacy, "")
	if r.status != 200 || r.body["id"] != "1001" || r.body["auth"] != "legacy" || r.body["role"] != "admin" {
		t.Fatalf("profile with a legacy token: %d %v", r.status, r.body)
	}
	wantDeprecated(t, "profile", r.header, sunset)
	r = legacyDo(t, "GET", base+"/auth/me", annLegacy, "")
	if r.status != 200 || r.body["id"] != "1001" || r.body["clerk_user_id"] != "" || r.body["role"] != "admin" {
		t.Fatalf("/auth/me with a legacy token: %d %v", r.status, r.body)
	}
	wantDeprecated(t, "/auth/me", r.header, sunset)
	// A legacy token has no Clerk session to refresh or end.
	if r := legacyDo(t, "POST", base+"/auth/token", annLegacy, ""); r.status != 403 || r.body["code"] != "forbidden" {
		t.Errorf("/auth/token with a legacy token: %d %v", r.status, r.body)
	}
	// A forged legacy token is refused, deprecated all the same.
	forged := annLegacy[:strings.LastIndexByte(annLegacy, '.')+1] + "AAAA"
	if r := legacyDo(t, "GET", base+"/api/profile", forged, ""); r.status != 401 || r.body["code"] != "token_invalid" {
		t.Errorf("a forged legacy token: %d %v", r.status, r.body)
	}
	// Banned and deleted users are refused on legacy tokens too.
	for _, id := range []string{"1003", "1004"} {
		tok := signLegacy(t, secret, `{"sub":"`+id+`","iss":"legacy-api","exp":`+fmt.Sprint(time.Now().Add(time.Hour).Unix())+`}`)
		for _, path := range []string{"/api/profile", "/auth/me"} {
			if r := legacyDo(t, "GET", base+path, tok, ""); r.status != 401 || r.body["code"] != "session_revoked" {
				t.Errorf("%s with the legacy token of user %s: %d %v", path, id, r.status, r.body)
			}
		}
	}
	// The old refresh still works during the window.
	if r := legacyDo(t, "POST", base+"/auth/refresh", "", `{"refresh_token":"`+annRefresh+`"}`); r.status != 200 {
		t.Errorf("legacy refresh: %d %v", r.status, r.body)
	} else {
		wantDeprecated(t, "refresh", r.header, sunset)
	}

	// Bob's client keeps calling the API all along: with its legacy token
	// now, with a Clerk token once bob is imported, across the sunset.
	var bobCred atomic.Value
	bobCred.Store(bobLegacy)
	var failures []string
	var mu sync.Mutex
	var calls atomic.Int64
	stop := make(chan struct{})
	done := make(chan struct{})
	// bobUsedLegacy is closed once a request of bob's client with the legacy
	// token has been answered: the import waits for it, or else (the import
	// takes a few milliseconds) the client may switch to its Clerk token
	// before it ever sent the legacy one, and bob has no legacy use.
	bobUsedLegacy := make(chan struct{})
	var bobUsedOnce sync.Once
	go func() {
		defer close(done)
		for wait := time.Duration(0); ; wait = 50 * time.Millisecond {
			select {
			case <-stop:
				return
			case <-time.After(wait):
			}
			cred := bobCred.Load().(string)
			req, _ := http.NewRequest("GET", base+"/api/profile", nil)
			req.Header.Set("Authorization", "Bearer "+cred)
			resp, err := http.DefaultClient.Do(req)
			calls.Add(1)
			if err != nil {
				mu.Lock()
				failures = append(failures, err.Error())
				mu.Unlock()
				continue
			}
			var p map[string]any
			json.NewDecoder(resp.Body).Decode(&p)
			resp.Body.Close()
			if resp.StatusCode != 200 || p["id"] != "1002" {
				mu.Lock()
				failures = append(failures, fmt.Sprintf("%d %v", resp.StatusCode, p))
				mu.Unlock()
			} else if cred == bobLegacy {
				bobUsedOnce.Do(func() { close(bobUsedLegacy) })
			}
		}
	}()
	select {
	case <-bobUsedLegacy:
	case <-time.After(5 * time.Second):
		close(stop)
		<-done
		mu.Lock()
		defer mu.Unlock()
		t.Fatalf("bob's client made no successful request with its legacy token: %d calls, failures %v", calls.Load(), failures)
	}

	// 3. import-legacy: both users into Clerk, with their password digests.
	res := runCLI(t, env, "import-legacy")
	if res.err != nil || res.stdout != "import-legacy: created 2, linked 0, skipped 1, failed 0\n" {
		t.Fatalf("import-legacy: %v %q\n%s", res.err, res.stdout, res.stderr)
	}
	clerkIDs := map[string]string{}
	byExternal := clerkUsersByExternalID(t, emu)
	for _, p := range people {
		u, ok := byExternal[p.id]
		if !ok {
			t.Fatalf("user %s is not in Clerk", p.id)
		}
		if bcrypt.CompareHashAndPassword([]byte(u.digest), []byte(p.password)) != nil || u.hasher != "bcrypt" {
			t.Errorf("user %s: Clerk does not hold the old password (hasher %q)", p.id, u.hasher)
		}
		clerkIDs[p.id] = u.id
	}

	// 4. Clerk session tokens work for the same local users.
	clerkToken := func(id string) string {
		t.Helper()
		s, err := emu.CreateSession(clerkIDs[id], "")
		if err != nil {
			t.Fatal(err)
		}
		tok, err := emu.SessionToken(s.ID, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	annClerk, bobClerk := clerkToken("1001"), clerkToken("1002")
	bobCred.Store(bobClerk)
	r = legacyDo(t, "GET", base+"/api/profile", annClerk, "")
	if r.status != 200 || r.body["id"] != "1001" || r.body["auth"] != "session" || r.header.Get("Deprecation") != "" {
		t.Fatalf("profile with a Clerk token: %d %v %v", r.status, r.body, r.header)
	}
	r = legacyDo(t, "GET", base+"/auth/me", annClerk, "")
	if r.status != 200 || r.body["id"] != "1001" || r.body["clerk_user_id"] != clerkIDs["1001"] || r.body["role"] != "admin" {
		t.Fatalf("/auth/me with a Clerk token: %d %v", r.status, r.body)
	}
	// The legacy token still works for the linked user until the sunset.
	r = legacyDo(t, "GET", base+"/auth/me", annLegacy, "")
	if r.status != 200 || r.body["clerk_user_id"] != clerkIDs["1001"] {
		t.Fatalf("/auth/me with a legacy token after the import: %d %v", r.status, r.body)
	}
	if time.Now().After(sunset) {
		t.Fatalf("the steps before the sunset took too long (sunset at %v): the test cannot check the window", sunset)
	}

	// The uses were counted, and recorded once per user per hour.
	r = legacyDo(t, "GET", base+"/admin/security-events?kind=legacy_token_used&limit=200", annClerk, "")
	events, _ := r.body["data"].([]any)
	perUser := map[string]int{}
	for _, e := range events {
		perUser[e.(map[string]any)["user_id"].(string)]++
	}
	if r.status != 200 || perUser["1001"] != 1 || perUser["1002"] != 1 || len(perUser) != 2 {
		t.Errorf("legacy_token_used events: %d %v", r.status, perUser)
	}
	if !strings.Contains(metricsText(t, base), `clerkgate_auth_requests_total{method="legacy",reason="",result="ok"}`) {
		t.Error("no legacy authentications in clerkgate_auth_requests_total")
	}

	// 5. The sunset passes.
	time.Sleep(time.Until(sunset) + 200*time.Millisecond)
	for _, path := range []string{"/api/profile", "/auth/me"} {
		r := legacyDo(t, "GET", base+path, annLegacy, "")
		if r.status != 401 || r.body["code"] != "legacy_token_sunset" || !strings.Contains(r.header.Get("Link"), legacyGuide) {
			t.Errorf("%s with a legacy token after the sunset: %d %v, Link %q", path, r.status, r.body, r.header.Get("Link"))
		}
	}
	for _, path := range []string{"/auth/login", "/auth/refresh"} {
		r := legacyDo(t, "POST", base+path, "", `{"email":"ann@example.com","password":"ann-password"}`)
		if r.status != 410 || r.body["code"] != "legacy_token_sunset" || !strings.Contains(r.header.Get("Link"), legacyGuide) ||
			!strings.Contains(r.body["detail"].(string), "/auth/token") {
			t.Errorf("%s after the sunset: %d %v, Link %q", path, r.status, r.body, r.header.Get("Link"))
		}
	}
	if r := legacyDo(t, "GET", base+"/api/profile", annClerk, ""); r.status != 200 || r.body["id"] != "1001" {
		t.Errorf("profile with a Clerk token after the sunset: %d %v", r.status, r.body)
	}
	// Forward-auth says the same about the old login (the test is a
	// trusted proxy: loopback).
	req, _ := http.NewRequest("GET", base+"/auth/verify", nil)
	req.Header.Set("X-Forwarded-Method", "POST")
	req.Header.Set("X-Forwarded-Uri", "/auth/login?next=/")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 410 {
		t.Errorf("forward-auth about /auth/login after the sunset: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}

	time.Sleep(300 * time.Millisecond) // a few calls of bob's client after the sunset
	close(stop)
	<-done
	mu.Lock()
	defer mu.Unlock()
	if len(failures) > 0 || calls.Load() < 20 {
		t.Errorf("bob's client: %d calls, failures %v", calls.Load(), failures)
	}
}

// signLegacy signs claims (JSON) as the example API does: HS256 with secret.
func signLegacy(t *testing.T, secret, claims string) string {
	t.Helper()
	enc := base64.RawURLEncoding.EncodeToString
	in := enc([]byte(`{"alg":"HS256","typ":"JWT"}`)) + "." + enc([]byte(claims))
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(in))
	return in + "." + enc(mac.Sum(nil))
}

// clerkUser is what the migration test reads of a Clerk user.
type clerkUser struct{ id, digest, hasher string }

// clerkUsersByExternalID reads the emulator's users with their password
// digests, by external id.
func clerkUsersByExternalID(t *testing.T, emu *clerkemu.Server) map[string]clerkUser {
	t.Helper()
	b, err := emu.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Users []struct {
			PasswordDigest string        `json:"password_digest"`
			PasswordHasher string        `json:"password_hasher"`
			User           clerkemu.User `json:"user"`
		} `json:"users"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	out := map[string]clerkUser{}
	for _, u := range doc.Users {
		if u.User.ExternalID != nil {
			out[*u.User.ExternalID] = clerkUser{u.User.ID, u.PasswordDigest, u.PasswordHasher}
		}
	}
	return out
}

// metricsText returns the service's /metrics.
func metricsText(t *testing.T, base string) string {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

package app_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/clerkgate/clerkgate/examples/legacy-api/app"
)

func mustAPI(t *testing.T, trust bool) *httptest.Server {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte("ann-password"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	api, err := app.New(app.Options{Secret: []byte("s3cret"), TrustGateway: trust, TokenTTL: time.Minute,
		Users: []app.User{{ID: "1001", Email: "ann@example.com", PasswordHash: string(h), FirstName: "Ann", Role: "admin"}}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	return srv
}

func call(t *testing.T, method, url, tok, body string, edit func(*http.Request)) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	if edit != nil {
		edit(req)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

func TestAlone(t *testing.T) {
	t.Parallel()
	srv := mustAPI(t, false)
	if code, _ := call(t, "POST", srv.URL+"/auth/login", "", `{"email":"ann@example.com","password":"wrong"}`, nil); code != 401 {
		t.Fatalf("wrong password: %d", code)
	}
	if code, _ := call(t, "POST", srv.URL+"/auth/login", "", `{"email":"nobody@example.com","password":"x"}`, nil); code != 401 {
		t.Fatalf("unknown email: %d", code)
	}
	code, toks := call(t, "POST", srv.URL+"/auth/login", "", `{"email":"ANN@example.com","password":"ann-password"}`, nil)
	if code != 200 || toks["access_token"] == "" || toks["expires_in"] != float64(60) {
		t.Fatalf("login: %d %v", code, toks)
	}
	code, p := call(t, "GET", srv.URL+"/api/profile", toks["access_token"].(string), "", nil)
	if code != 200 || p["id"] != "1001" || p["auth"] != "token" || p["role"] != "admin" {
		t.Fatalf("profile: %d %v", code, p)
	}
	// Refresh: a new pair; the old refresh token is spent.
	code, again := call(t, "POST", srv.URL+"/auth/refresh", "", `{"refresh_token":"`+toks["refresh_token"].(string)+`"}`, nil)
	if code != 200 || again["access_token"] == "" {
		t.Fatalf("refresh: %d %v", code, again)
	}
	if code, _ := call(t, "POST", srv.URL+"/auth/refresh", "", `{"refresh_token":"`+toks["refresh_token"].(string)+`"}`, nil); code != 401 {
		t.Fatalf("a spent refresh token: %d", code)
	}
	// Without a token, a forged one, or the gateway's header: refused.
	for name, tc := range map[string]struct {
		tok  string
		edit func(*http.Request)
	}{
		"none":   {"", nil},
		"forged": {toks["access_token"].(string)[:len(toks["access_token"].(string))-2] + "xx", nil},
		"header": {"", func(r *http.Request) { r.Header.Set("X-Clerkgate-User-Id", "1001") }},
	} {
		if code, _ := call(t, "GET", srv.URL+"/api/profile", tc.tok, "", tc.edit); code != 401 {
			t.Errorf("%s: %d, want 401", name, code)
		}
	}
}

func TestBehindGateway(t *testing.T) {
	t.Parallel()
	srv := mustAPI(t, true)
	code, p := call(t, "GET", srv.URL+"/api/profile", "", "", func(r *http.Request) {
		r.Header.Set("X-Clerkgate-User-Id", "1001")
		r.Header.Set("X-Clerkgate-Auth", "session")
	})
	if code != 200 || p["id"] != "1001" || p["auth"] != "session" {
		t.Fatalf("profile behind the gateway: %d %v", code, p)
	}
	if code, _ := call(t, "GET", srv.URL+"/api/profile", "", "", nil); code != 401 {
		t.Fatalf("no gateway header: %d", code)
	}
}

func TestNewNeedsSecret(t *testing.T) {
	t.Parallel()
	if _, err := app.New(app.Options{}); err == nil {
		t.Fatal("New without a secret did not fail")
	}
}

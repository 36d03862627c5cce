package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/clerkgate/clerkgate/clerkemu"
)

// startServe runs "clerkgate serve" on a free port until the test ends and
// returns its base URL and its log. The cleanup cancels the context and
// checks that run returns nil promptly.
func startServe(t *testing.T, env map[string]string, args ...string) (string, *syncBuffer) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	stderr := &syncBuffer{}
	done := make(chan error, 1)
	go func() {
		args := append([]string{"clerkgate", "serve", "--addr", "127.0.0.1:0"}, args...)
		done <- run(ctx, args, getenvFrom(env), strings.NewReader(""), io.Discard, stderr)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("serve run() = %v after cancel, want nil", err)
			}
		case <-time.After(shutdownTimeout + 5*time.Second):
			t.Errorf("serve run() did not return after cancel")
		}
		if key := env["CLERK_SECRET_KEY"]; key != "" && strings.Contains(stderr.String(), key) {
			t.Errorf("the secret key reached the log")
		}
	})
	listening := regexp.MustCompile(`"msg":"listening","url":"(http://[^"]+)"`)
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if m := listening.FindStringSubmatch(stderr.String()); m != nil {
			return m[1], stderr
		}
		select {
		case err := <-done:
			t.Fatalf("serve stopped before it listened: %v\n%s", err, stderr.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
	t.Fatalf("serve did not listen in time:\n%s", stderr.String())
	return "", nil
}

// serviceEnv is the environment of a service in front of emu, with db.
func serviceEnv(emu *clerkemu.Server, db string) map[string]string {
	return map[string]string{
		"CLERK_SECRET_KEY": emu.SecretKey(),
		"CLERK_API_URL":    emu.URL,
		"DATABASE_URL":     db,
	}
}

type httpResult struct {
	status int
	header http.Header
	body   map[string]any
}

func get(t *testing.T, url string, edit func(*http.Request)) httpResult {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		edit(req)
	}
	resp, err := client(t).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	res := httpResult{status: resp.StatusCode, header: resp.Header}
	if len(raw) > 0 && json.Unmarshal(raw, &res.body) != nil {
		t.Fatalf("GET %s: body is not JSON: %q", url, raw)
	}
	return res
}

func bearer(tok string) func(*http.Request) {
	return func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+tok) }
}

// testService drives one serve process against an emulator: the shared
// end-to-end checks of both engines.
func testService(t *testing.T, db string) {
	emu := clerkemu.Start(t, clerkemu.Options{})
	alice, err := emu.CreateUser(clerkemu.UserParams{Email: "alice@example.com", FirstName: "Alice",
		PublicMetadata: map[string]any{"role": "admin"}})
	if err != nil {
		t.Fatal(err)
	}
	bob, err := emu.CreateUser(clerkemu.UserParams{Email: "bob@example.com", FirstName: "Bob"})
	if err != nil {
		t.Fatal(err)
	}
	org, err := emu.CreateOrganization("Acme", "acme", alice.ID)
	if err != nil {
		t.Fatal(err)
	}
	base, logs := startServe(t, serviceEnv(emu, db))
	token := func(userID, orgID string) string {
		s, err := emu.CreateSession(userID, orgID)
		if err != nil {
			t.Fatal(err)
		}
		tok, err := emu.SessionToken(s.ID, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}

	t.Run("me as admin with org", func(t *testing.T) {
		r := get(t, base+"/auth/me", bearer(token(alice.ID, org.ID)))
		if r.status != 200 {
			t.Fatalf("status %d: %v", r.status, r.body)
		}
		if r.body["role"] != "admin" || r.body["email"] != "alice@example.com" || r.body["clerk_user_id"] != alice.ID {
			t.Fatalf("me %v", r.body)
		}
		o, _ := r.body["org"].(map[string]any)
		if o == nil || o["slug"] != "acme" || o["role"] != "org:admin" {
			t.Fatalf("org %v", r.body["org"])
		}
		for _, k := range []string{"id", "first_name", "last_name", "image_url", "permissions", "session_id", "created_at", "updated_at", "last_sign_in_at"} {
			if _, ok := r.body[k]; !ok {
				t.Errorf("me lacks %q", k)
			}
		}
	})
	t.Run("me as member through the cookie", func(t *testing.T) {
		tok := token(bob.ID, "")
		r := get(t, base+"/auth/me", func(r *http.Request) { r.AddCookie(&http.Cookie{Name: "__session", Value: tok}) })
		if r.status != 200 || r.body["role"] != "member" || r.body["org"] != nil {
			t.Fatalf("status %d: %v", r.status, r.body)
		}
	})
	t.Run("no credentials", func(t *testing.T) {
		r := get(t, base+"/auth/me", nil)
		if r.status != 401 || r.body["code"] != "unauthenticated" {
			t.Fatalf("status %d: %v", r.status, r.body)
		}
		if got := r.header.Get("WWW-Authenticate"); got != `Bearer realm="clerkgate"` {
			t.Fatalf("WWW-Authenticate %q", got)
		}
		if r.header.Get("Content-Type") != "application/problem+json" || r.body["request_id"] != r.header.Get("X-Request-Id") {
			t.Fatalf("problem %v, headers %v", r.body, r.header)
		}
	})
	t.Run("expired token", func(t *testing.T) {
		s, err := emu.CreateSession(bob.ID, "")
		if err != nil {
			t.Fatal(err)
		}
		now := time.Now()
		tok, err := emu.Sign(map[string]any{"iss": emu.Issuer(), "sub": bob.ID, "sid": s.ID,
			"iat": now.Add(-2 * time.Minute).Unix(), "exp": now.Add(-time.Minute).Unix(), "v": 2}, nil)
		if err != nil {
			t.Fatal(err)
		}
		r := get(t, base+"/auth/me", bearer(tok))
		if r.status != 401 || r.body["code"] != "token_expired" {
			t.Fatalf("status %d: %v", r.status, r.body)
		}
		if got := r.header.Get("WWW-Authenticate"); !strings.HasPrefix(got, `Bearer realm="clerkgate", error="invalid_token", error_description=`) {
			t.Fatalf("WWW-Authenticate %q", got)
		}
	})
	t.Run("request id echoed", func(t *testing.T) {
		r := get(t, base+"/healthz", func(r *http.Request) { r.Header.Set("X-Request-Id", "abc-123") })
		if r.status != 200 || r.body["status"] != "ok" || r.header.Get("X-Request-Id") != "abc-123" {
			t.Fatalf("status %d %v %v", r.status, r.body, r.header)
		}
		r = get(t, base+"/healthz", func(r *http.Request) { r.Header.Set("X-Request-Id", "bad id {}") })
		if id := r.header.Get("X-Request-Id"); id == "" || strings.Contains(id, " ") {
			t.Fatalf("request id %q", id)
		}
	})
	t.Run("readyz", func(t *testing.T) {
		r := get(t, base+"/readyz", nil)
		checks, _ := r.body["checks"].(map[string]any)
		if r.status != 200 || r.body["status"] != "ready" || len(checks) != 4 {
			t.Fatalf("status %d: %v", r.status, r.body)
		}
	})
	t.Run("unknown route and method", func(t *testing.T) {
		r := get(t, base+"/nope", nil)
		if r.status != 404 || r.body["code"] != "not_found" {
			t.Fatalf("status %d: %v", r.status, r.body)
		}
		req, _ := http.NewRequest("DELETE", base+"/auth/me", nil)
		resp, err := client(t).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 405 || resp.Header.Get("Allow") == "" {
			t.Fatalf("DELETE /auth/me: %d, Allow %q", resp.StatusCode, resp.Header.Get("Allow"))
		}
	})
	t.Run("metrics", func(t *testing.T) {
		resp, err := client(t).Get(base + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		for _, series := range []string{
			`clerkgate_auth_requests_total{method="session",reason="",result="ok"}`,
			`clerkgate_http_requests_total{code="200",route="GET /auth/me"}`,
			`clerkgate_token_cache_requests_total{result="miss"}`,
			`clerkgate_cache_requests_total{cache="user",result="miss"}`,
			`clerkgate_jwks_fetches_total{result="ok"}`,
			`clerkgate_clerk_api_requests_total{operation="get_user",status="200"}`,
			"clerkgate_auth_verify_duration_seconds_bucket",
			"go_goroutines",
		} {
			if !strings.Contains(string(raw), series) {
				t.Errorf("metrics lack %s", series)
			}
		}
		if strings.Contains(string(raw), "/nope") {
			t.Errorf("a raw path reached a metric label")
		}
	})
	if strings.Contains(logs.String(), "eyJ") {
		t.Errorf("a token reached the log")
	}
}

func TestServeSQLite(t *testing.T) {
	t.Parallel()
	testService(t, "sqlite://"+t.TempDir()+"/clerkgate.db")
}

func TestServePostgres(t *testing.T) {
	t.Parallel()
	url := os.Getenv("CLERKGATE_TEST_POSTGRES_URL")
	if url == "" {
		t.Skip("CLERKGATE_TEST_POSTGRES_URL is not set")
	}
	testService(t, freshDatabase(t, url))
}

// freshDatabase creates a database of its own for a test and drops it at
// the end; it fails (never skips) when the server cannot be reached.
func freshDatabase(t *testing.T, url string) string {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("CLERKGATE_TEST_POSTGRES_URL is set but Postgres is unreachable: %v", err)
	}
	name := fmt.Sprintf("clerkgate_test_%d", time.Now().UnixNano())
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("drop test database: %v", err)
		}
		conn.Close(ctx)
	})
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("postgres://%s@%s:%d/%s?sslmode=disable", cfg.User, cfg.Host, cfg.Port, name)
}

func TestServeConfigErrors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		env  map[string]string
		want []string
	}{
		{map[string]string{}, []string{"CLERK_SECRET_KEY: required"}},
		{map[string]string{"CLERK_SECRET_KEY": "pk_x", "CLERK_API_URL": "ftp://x", "DATABASE_URL": "mysql://x",
			"CLERKGATE_LEEWAY": "soon", "CLERKGATE_ALGORITHMS": "HS256", "CLERKGATE_AUTH_FAILURE_LIMIT": "lots",
			"CLERK_JWT_KEY": "not a key", "CLERKGATE_TOKEN_CACHE_SIZE": "-1"},
			[]string{"CLERK_SECRET_KEY: must start with sk_", "CLERK_API_URL:", "DATABASE_URL:", "CLERKGATE_LEEWAY:",
				"CLERKGATE_ALGORITHMS:", "CLERKGATE_AUTH_FAILURE_LIMIT:", "CLERK_JWT_KEY:", "CLERKGATE_TOKEN_CACHE_SIZE:"}},
		{map[string]string{"CLERK_SECRET_KEY": "sk_test_x", "CLERK_WEBHOOK_SIGNING_SECRET": "whsec_!!!"},
			[]string{"CLERK_WEBHOOK_SIGNING_SECRET:"}},
	}
	for _, c := range cases {
		r := runCLI(t, c.env, "serve")
		if r.err == nil {
			t.Fatalf("env %v: serve started", c.env)
		}
		for _, w := range c.want {
			if !strings.Contains(r.err.Error(), w) {
				t.Errorf("error %q lacks %q", r.err, w)
			}
		}
		if strings.Contains(r.err.Error(), "\n") || strings.Contains(r.err.Error(), "whsec_!!!") {
			t.Errorf("error %q", r.err)
		}
	}
}

func TestMigrateCommand(t *testing.T) {
	t.Parallel()
	db := "sqlite://" + t.TempDir() + "/m.db"
	env := map[string]string{"DATABASE_URL": db}
	r := runCLI(t, env, "migrate", "status")
	if r.err != nil || !strings.Contains(r.stdout, "pending") {
		t.Fatalf("status before: %v\n%s", r.err, r.stdout)
	}
	r = runCLI(t, env, "migrate", "up")
	if r.err != nil || strings.Contains(r.stdout, "pending") || !strings.Contains(r.stdout, "0001") {
		t.Fatalf("up: %v\n%s", r.err, r.stdout)
	}
	r = runCLI(t, env, "migrate", "up")
	if r.err != nil {
		t.Fatalf("second up: %v", r.err)
	}
	if r := runCLI(t, env, "migrate", "sideways"); r.err == nil {
		t.Fatal("migrate sideways accepted")
	}
}

func TestServePolicyFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	bad := dir + "/bad.yaml"
	os.WriteFile(bad, []byte("roles:\n  default: member\n  metadata_key: role\npermissions:\n  member: [profile:read]\n  admin: []\n"), 0o600)
	emu := clerkemu.Start(t, clerkemu.Options{})
	env := serviceEnv(emu, "sqlite://"+dir+"/p.db")
	env["CLERKGATE_POLICY"] = bad
	r := runCLI(t, env, "serve", "--addr", "127.0.0.1:0")
	if r.err == nil || !strings.Contains(r.err.Error(), "bad.yaml:6") {
		t.Fatalf("invalid policy: %v", r.err)
	}
	good := dir + "/good.yaml"
	os.WriteFile(good, []byte("roles:\n  default: reader\n  metadata_key: team_role\npermissions:\n  reader: [docs:read]\n  editor: [docs:read, docs:write]\n"), 0o600)
	env["CLERKGATE_POLICY"] = good
	base, _ := startServe(t, env)
	u, err := emu.CreateUser(clerkemu.UserParams{Email: "e@example.com", PublicMetadata: map[string]any{"team_role": "editor"}})
	if err != nil {
		t.Fatal(err)
	}
	s, _ := emu.CreateSession(u.ID, "")
	tok, _ := emu.SessionToken(s.ID, time.Hour)
	r2 := get(t, base+"/auth/me", bearer(tok))
	if r2.status != 200 || r2.body["role"] != "editor" {
		t.Fatalf("me with a policy file: %d %v", r2.status, r2.body)
	}
}

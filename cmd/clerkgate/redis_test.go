package main

import (
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/clerkgate/clerkgate/clerkemu"
	"github.com/clerkgate/clerkgate/internal/testkit"
)

// The Redis tests run two service instances in one process, sharing one
// store and one Redis, as instances behind a load balancer do (SPEC §12).

// redisPair is two instances, a and b, of one deployment.
type redisPair struct {
	*apiFixture // the emulator; base is instance a
	b           string
	env         map[string]string
}

// startRedisPair starts instance a with Redis at redisURL and b with it at
// bURL (the same Redis, possibly through a proxy), on one SQLite store.
func startRedisPair(t *testing.T, redisURL, bURL, prefix string, extra map[string]string) *redisPair {
	t.Helper()
	p := &redisPair{apiFixture: &apiFixture{emu: clerkemu.Start(t, clerkemu.Options{})}}
	p.env = serviceEnv(p.emu, "sqlite://"+t.TempDir()+"/shared.db")
	p.env["CLERK_WEBHOOK_SIGNING_SECRET"] = testWebhookSecret
	p.env["CLERKGATE_REDIS_PREFIX"] = prefix
	p.env["LOG_LEVEL"] = "debug"
	for k, v := range extra {
		p.env[k] = v
	}
	envA, envB := copyEnv(p.env), copyEnv(p.env)
	envA["REDIS_URL"], envB["REDIS_URL"] = redisURL, bURL
	p.base, _ = startServe(t, envA) // a migrates the store first
	p.b, _ = startServe(t, envB)
	waitReadiness(t, p.base, "ready", 10*time.Second)
	waitReadiness(t, p.b, "ready", 10*time.Second)
	return p
}

func copyEnv(env map[string]string) map[string]string {
	out := make(map[string]string, len(env))
	for k, v := range env {
		out[k] = v
	}
	return out
}

// waitReadiness waits until /readyz says status (ready or degraded, both
// 200), with the cache check ok when ready and failed when degraded.
func waitReadiness(t *testing.T, base, status string, limit time.Duration) {
	t.Helper()
	var last httpResult
	within(t, limit, base+" "+status, func() bool {
		last = get(t, base+"/readyz", nil)
		cache, _ := last.body["checks"].(map[string]any)["cache"].(map[string]any)
		wantCache := map[string]string{"ready": "ok", "degraded": "fail"}[status]
		return last.status == 200 && last.body["status"] == status && cache["status"] == wantCache
	}, func() string { return fmt.Sprintf("%d %v", last.status, last.body) })
}

// within polls cond until it holds and returns how long that took; past
// limit the test fails with what last says.
func within(t *testing.T, limit time.Duration, what string, cond func() bool, last ...func() string) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > limit {
			detail := ""
			if len(last) > 0 {
				detail = ": last " + last[0]()
			}
			t.Fatalf("%s: not within %v%s", what, limit, detail)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return time.Since(start)
}

// meOf is GET /auth/me with tok: the status and the error code or role.
func meOf(t *testing.T, base, tok string) (int, string) {
	t.Helper()
	r := get(t, base+"/auth/me", bearer(tok))
	if r.status == 200 {
		role, _ := r.body["role"].(string)
		return 200, role
	}
	code, _ := r.body["code"].(string)
	return r.status, code
}

func mustMe(t *testing.T, base, tok string, wantStatus int, want string) {
	t.Helper()
	if status, got := meOf(t, base, tok); status != wantStatus || got != want {
		t.Fatalf("%s/auth/me: %d %s, want %d %s", base, status, got, wantStatus, want)
	}
}

// refusedWithin waits until base refuses tok as revoked.
func refusedWithin(t *testing.T, limit time.Duration, what, base, tok string) time.Duration {
	t.Helper()
	var status int
	var got string
	d := within(t, limit, what, func() bool {
		status, got = meOf(t, base, tok)
		return status == 401 && got == "session_revoked"
	}, func() string { return fmt.Sprintf("%d %s", status, got) })
	t.Logf("%s: %v", what, d.Round(time.Millisecond))
	return d
}

// roleWithin waits until base answers tok with role.
func roleWithin(t *testing.T, limit time.Duration, what, base, tok, role string) {
	t.Helper()
	var status int
	var got string
	d := within(t, limit, what, func() bool {
		status, got = meOf(t, base, tok)
		return status == 200 && got == role
	}, func() string { return fmt.Sprintf("%d %s", status, got) })
	t.Logf("%s: %v", what, d.Round(time.Millisecond))
}

// Redis carries what one instance learns to the other at once, far sooner
// than the database poll (2 s) or the user cache's expiry (30 s).
func TestRedisSharedState(t *testing.T) {
	t.Parallel()
	redisURL, prefix := testkit.MustRedis(t)
	p := startRedisPair(t, redisURL, redisURL, prefix, map[string]string{"CLERKGATE_AUTH_FAILURE_LIMIT": "0"})
	const soon = 500 * time.Millisecond
	alice, _ := p.emu.CreateUser(clerkemu.UserParams{Email: "alice@example.com", PublicMetadata: map[string]any{"role": "admin"}})
	bob, _ := p.emu.CreateUser(clerkemu.UserParams{Email: "bob@example.com"})
	carol, _ := p.emu.CreateUser(clerkemu.UserParams{Email: "carol@example.com"})
	aliceTok := p.token(t, alice.ID)
	bob1, bob2, bob3, bob4 := p.token(t, bob.ID), p.token(t, bob.ID), p.token(t, bob.ID), p.token(t, bob.ID)
	carolTok := p.token(t, carol.ID)
	for _, base := range []string{p.base, p.b} { // both instances know every token and user
		mustMe(t, base, aliceTok, 200, "admin")
		for _, tok := range []string{bob1, bob2, bob3, bob4, carolTok} {
			mustMe(t, base, tok, 200, "member")
		}
	}

	// Sessions ended on a: logout, revocation of one's own session, and
	// Clerk's session.revoked webhook.
	if code, _, _ := do(t, "POST", p.base+"/auth/logout", bob1, ""); code != 204 {
		t.Fatalf("logout on a: %d", code)
	}
	refusedWithin(t, soon, "logout on a, refused on b", p.b, bob1)
	if code, _, _ := do(t, "DELETE", p.base+"/auth/sessions/"+tokenSID(t, bob2), bob3, ""); code != 204 {
		t.Fatalf("revoking a session on a: %d", code)
	}
	refusedWithin(t, soon, "session revoked on a, refused on b", p.b, bob2)
	s, err := p.emu.GetSession(tokenSID(t, bob4))
	if err != nil {
		t.Fatal(err)
	}
	if code, _ := postWebhook(t, p.base, testWebhookSecret, "msg_redis_rev", event(t, "session.revoked", s)); code != 200 {
		t.Fatalf("session.revoked on a: %d", code)
	}
	refusedWithin(t, soon, "session.revoked webhook on a, refused on b", p.b, bob4)

	// Users changed on a: a role, a ban and its undoing, a deletion.
	if code, out, _ := do(t, "PATCH", p.base+"/admin/users/"+bob.ID, aliceTok, `{"role":"admin"}`); code != 200 {
		t.Fatalf("role change on a: %d %v", code, out)
	}
	roleWithin(t, soon, "role changed on a, seen on b", p.b, bob3, "admin")
	if code, out, _ := do(t, "POST", p.base+"/admin/users/"+bob.ID+"/ban", aliceTok, ""); code != 200 {
		t.Fatalf("ban on a: %d %v", code, out)
	}
	refusedWithin(t, soon, "ban on a, refused on b", p.b, bob3)
	if code, out, _ := do(t, "POST", p.base+"/admin/users/"+bob.ID+"/unban", aliceTok, ""); code != 200 {
		t.Fatalf("unban on a: %d %v", code, out)
	}
	roleWithin(t, soon, "unban on a, served on b", p.b, bob3, "admin")
	if code, _ := postWebhook(t, p.base, testWebhookSecret, "msg_redis_del", event(t, "user.deleted",
		map[string]any{"id": carol.ID, "object": "user", "deleted": true})); code != 200 {
		t.Fatalf("user.deleted on a: %d", code)
	}
	refusedWithin(t, soon, "user.deleted webhook on a, refused on b", p.b, carolTok)

	// And the other way round.
	alice2 := p.token(t, alice.ID)
	mustMe(t, p.base, alice2, 200, "admin")
	if code, _, _ := do(t, "POST", p.b+"/auth/logout", alice2, ""); code != 204 {
		t.Fatalf("logout on b: %d", code)
	}
	refusedWithin(t, soon, "logout on b, refused on a", p.base, alice2)
}

// The per-address failure limit counts the failures of every instance.
func TestRedisSharedFailureLimit(t *testing.T) {
	t.Parallel()
	redisURL, prefix := testkit.MustRedis(t)
	p := startRedisPair(t, redisURL, redisURL, prefix, map[string]string{"CLERKGATE_AUTH_FAILURE_LIMIT": "3/60s"})
	bob, _ := p.emu.CreateUser(clerkemu.UserParams{Email: "bob@example.com"})
	good := p.token(t, bob.ID)
	for i, base := range []string{p.base, p.b, p.base} {
		if code, _, _ := do(t, "GET", base+"/auth/me", "not.a.token", ""); code != 401 {
			t.Fatalf("failure %d: %d", i+1, code)
		}
	}
	mustMe(t, p.base, good, 200, "member") // three failures: the limit, not past it
	mustMe(t, p.b, good, 200, "member")
	if code, _, _ := do(t, "GET", p.b+"/auth/me", "not.a.token", ""); code != 401 {
		t.Fatalf("failure 4: %d", code)
	}
	for _, base := range []string{p.b, p.base} {
		var code int
		var h map[string][]string
		d := within(t, 500*time.Millisecond, "blocked on "+base, func() bool {
			var hh map[string][]string
			code, _, hh = do(t, "GET", base+"/auth/me", good, "")
			h = hh
			return code == 429
		}, func() string { return fmt.Sprint(code) })
		if ra := h["Retry-After"]; len(ra) != 1 || ra[0] == "" || ra[0] == "0" {
			t.Errorf("%s: Retry-After %v", base, ra)
		}
		t.Logf("blocked on %s after %v", base, d.Round(time.Millisecond))
	}
	// The calls to Redis are counted (SPEC §10).
	m := metricsText(t, p.b)
	for _, want := range []string{`clerkgate_cache_requests_total{cache="redis_fail",result="ok"} 2`,
		`clerkgate_cache_requests_total{cache="redis_receive",result="ok"}`} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

// An instance that loses Redis keeps serving from memory, says it is
// degraded, honours what was denied meanwhile (from the database), and
// catches up when Redis is back.
func TestRedisOutage(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for the database poll; skipped with -short")
	}
	t.Parallel()
	redisURL, prefix := testkit.MustRedis(t)
	u, err := url.Parse(redisURL)
	if err != nil {
		t.Fatal(err)
	}
	proxy := testkit.StartTCPProxy(t, u.Host)
	viaProxy := *u
	viaProxy.Host = proxy.Addr()
	p := startRedisPair(t, redisURL, viaProxy.String(), prefix, map[string]string{"CLERKGATE_AUTH_FAILURE_LIMIT": "100/60s"})
	alice, _ := p.emu.CreateUser(clerkemu.UserParams{Email: "alice@example.com", PublicMetadata: map[string]any{"role": "admin"}})
	bob, _ := p.emu.CreateUser(clerkemu.UserParams{Email: "bob@example.com"})
	carol, _ := p.emu.CreateUser(clerkemu.UserParams{Email: "carol@example.com"})
	aliceTok := p.token(t, alice.ID)
	bob1, bob2, bob3 := p.token(t, bob.ID), p.token(t, bob.ID), p.token(t, bob.ID)
	carolTok := p.token(t, carol.ID)
	for _, base := range []string{p.base, p.b} {
		mustMe(t, base, aliceTok, 200, "admin")
		for _, tok := range []string{bob1, bob2, carolTok} {
			mustMe(t, base, tok, 200, "member")
		}
	}

	proxy.Cut()
	waitReadiness(t, p.b, "degraded", 5*time.Second)
	waitReadiness(t, p.base, "ready", time.Second)
	// b serves from memory, without waiting on Redis: a known token, a
	// new one, a failure (counted in-process).
	for _, tok := range []string{bob2, bob3} {
		start := time.Now()
		mustMe(t, p.b, tok, 200, "member")
		if d := time.Since(start); d > 500*time.Millisecond {
			t.Errorf("a request on b took %v with Redis down", d)
		}
	}
	start := time.Now()
	if code, _, _ := do(t, "GET", p.b+"/auth/me", "not.a.token", ""); code != 401 || time.Since(start) > 500*time.Millisecond {
		t.Errorf("a failure on b with Redis down: %d after %v", code, time.Since(start))
	}
	// What a publishes meanwhile, b misses; the database poll brings the
	// denial.
	if code, _, _ := do(t, "POST", p.base+"/auth/logout", bob1, ""); code != 204 {
		t.Fatalf("logout on a: %d", code)
	}
	refusedWithin(t, denialPollInterval+2*time.Second, "logout on a during the outage, refused on b", p.b, bob1)
	if code, out, _ := do(t, "PATCH", p.base+"/admin/users/"+bob.ID, aliceTok, `{"role":"admin"}`); code != 200 {
		t.Fatalf("role change on a: %d %v", code, out)
	}
	// What b cannot publish, a is told to resync for once b is back.
	if code, out, _ := do(t, "PATCH", p.b+"/admin/users/"+carol.ID, aliceTok, `{"role":"admin"}`); code != 200 {
		t.Fatalf("role change on b: %d %v", code, out)
	}
	time.Sleep(200 * time.Millisecond)
	mustMe(t, p.base, carolTok, 200, "member") // a's cache: b could not tell it

	proxy.Restore()
	waitReadiness(t, p.b, "ready", 5*time.Second)
	roleWithin(t, time.Second, "role changed on a during the outage, seen on b once back", p.b, bob2, "admin")
	roleWithin(t, 2*time.Second, "role changed on b during the outage, seen on a once b is back", p.base, carolTok, "admin")
	if code, _, _ := do(t, "POST", p.base+"/auth/logout", bob2, ""); code != 204 {
		t.Fatalf("logout on a: %d", code)
	}
	refusedWithin(t, 500*time.Millisecond, "logout on a after the outage, refused on b", p.b, bob2)
}

// Start-up refuses a bad REDIS_URL and prefix, naming the variable and
// never showing the password; the logged configuration masks it.
func TestRedisConfig(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ url, want string }{
		{"http://127.0.0.1:6379", "REDIS_URL: not a redis:// or rediss:// URL"},
		{"redis://", "REDIS_URL: the URL has no host"},
		{"redis://:hunter2@127.0.0.1:port/0", "REDIS_URL: not a valid URL"},
		{"redis://:hunter2@127.0.0.1:6379/zero", "REDIS_URL: invalid database number"},
		{"redis://:hunter2@127.0.0.1:6379/0?hunter2=x", "REDIS_URL: unexpected option"},
	} {
		r := runCLI(t, map[string]string{"CLERK_SECRET_KEY": "sk_test_x", "REDIS_URL": c.url}, "serve")
		if r.err == nil || !strings.Contains(r.err.Error(), c.want) || strings.Contains(r.err.Error(), "hunter2") {
			t.Errorf("REDIS_URL=%s: %v, want %q without the password", c.url, r.err, c.want)
		}
	}
	r := runCLI(t, map[string]string{"CLERK_SECRET_KEY": "sk_test_x", "REDIS_URL": "redis://127.0.0.1:6379/0",
		"CLERKGATE_REDIS_PREFIX": "has space"}, "serve")
	if r.err == nil || !strings.Contains(r.err.Error(), "CLERKGATE_REDIS_PREFIX:") {
		t.Errorf("bad prefix: %v", r.err)
	}

	// A Redis that is not there does not stop the service: it starts
	// degraded, and the password stays out of the log.
	emu := clerkemu.Start(t, clerkemu.Options{})
	env := serviceEnv(emu, "sqlite://"+t.TempDir()+"/c.db")
	env["REDIS_URL"] = "redis://:hunter2@127.0.0.1:1/0"
	base, logs := startServe(t, env)
	waitReadiness(t, base, "degraded", 5*time.Second)
	within(t, 2*time.Second, "the outage logged", func() bool { return strings.Contains(logs.String(), "redis unreachable") })
	if !strings.Contains(logs.String(), `"REDIS_URL":"redis://:****@127.0.0.1:1/0"`) || strings.Contains(logs.String(), "hunter2") {
		t.Errorf("logged configuration: %s", logs.String())
	}
}

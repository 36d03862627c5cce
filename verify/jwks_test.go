package verify_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/clerkgate/clerkgate"
	"github.com/clerkgate/clerkgate/verify"
)

func mustVerifier(tb testing.TB, o verify.Options) *verify.Verifier {
	tb.Helper()
	v, err := verify.New(o)
	if err != nil {
		tb.Fatal(err)
	}
	return v
}

func wantCode(tb testing.TB, err error, code clerkgate.Code) {
	tb.Helper()
	if got := clerkgate.ErrorCode(err); got != code {
		tb.Fatalf("code = %q (err %v), want %q", got, err, code)
	}
}

// Cold start: 100 concurrent first requests share one key-set fetch.
func TestJWKSColdStartSingleFetch(t *testing.T) {
	t.Parallel()
	k := mustKey(t, "kid1", 0)
	srv := newJWKSServer(t, k.jwk("RS256"))
	srv.set(func(s *jwksServer) { s.delay = 100 * time.Millisecond })
	v := mustVerifier(t, verify.Options{JWKSURL: srv.URL})
	now := time.Now()
	const n = 100
	toks := make([]string, n)
	for i := range toks {
		c := goodClaims(now)
		c["jti"] = fmt.Sprint("jti_", i)
		toks[i] = k.sign(t, c)
	}
	var wg sync.WaitGroup
	errs := make(chan error, n)
	start := make(chan struct{})
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(tok string) {
			defer wg.Done()
			<-start
			_, err := v.Verify(context.Background(), tok)
			errs <- err
		}(toks[i])
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("verify: %v", err)
		}
	}
	if got := srv.hits.Load(); got != 1 {
		t.Fatalf("JWKS fetches = %d, want 1", got)
	}
}

// Start fetches at once, and the first requests use that fetch.
func TestJWKSStartServesFirstRequests(t *testing.T) {
	t.Parallel()
	k := mustKey(t, "kid1", 0)
	srv := newJWKSServer(t, k.jwk("RS256"))
	srv.set(func(s *jwksServer) { s.delay = 50 * time.Millisecond })
	v := mustVerifier(t, verify.Options{JWKSURL: srv.URL})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	v.Start(ctx)
	if _, err := v.Verify(ctx, k.sign(t, goodClaims(time.Now()))); err != nil {
		t.Fatal(err)
	}
	if got := srv.hits.Load(); got != 1 {
		t.Fatalf("JWKS fetches = %d, want 1", got)
	}
}

// An unknown-kid flood refreshes the key set at most once per window.
func TestJWKSUnknownKidFlood(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("5 s flood")
	}
	k := mustKey(t, "kid1", 0)
	attacker := mustKey(t, "kid1", 1)
	srv := newJWKSServer(t, k.jwk("RS256"))
	const window = 2 * time.Second
	v := mustVerifier(t, verify.Options{JWKSURL: srv.URL, JWKSMinRefresh: window})
	ctx := context.Background()
	if _, err := v.Verify(ctx, k.sign(t, goodClaims(time.Now()))); err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	deadline := began.Add(5 * time.Second)
	var wg sync.WaitGroup
	var mu sync.Mutex
	sent := 0
	for g := 0; g < 32; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; time.Now().Before(deadline); i++ {
				c := goodClaims(time.Now())
				c["jti"] = fmt.Sprint(g, "-", i)
				tk := &testKey{kid: fmt.Sprintf("evil-%d-%d", g, i), priv: attacker.priv}
				_, err := v.Verify(ctx, tk.sign(t, c))
				if clerkgate.ErrorCode(err) != clerkgate.CodeTokenInvalid || verify.Reason(err) != "unknown_kid" {
					t.Errorf("unknown kid: %v", err)
					return
				}
				mu.Lock()
				sent++
				mu.Unlock()
			}
		}(g)
	}
	wg.Wait()
	elapsed := time.Since(began)
	windows := int64(elapsed/window) + 1
	fetches := srv.hits.Load() - 1 // the first fetch served the known token
	t.Logf("%d unknown-kid tokens in %v: %d refreshes (window %v)", sent, elapsed.Round(time.Millisecond), fetches, window)
	if fetches > windows {
		t.Fatalf("%d refreshes in %v, want at most one per %v window (%d)", fetches, elapsed, window, windows)
	}
	if sent < 100 {
		t.Fatalf("only %d tokens sent", sent)
	}
}

// With the default window, an unknown kid after the start-up fetch does not
// fetch again inside the window: the window is one for the whole key set.
func TestJWKSUnknownKidWindowIsPerSet(t *testing.T) {
	t.Parallel()
	k := mustKey(t, "kid1", 0)
	clk := newClock(time.Now())
	srv := newJWKSServer(t, k.jwk("RS256"))
	v := mustVerifier(t, verify.Options{JWKSURL: srv.URL, Now: clk.Now})
	ctx := context.Background()
	if _, err := v.Verify(ctx, k.sign(t, goodClaims(clk.Now()))); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		tk := &testKey{kid: fmt.Sprint("other-", i), priv: k.priv}
		_, err := v.Verify(ctx, tk.sign(t, goodClaims(clk.Now())))
		wantCode(t, err, clerkgate.CodeTokenInvalid)
	}
	if got := srv.hits.Load(); got != 1 {
		t.Fatalf("fetches = %d, want 1 (negative cache inside the window)", got)
	}
	clk.Add(verify.DefaultJWKSMinRefresh)
	tk := &testKey{kid: "other-late", priv: k.priv}
	_, err := v.Verify(ctx, tk.sign(t, goodClaims(clk.Now())))
	wantCode(t, err, clerkgate.CodeTokenInvalid)
	if got := srv.hits.Load(); got != 2 {
		t.Fatalf("fetches = %d, want 2 (one refresh after the window)", got)
	}
}

// Keys known before the key-set endpoint failed or hung keep verifying with
// no added wait; an unknown kid fails within the fetch timeout.
func TestJWKSOutage(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{"down", "hanging"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			k := mustKey(t, "kid1", 0)
			clk := newClock(time.Now())
			srv := newJWKSServer(t, k.jwk("RS256"))
			const timeout = 300 * time.Millisecond
			v := mustVerifier(t, verify.Options{JWKSURL: srv.URL, Now: clk.Now, JWKSTimeout: timeout, CacheSize: -1})
			ctx := context.Background()
			if _, err := v.Verify(ctx, k.sign(t, goodClaims(clk.Now()))); err != nil {
				t.Fatal(err)
			}
			srv.set(func(s *jwksServer) {
				if mode == "down" {
					s.code = http.StatusInternalServerError
				} else {
					s.hang = make(chan struct{})
				}
			})
			// Past the refresh period (a background refresh starts and fails or
			// hangs) and past the unknown-kid window.
			clk.Add(verify.DefaultJWKSRefresh + time.Minute)
			for i := 0; i < 20; i++ {
				began := time.Now()
				if _, err := v.Verify(ctx, k.sign(t, goodClaims(clk.Now()))); err != nil {
					t.Fatalf("known key during outage: %v", err)
				}
				if d := time.Since(began); d > timeout/2 {
					t.Fatalf("known key waited %v during the outage", d)
				}
			}
			clk.Add(verify.DefaultJWKSMinRefresh)
			tk := &testKey{kid: "new-kid", priv: k.priv}
			began := time.Now()
			_, err := v.Verify(ctx, tk.sign(t, goodClaims(clk.Now())))
			wantCode(t, err, clerkgate.CodeTokenInvalid)
			if d := time.Since(began); d > timeout+time.Second {
				t.Fatalf("unknown kid took %v, fetch timeout is %v", d, timeout)
			}
			if ks := v.Keys(); !ks.Usable || ks.Keys != 1 {
				t.Fatalf("keys status %+v", ks)
			}
		})
	}
}

// Past the stale limit with no fresh keys, and before any key was ever
// fetched, requests get unavailable, not an auth failure.
func TestJWKSUnavailable(t *testing.T) {
	t.Parallel()
	k := mustKey(t, "kid1", 0)
	ctx := context.Background()

	t.Run("never fetched", func(t *testing.T) {
		t.Parallel()
		srv := newJWKSServer(t, k.jwk("RS256"))
		srv.set(func(s *jwksServer) { s.code = http.StatusBadGateway })
		v := mustVerifier(t, verify.Options{JWKSURL: srv.URL})
		_, err := v.Verify(ctx, k.sign(t, goodClaims(time.Now())))
		wantCode(t, err, clerkgate.CodeUnavailable)
		if !errors.Is(err, verify.ErrUnavailable) {
			t.Fatalf("not ErrUnavailable: %v", err)
		}
		if ks := v.Keys(); ks.Usable || ks.LastError == "" {
			t.Fatalf("keys status %+v", ks)
		}
	})
	t.Run("past stale limit", func(t *testing.T) {
		t.Parallel()
		clk := newClock(time.Now())
		srv := newJWKSServer(t, k.jwk("RS256"))
		v := mustVerifier(t, verify.Options{JWKSURL: srv.URL, Now: clk.Now, JWKSMaxStale: time.Hour})
		long := goodClaims(clk.Now())
		long["exp"] = clk.Now().Add(48 * time.Hour).Unix()
		tok := k.sign(t, long)
		if _, err := v.Verify(ctx, tok); err != nil {
			t.Fatal(err)
		}
		srv.set(func(s *jwksServer) { s.code = http.StatusInternalServerError })
		clk.Add(59 * time.Minute)
		if _, err := v.Verify(ctx, tok); err != nil {
			t.Fatalf("within stale limit: %v", err)
		}
		clk.Add(2 * time.Minute)
		_, err := v.Verify(ctx, tok) // cached, but its key is past the limit
		wantCode(t, err, clerkgate.CodeUnavailable)
		_, err = v.Verify(ctx, k.sign(t, goodClaims(clk.Now())))
		wantCode(t, err, clerkgate.CodeUnavailable)
		// The endpoint recovers: the next request past the back-off refreshes.
		srv.set(func(s *jwksServer) { s.code = http.StatusOK })
		clk.Add(2 * time.Second)
		v.Verify(ctx, k.sign(t, goodClaims(clk.Now()))) // triggers the refresh
		if err := v.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := v.Verify(ctx, tok); err != nil {
			t.Fatalf("after recovery: %v", err)
		}
	})
}

// A rotation (a new kid appears, the old one goes) is picked up without a
// restart, and tokens of the removed key stop working, cached ones included.
func TestJWKSRotation(t *testing.T) {
	t.Parallel()
	k1 := mustKey(t, "kid1", 0)
	k2 := mustKey(t, "kid2", 1)
	clk := newClock(time.Now())
	srv := newJWKSServer(t, k1.jwk("RS256"))
	v := mustVerifier(t, verify.Options{JWKSURL: srv.URL, Now: clk.Now})
	ctx := context.Background()
	old := k1.sign(t, goodClaims(clk.Now()))
	if _, err := v.Verify(ctx, old); err != nil {
		t.Fatal(err)
	}
	srv.set(func(s *jwksServer) { s.keys = []map[string]any{k2.jwk("RS256")} })
	clk.Add(verify.DefaultJWKSMinRefresh)
	c, err := v.Verify(ctx, k2.sign(t, goodClaims(clk.Now())))
	if err != nil {
		t.Fatalf("new key after rotation: %v", err)
	}
	if c.Subject != "user_123" {
		t.Fatalf("subject %q", c.Subject)
	}
	_, err = v.Verify(ctx, old)
	wantCode(t, err, clerkgate.CodeTokenInvalid)
	if got := srv.hits.Load(); got != 2 {
		t.Fatalf("fetches = %d, want 2", got)
	}
}

// Only RSA signing keys with an accepted alg are taken from a key set.
func TestJWKSKeepsOnlyRSASigningKeys(t *testing.T) {
	t.Parallel()
	good := mustKey(t, "good", 0)
	other := mustKey(t, "x", 1)
	entry := func(kid string, edit func(map[string]any)) map[string]any {
		j := (&testKey{kid: kid, priv: other.priv}).jwk("RS256")
		edit(j)
		return j
	}
	keys := []map[string]any{
		good.jwk("RS256"),
		entry("enc", func(j map[string]any) { j["use"] = "enc" }),
		entry("nouse", func(j map[string]any) { delete(j, "use") }),
		entry("rs512", func(j map[string]any) { j["alg"] = "RS512" }),
		entry("ec", func(j map[string]any) { j["kty"] = "EC" }),
		entry("small", func(j map[string]any) { j["n"] = "AQAB" }),
		entry("badn", func(j map[string]any) { j["n"] = "!!" }),
		entry("", func(j map[string]any) {}),
		{"kty": "oct", "kid": "hmac", "k": "c2VjcmV0", "alg": "HS256", "use": "sig"},
	}
	srv := newJWKSServer(t, keys...)
	clk := newClock(time.Now())
	v := mustVerifier(t, verify.Options{JWKSURL: srv.URL, Now: clk.Now})
	ctx := context.Background()
	if _, err := v.Verify(ctx, good.sign(t, goodClaims(clk.Now()))); err != nil {
		t.Fatal(err)
	}
	if ks := v.Keys(); ks.Keys != 1 {
		t.Fatalf("usable keys = %d, want 1", ks.Keys)
	}
	for _, kid := range []string{"enc", "nouse", "rs512", "ec", "small", "badn", "hmac"} {
		clk.Add(verify.DefaultJWKSMinRefresh)
		tk := &testKey{kid: kid, priv: other.priv}
		_, err := v.Verify(ctx, tk.sign(t, goodClaims(clk.Now())))
		wantCode(t, err, clerkgate.CodeTokenInvalid)
	}
}

// A key set with no usable key never replaces good keys.
func TestJWKSEmptyAnswerKeepsKeys(t *testing.T) {
	t.Parallel()
	k := mustKey(t, "kid1", 0)
	clk := newClock(time.Now())
	srv := newJWKSServer(t, k.jwk("RS256"))
	v := mustVerifier(t, verify.Options{JWKSURL: srv.URL, Now: clk.Now, CacheSize: -1})
	ctx := context.Background()
	if _, err := v.Verify(ctx, k.sign(t, goodClaims(clk.Now()))); err != nil {
		t.Fatal(err)
	}
	srv.set(func(s *jwksServer) { s.keys = nil })
	if err := v.Refresh(ctx); err == nil {
		t.Fatal("refresh of an empty key set succeeded")
	}
	if _, err := v.Verify(ctx, k.sign(t, goodClaims(clk.Now()))); err != nil {
		t.Fatalf("after empty answer: %v", err)
	}
}

// The background loop refreshes the key set and stops with its context.
func TestJWKSBackgroundRefresh(t *testing.T) {
	t.Parallel()
	k := mustKey(t, "kid1", 0)
	srv := newJWKSServer(t, k.jwk("RS256"))
	var mu sync.Mutex
	var fetches []verify.JWKSFetch
	v := mustVerifier(t, verify.Options{JWKSURL: srv.URL, JWKSRefresh: 20 * time.Millisecond,
		OnJWKSFetch: func(f verify.JWKSFetch) { mu.Lock(); fetches = append(fetches, f); mu.Unlock() }})
	ctx, cancel := context.WithCancel(context.Background())
	v.Start(ctx)
	deadline := time.Now().Add(5 * time.Second)
	for srv.hits.Load() < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("only %d fetches", srv.hits.Load())
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	time.Sleep(60 * time.Millisecond) // a fetch in flight may finish
	n := srv.hits.Load()
	time.Sleep(100 * time.Millisecond)
	if got := srv.hits.Load(); got != n {
		t.Fatalf("fetches went on after cancel: %d -> %d", n, got)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(fetches) == 0 || fetches[0].Reason != "initial" || fetches[0].Result() != "ok" || fetches[0].Keys != 1 {
		t.Fatalf("fetch events %+v", fetches)
	}
}

// With CLERK_JWT_KEY no network call is made, and the kid does not matter.
func TestStaticKeyNoNetwork(t *testing.T) {
	t.Parallel()
	k := mustKey(t, "whatever", 0)
	noNet := &http.Client{Transport: roundTripFunc(func(*http.Request) (*http.Response, error) {
		t.Error("network call with a static key")
		return nil, errors.New("no network")
	})}
	pem := k.pem(t)
	body := ""
	for _, line := range splitLines(pem) {
		if line != "" && line[0] != '-' {
			body += line
		}
	}
	for name, key := range map[string]string{"pem": pem, "bare base64": body, "escaped newlines": escapeNewlines(pem)} {
		v := mustVerifier(t, verify.Options{JWTKey: key, HTTPClient: noNet})
		for _, kid := range []string{"whatever", "", "other"} {
			tk := &testKey{kid: kid, priv: k.priv}
			if _, err := v.Verify(context.Background(), tk.sign(t, goodClaims(time.Now()))); err != nil {
				t.Fatalf("%s, kid %q: %v", name, kid, err)
			}
		}
		if ks := v.Keys(); ks.Source != "static" || !ks.Usable {
			t.Fatalf("keys status %+v", ks)
		}
	}
	if _, err := verify.New(verify.Options{JWTKey: "not a key"}); err == nil {
		t.Fatal("a bad CLERK_JWT_KEY was accepted")
	}
}

// The verified-token cache is bounded and its entries die with the token.
func TestTokenCacheBoundedAndExpiring(t *testing.T) {
	t.Parallel()
	k := mustKey(t, "kid1", 0)
	clk := newClock(time.Now())
	v := mustVerifier(t, verify.Options{JWTKey: k.pem(t), Now: clk.Now, CacheSize: 128})
	ctx := context.Background()
	for i := 0; i < 1000; i++ {
		c := goodClaims(clk.Now())
		c["jti"] = fmt.Sprint(i)
		if _, err := v.Verify(ctx, k.sign(t, c)); err != nil {
			t.Fatal(err)
		}
	}
	if n := v.Stats().CacheEntries; n > 128+64 || n < 64 {
		t.Fatalf("cache holds %d entries, bound 128", n)
	}
	tok := k.sign(t, goodClaims(clk.Now()))
	if _, err := v.Verify(ctx, tok); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(ctx, tok); err != nil {
		t.Fatal(err)
	}
	clk.Add(time.Minute + verify.DefaultLeeway)
	_, err := v.Verify(ctx, tok)
	wantCode(t, err, clerkgate.CodeTokenExpired)
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func splitLines(s string) []string {
	var out []string
	start := 0
	for i := 0; i < len(s); i++ {
		if s[i] == '\n' {
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

func escapeNewlines(s string) string {
	out := ""
	for _, l := range splitLines(s) {
		if l != "" {
			out += l + `\n`
		}
	}
	return out
}

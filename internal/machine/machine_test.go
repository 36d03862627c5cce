package machine_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clerkgate/clerkgate"
	"github.com/clerkgate/clerkgate/clerkemu"
	"github.com/clerkgate/clerkgate/internal/clerkapi"
	"github.com/clerkgate/clerkgate/internal/machine"
)

// signingKey is shared by the tests' emulators: generating one each would
// dominate the run time.
var signingKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

// clock is a settable clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// fixture is an emulator, a clerkapi client for it and a Verifier on that
// client, with the Verifier's clock.
type fixture struct {
	srv *clerkemu.Server
	v   *machine.Verifier
	clk *clock
}

// newFixture starts an emulator whose clock is emuClock (nil: the real
// time) and a Verifier configured by o, whose clock it sets.
func newFixture(t *testing.T, emuClock *clock, o machine.Options) *fixture {
	t.Helper()
	eo := clerkemu.Options{SigningKey: signingKey()}
	clk := emuClock
	if clk != nil {
		eo.Clock = clk.Now
	} else {
		clk = &clock{t: time.Now()}
	}
	srv := clerkemu.Start(t, eo)
	c, err := clerkapi.New(clerkapi.Options{APIURL: srv.URL, SecretKey: srv.SecretKey()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	o.Client, o.Now = c, clk.Now
	v, err := machine.New(o)
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{srv: srv, v: v, clk: clk}
}

// mustVerify verifies token and fails the test unless it is accepted.
func (f *fixture) mustVerify(tb testing.TB, token string) *machine.Machine {
	tb.Helper()
	m, err := f.v.VerifyMachine(context.Background(), token)
	if err != nil {
		tb.Fatalf("VerifyMachine: %v", err)
	}
	return m
}

// wantCode fails the test unless err carries code and does not quote token.
func wantCode(tb testing.TB, err error, code clerkgate.Code, token string) {
	tb.Helper()
	if got := clerkgate.ErrorCode(err); got != code {
		tb.Fatalf("error code %q, want %q (error: %v)", got, code, err)
	}
	if token != "" && strings.Contains(err.Error(), token) {
		tb.Fatalf("the error quotes the credential: %v", err)
	}
}

func mch(c string) string  { return "mch_" + strings.Repeat(c, 27) }
func user(c string) string { return "user_" + strings.Repeat(c, 27) }

// peer is a machine type of another package, as internal/httpapi's.
type peer struct {
	Subject string   `json:"subject"`
	Scopes  []string `json:"scopes"`
	Kind    string   `json:"kind"`
}

func TestVerifyEachKind(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil, machine.Options{})
	key, err := f.srv.CreateAPIKey(clerkemu.APIKeyParams{Subject: user("a"), Scopes: []string{"read", "write"}})
	if err != nil {
		t.Fatal(err)
	}
	m2m, err := f.srv.CreateM2MToken(clerkemu.M2MTokenParams{Subject: mch("a"), Scopes: []string{mch("b")}})
	if err != nil {
		t.Fatal(err)
	}
	oat, err := f.srv.CreateOAuthAccessToken(clerkemu.OAuthAccessTokenParams{Subject: user("b"), Scopes: []string{"email"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		token string
		want  machine.Machine
	}{
		{key.Secret, machine.Machine{Subject: user("a"), Scopes: []string{"read", "write"}, Kind: machine.KindAPIKey}},
		{m2m.Token, machine.Machine{Subject: mch("a"), Scopes: []string{mch("b")}, Kind: machine.KindM2MToken}},
		{oat.Token, machine.Machine{Subject: user("b"), Scopes: []string{"email"}, Kind: machine.KindOAuthToken}},
	} {
		got := f.mustVerify(t, tc.token)
		if got.Subject != tc.want.Subject || got.Kind != tc.want.Kind || !slices.Equal(got.Scopes, tc.want.Scopes) {
			t.Errorf("%s: got %+v, want %+v", tc.want.Kind, got, tc.want)
		}
		got.Scopes[0] = "tampered" // the cache must not share its slices
		if again := f.mustVerify(t, tc.token); again.Scopes[0] != tc.want.Scopes[0] {
			t.Errorf("%s: the cached answer changed: %+v", tc.want.Kind, again)
		}
		if machine.KindOf(tc.token) != tc.want.Kind {
			t.Errorf("KindOf: %q", machine.KindOf(tc.token))
		}
	}
	if st := f.v.Stats(); st.Calls != 3 || st.Misses != 3 || st.Hits != 3 || st.Entries != 3 {
		t.Errorf("stats %+v", st)
	}
	if n := f.srv.MachineVerifyCalls(); n != 3 {
		t.Errorf("emulator saw %d verifications, want 3", n)
	}

	// The adapter answers the other package's type.
	adapter := machine.Adapter[peer]{Verifier: f.v, Convert: func(m machine.Machine) peer { return peer(m) }}
	p, err := adapter.VerifyMachine(context.Background(), key.Secret)
	if err != nil || p.Subject != user("a") || p.Kind != machine.KindAPIKey || !slices.Equal(p.Scopes, []string{"read", "write"}) {
		t.Errorf("adapter: %+v, %v", p, err)
	}
	if _, err := adapter.VerifyMachine(context.Background(), "ak_unknown"); err == nil {
		t.Error("adapter accepted an unknown key")
	}
}

func TestNotMachineToken(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil, machine.Options{})
	for _, tok := range []string{"", "eyJhbGciOiJSUzI1NiJ9.e30.sig", "sk_test_abc", "AK_abc", "ak", "oa_x", "mt"} {
		_, err := f.v.VerifyMachine(context.Background(), tok)
		wantCode(t, err, clerkgate.CodeTokenInvalid, "")
		if !errors.Is(err, machine.ErrNotMachineToken) {
			t.Errorf("%q: %v, want ErrNotMachineToken", tok, err)
		}
		if machine.KindOf(tok) != "" {
			t.Errorf("KindOf(%q) = %q", tok, machine.KindOf(tok))
		}
	}
	_, err := f.v.VerifyMachine(context.Background(), "ak_"+strings.Repeat("x", clerkapi.MaxMachineTokenLength))
	wantCode(t, err, clerkgate.CodeTokenInvalid, "")
	if st := f.v.Stats(); st.Calls != 0 || f.srv.MachineVerifyCalls() != 0 {
		t.Errorf("calls made: %+v, emulator %d", st, f.srv.MachineVerifyCalls())
	}
}

func TestRevocation(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil, machine.Options{})
	ctx := context.Background()

	// API key: cached until Forget, then Clerk's 404.
	key, err := f.srv.CreateAPIKey(clerkemu.APIKeyParams{Subject: user("r")})
	if err != nil {
		t.Fatal(err)
	}
	f.mustVerify(t, key.Secret)
	if _, err := f.srv.RevokeAPIKey(key.ID); err != nil {
		t.Fatal(err)
	}
	f.mustVerify(t, key.Secret) // still cached
	if n := f.v.Forget(machine.KindM2MToken, key.ID); n != 0 {
		t.Errorf("Forget of the wrong kind ended %d entries", n)
	}
	if n := f.v.Forget(machine.KindAPIKey, key.ID); n != 1 {
		t.Errorf("Forget ended %d entries, want 1", n)
	}
	_, err = f.v.VerifyMachine(ctx, key.Secret)
	wantCode(t, err, clerkgate.CodeTokenInvalid, key.Secret)
	calls := f.srv.MachineVerifyCalls()
	_, err = f.v.VerifyMachine(ctx, key.Secret) // the refusal is cached
	wantCode(t, err, clerkgate.CodeTokenInvalid, key.Secret)
	if f.srv.MachineVerifyCalls() != calls {
		t.Error("a refusal was not cached")
	}

	// M2M tokens: Revoke by the token, and by its id.
	for _, byToken := range []bool{true, false} {
		tok, err := f.srv.CreateM2MToken(clerkemu.M2MTokenParams{})
		if err != nil {
			t.Fatal(err)
		}
		f.mustVerify(t, tok.Token)
		if _, err := f.srv.RevokeM2MToken(tok.ID); err != nil {
			t.Fatal(err)
		}
		f.mustVerify(t, tok.Token)
		arg := tok.ID
		if byToken {
			arg = tok.Token
		}
		if n := f.v.Revoke(arg); n != 1 {
			t.Errorf("Revoke(by token %v) ended %d entries, want 1", byToken, n)
		}
		_, err = f.v.VerifyMachine(ctx, tok.Token)
		wantCode(t, err, clerkgate.CodeTokenInvalid, tok.Token)
	}

	// OAuth token: revoked at Clerk, rejected once the cache period ends.
	oat, err := f.srv.CreateOAuthAccessToken(clerkemu.OAuthAccessTokenParams{Subject: user("o")})
	if err != nil {
		t.Fatal(err)
	}
	f.mustVerify(t, oat.Token)
	if _, err := f.srv.RevokeOAuthAccessToken(oat.ID); err != nil {
		t.Fatal(err)
	}
	f.clk.Advance(machine.DefaultMaxCache - time.Second)
	f.mustVerify(t, oat.Token)
	f.clk.Advance(time.Second)
	_, err = f.v.VerifyMachine(ctx, oat.Token)
	wantCode(t, err, clerkgate.CodeTokenInvalid, oat.Token)
}

func TestExpiry(t *testing.T) {
	t.Parallel()
	clk := &clock{t: time.Now()}
	f := newFixture(t, clk, machine.Options{})
	key, err := f.srv.CreateAPIKey(clerkemu.APIKeyParams{Subject: mch("x"), Expiration: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	f.mustVerify(t, key.Secret)
	clk.Advance(9 * time.Second)
	f.mustVerify(t, key.Secret)
	if n := f.srv.MachineVerifyCalls(); n != 1 {
		t.Fatalf("%d calls within the key's lifetime, want 1", n)
	}
	clk.Advance(time.Second) // the key expires: so does the cached result
	_, err = f.v.VerifyMachine(context.Background(), key.Secret)
	wantCode(t, err, clerkgate.CodeTokenInvalid, key.Secret)
	if n := f.srv.MachineVerifyCalls(); n != 2 {
		t.Errorf("%d calls, want 2", n)
	}
}

// TestOneCallPerCachePeriod: 1,000 concurrent requests with one valid API
// key make at most one verification call per cache period, counted at the
// emulator; the same holds for one invalid key and the negative cache.
func TestOneCallPerCachePeriod(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil, machine.Options{})
	key, err := f.srv.CreateAPIKey(clerkemu.APIKeyParams{Subject: user("c"), Scopes: []string{"read"}})
	if err != nil {
		t.Fatal(err)
	}
	bad := "ak_" + strings.Repeat("z", 48)

	flood := func(token string, wantOK bool) {
		t.Helper()
		const workers, each = 50, 20
		var wg sync.WaitGroup
		errs := make(chan error, workers*each)
		for range workers {
			wg.Go(func() {
				for range each {
					m, err := f.v.VerifyMachine(context.Background(), token)
					switch {
					case wantOK && (err != nil || m.Subject != user("c")):
						errs <- errors.Join(errors.New("valid key refused"), err)
					case !wantOK && clerkgate.ErrorCode(err) != clerkgate.CodeTokenInvalid:
						errs <- errors.Join(errors.New("invalid key not refused as token_invalid"), err)
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
	}

	for period := range 2 {
		for _, tc := range []struct {
			token string
			valid bool
		}{{key.Secret, true}, {bad, false}} {
			before := f.srv.MachineVerifyCalls()
			flood(tc.token, tc.valid)
			if n := f.srv.MachineVerifyCalls() - before; n != 1 {
				t.Errorf("period %d, valid %v: %d verification calls for 1,000 concurrent requests, want 1", period, tc.valid, n)
			}
		}
		f.clk.Advance(machine.DefaultMaxCache)
	}
	if st := f.v.Stats(); st.Calls != 4 || st.Hits+st.Misses != 4000 {
		t.Errorf("stats %+v", st)
	}
}

// TestNegativeCachePeriod: a refused key is asked about again after
// NegativeCache.
func TestNegativeCachePeriod(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil, machine.Options{NegativeCache: 2 * time.Second})
	bad := "mt_" + strings.Repeat("q", 48)
	for range 3 {
		_, err := f.v.VerifyMachine(context.Background(), bad)
		wantCode(t, err, clerkgate.CodeTokenInvalid, bad)
	}
	f.clk.Advance(2 * time.Second)
	_, err := f.v.VerifyMachine(context.Background(), bad)
	wantCode(t, err, clerkgate.CodeTokenInvalid, bad)
	if n := f.srv.MachineStats().M2MTokenVerifies; n != 2 {
		t.Errorf("%d calls, want 2", n)
	}
}

// TestClerkDown: when Clerk cannot be reached, an uncached key is
// unavailable (and not cached), while a cached valid key still works.
func TestClerkDown(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil, machine.Options{})
	cached, err := f.srv.CreateAPIKey(clerkemu.APIKeyParams{Subject: user("d")})
	if err != nil {
		t.Fatal(err)
	}
	fresh, err := f.srv.CreateM2MToken(clerkemu.M2MTokenParams{})
	if err != nil {
		t.Fatal(err)
	}
	f.mustVerify(t, cached.Secret)

	for _, fault := range []clerkemu.Fault{{Mode: clerkemu.FaultDown}, {Mode: clerkemu.FaultFail, Status: 503}} {
		if err := f.srv.SetFaults(clerkemu.Faults{API: fault}); err != nil {
			t.Fatal(err)
		}
		calls := f.v.Stats().Calls
		for range 2 {
			_, err := f.v.VerifyMachine(context.Background(), fresh.Token)
			wantCode(t, err, clerkgate.CodeUnavailable, fresh.Token)
		}
		if n := f.v.Stats().Calls - calls; n != 2 {
			t.Errorf("%s: %d calls for 2 requests: an outage must not be cached", fault.Mode, n)
		}
		if m := f.mustVerify(t, cached.Secret); m.Subject != user("d") {
			t.Errorf("cached key: %+v", m)
		}
	}
	f.srv.ClearFaults()
	f.mustVerify(t, fresh.Token)
}

func TestNewOptions(t *testing.T) {
	t.Parallel()
	if _, err := machine.New(machine.Options{}); err == nil {
		t.Error("New without a client")
	}
	if _, err := machine.New(machine.Options{Client: &fakeClient{}, MaxCache: -1}); err == nil {
		t.Error("New with a negative MaxCache")
	}
}

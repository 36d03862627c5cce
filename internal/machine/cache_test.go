package machine_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/clerkgate/clerkgate"
	"github.com/clerkgate/clerkgate/internal/clerkapi"
	"github.com/clerkgate/clerkgate/internal/machine"
)

// fakeClient answers every verification with answer, counting the calls.
// When gate is set, calls wait for it to close.
type fakeClient struct {
	calls  atomic.Int64
	gate   chan struct{}
	answer func(token string) (*clerkapi.MachineCredential, error)
}

func (c *fakeClient) verify(ctx context.Context, kind, token string) (*clerkapi.MachineCredential, error) {
	c.calls.Add(1)
	if c.gate != nil {
		select {
		case <-c.gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	cred, err := c.answer(token)
	if cred != nil {
		cred.Kind = kind
	}
	return cred, err
}

func (c *fakeClient) VerifyAPIKey(ctx context.Context, s string) (*clerkapi.MachineCredential, error) {
	return c.verify(ctx, clerkapi.KindAPIKey, s)
}

func (c *fakeClient) VerifyM2MToken(ctx context.Context, s string) (*clerkapi.MachineCredential, error) {
	return c.verify(ctx, clerkapi.KindM2MToken, s)
}

func (c *fakeClient) VerifyOAuthAccessToken(ctx context.Context, s string) (*clerkapi.MachineCredential, error) {
	return c.verify(ctx, clerkapi.KindOAuthToken, s)
}

// valid answers every token as a valid credential whose id is the token's
// text after "ak_", expiring at exp (zero: never).
func valid(exp time.Time) func(string) (*clerkapi.MachineCredential, error) {
	return func(tok string) (*clerkapi.MachineCredential, error) {
		return &clerkapi.MachineCredential{ID: "id_" + tok, Subject: "user_1", Scopes: []string{"s"}, ExpiresAt: exp}, nil
	}
}

func newVerifier(t *testing.T, c *fakeClient, clk *clock, o machine.Options) *machine.Verifier {
	t.Helper()
	o.Client, o.Now = c, clk.Now
	v, err := machine.New(o)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestCallerCancel: a caller that gives up leaves; the call it started
// goes on for the others and its result is cached.
func TestCallerCancel(t *testing.T) {
	t.Parallel()
	c := &fakeClient{gate: make(chan struct{}), answer: valid(time.Time{})}
	clk := &clock{t: time.Now()}
	v := newVerifier(t, c, clk, machine.Options{})

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := v.VerifyMachine(ctx, "ak_x")
		done <- err
	}()
	for c.calls.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	other := make(chan error, 1)
	go func() {
		_, err := v.VerifyMachine(context.Background(), "ak_x")
		other <- err
	}()
	cancel()
	if err := <-done; clerkgate.ErrorCode(err) != clerkgate.CodeUnavailable || !errors.Is(err, context.Canceled) {
		t.Errorf("canceled caller: %v", err)
	}
	close(c.gate)
	if err := <-other; err != nil {
		t.Errorf("other caller: %v", err)
	}
	if _, err := v.VerifyMachine(context.Background(), "ak_x"); err != nil || c.calls.Load() != 1 {
		t.Errorf("after: %v, %d calls", err, c.calls.Load())
	}
}

// TestRevokeDuringCall: a success found by a call under way when the
// credential is revoked is answered but not cached.
func TestRevokeDuringCall(t *testing.T) {
	t.Parallel()
	c := &fakeClient{gate: make(chan struct{}), answer: valid(time.Time{})}
	clk := &clock{t: time.Now()}
	v := newVerifier(t, c, clk, machine.Options{})
	done := make(chan error, 1)
	go func() {
		_, err := v.VerifyMachine(context.Background(), "ak_x")
		done <- err
	}()
	for c.calls.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	v.Forget(machine.KindAPIKey, "id_ak_x")
	close(c.gate)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if _, err := v.VerifyMachine(context.Background(), "ak_x"); err != nil || c.calls.Load() != 2 {
		t.Errorf("after the revocation: %v, %d calls, want 2", err, c.calls.Load())
	}
}

// TestCacheLifetime: a result lives until MaxCache or the credential's
// expiry, whichever is sooner; one that expired by the Verifier's clock is
// refused.
func TestCacheLifetime(t *testing.T) {
	t.Parallel()
	clk := &clock{t: time.Now()}
	c := &fakeClient{answer: valid(clk.Now().Add(10 * time.Second))}
	v := newVerifier(t, c, clk, machine.Options{MaxCache: 30 * time.Second})
	step := func(d time.Duration, wantCalls int64, wantCode clerkgate.Code) {
		t.Helper()
		clk.Advance(d)
		_, err := v.VerifyMachine(context.Background(), "mt_x")
		if clerkgate.ErrorCode(err) != wantCode || c.calls.Load() != wantCalls {
			t.Fatalf("after %s: %v (%q), %d calls; want %q, %d calls", d, err, clerkgate.ErrorCode(err), c.calls.Load(),
				wantCode, wantCalls)
		}
	}
	step(0, 1, "")
	step(9*time.Second, 1, "")
	step(time.Second, 2, clerkgate.CodeTokenExpired) // Clerk's answer has expired by our clock
	step(time.Second, 2, clerkgate.CodeTokenExpired) // cached refusal
	step(5*time.Second, 3, clerkgate.CodeTokenExpired)

	c2 := &fakeClient{answer: valid(time.Time{})}
	v2 := newVerifier(t, c2, clk, machine.Options{MaxCache: 30 * time.Second})
	for _, d := range []time.Duration{0, 29 * time.Second, time.Second} {
		clk.Advance(d)
		if _, err := v2.VerifyMachine(context.Background(), "oat_x"); err != nil {
			t.Fatal(err)
		}
	}
	if n := c2.calls.Load(); n != 2 {
		t.Errorf("%d calls over 30s with MaxCache 30s, want 2", n)
	}
}

// TestRevokedAnswerEndsEntries: an answer that says a credential is
// revoked ends every cached result for it.
func TestRevokedAnswerEndsEntries(t *testing.T) {
	t.Parallel()
	var revoked atomic.Bool
	c := &fakeClient{answer: func(string) (*clerkapi.MachineCredential, error) {
		cred := &clerkapi.MachineCredential{ID: "ak_same", Subject: "user_1"}
		if revoked.Load() {
			cred.Revoked = true
			return cred, clerkgate.Errorf(clerkgate.CodeTokenInvalid, "API key revoked")
		}
		return cred, nil
	}}
	clk := &clock{t: time.Now()}
	v := newVerifier(t, c, clk, machine.Options{})
	if _, err := v.VerifyMachine(context.Background(), "ak_one"); err != nil {
		t.Fatal(err)
	}
	revoked.Store(true)
	if _, err := v.VerifyMachine(context.Background(), "ak_two"); clerkgate.ErrorCode(err) != clerkgate.CodeTokenInvalid {
		t.Fatalf("revoked: %v", err)
	}
	if _, err := v.VerifyMachine(context.Background(), "ak_one"); clerkgate.ErrorCode(err) != clerkgate.CodeTokenInvalid {
		t.Errorf("the entry of the revoked credential survived: %v", err)
	}
	// A credential the client answers as revoked without an error is
	// refused too.
	c3 := &fakeClient{answer: func(string) (*clerkapi.MachineCredential, error) {
		return &clerkapi.MachineCredential{ID: "ak_3", Subject: "user_1", Revoked: true}, nil
	}}
	v3 := newVerifier(t, c3, clk, machine.Options{})
	if _, err := v3.VerifyMachine(context.Background(), "ak_3"); clerkgate.ErrorCode(err) != clerkgate.CodeTokenInvalid {
		t.Errorf("revoked without an error: %v", err)
	}
}

// TestOutcomesCached: refusals are cached (unless turned off), failures to
// ask never are, nor answers without a subject.
func TestOutcomesCached(t *testing.T) {
	t.Parallel()
	clk := &clock{t: time.Now()}
	for _, tc := range []struct {
		name      string
		negative  time.Duration
		cred      *clerkapi.MachineCredential
		err       error
		wantCode  clerkgate.Code
		wantCalls int64
	}{
		{"invalid", 0, nil, clerkgate.Errorf(clerkgate.CodeTokenInvalid, "invalid"), clerkgate.CodeTokenInvalid, 1},
		{"expired", 0, nil, clerkgate.Errorf(clerkgate.CodeTokenExpired, "expired"), clerkgate.CodeTokenExpired, 1},
		{"negative off", -1, nil, clerkgate.Errorf(clerkgate.CodeTokenInvalid, "invalid"), clerkgate.CodeTokenInvalid, 3},
		{"unavailable", 0, nil, clerkgate.Errorf(clerkgate.CodeUnavailable, "down"), clerkgate.CodeUnavailable, 3},
		{"rate limited", 0, nil, clerkgate.Errorf(clerkgate.CodeRateLimited, "slow down"), clerkgate.CodeRateLimited, 3},
		{"plain error", 0, nil, errors.New("boom"), clerkgate.CodeInternal, 3},
		{"no subject", 0, &clerkapi.MachineCredential{ID: "ak_1"}, nil, clerkgate.CodeUnavailable, 3},
	} {
		c := &fakeClient{answer: func(string) (*clerkapi.MachineCredential, error) {
			if tc.cred != nil {
				cp := *tc.cred
				return &cp, tc.err
			}
			return nil, tc.err
		}}
		v := newVerifier(t, c, clk, machine.Options{NegativeCache: tc.negative})
		for range 3 {
			_, err := v.VerifyMachine(context.Background(), "ak_x")
			if got := clerkgate.ErrorCode(err); got != tc.wantCode {
				t.Errorf("%s: code %q, want %q", tc.name, got, tc.wantCode)
			}
		}
		if n := c.calls.Load(); n != tc.wantCalls {
			t.Errorf("%s: %d calls for 3 requests, want %d", tc.name, n, tc.wantCalls)
		}
	}
}

// TestSizeBound: the cache never holds more than Size results.
func TestSizeBound(t *testing.T) {
	t.Parallel()
	clk := &clock{t: time.Now()}
	c := &fakeClient{answer: valid(time.Time{})}
	v := newVerifier(t, c, clk, machine.Options{Size: 3})
	for i := range 10 {
		if _, err := v.VerifyMachine(context.Background(), fmt.Sprintf("ak_%d", i)); err != nil {
			t.Fatal(err)
		}
		if n := v.Stats().Entries; n > 3 {
			t.Fatalf("%d entries with Size 3", n)
		}
	}
	// Expired entries make room first.
	clk.Advance(machine.DefaultMaxCache)
	if _, err := v.VerifyMachine(context.Background(), "ak_new"); err != nil {
		t.Fatal(err)
	}
	if n := v.Stats().Entries; n != 1 {
		t.Errorf("%d entries after the others expired, want 1", n)
	}
}

// TestConcurrentMixed runs verifications, revocations and expiry together
// for the race detector.
func TestConcurrentMixed(t *testing.T) {
	t.Parallel()
	clk := &clock{t: time.Now()}
	c := &fakeClient{answer: func(tok string) (*clerkapi.MachineCredential, error) {
		if len(tok)%2 == 0 {
			return nil, clerkgate.Errorf(clerkgate.CodeTokenInvalid, "invalid")
		}
		return &clerkapi.MachineCredential{ID: "id_" + tok, Subject: "user_1", Scopes: []string{"a"}}, nil
	}}
	v := newVerifier(t, c, clk, machine.Options{Size: 16})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 300 {
				tok := fmt.Sprintf("ak_%d", (g*7+i)%40)
				switch i % 50 {
				case 10:
					v.Revoke(tok)
				case 20:
					v.Forget("", "id_"+tok)
				case 30:
					clk.Advance(time.Second)
				default:
					m, err := v.VerifyMachine(context.Background(), tok)
					if err == nil {
						m.Scopes = append(m.Scopes[:0], "x")
					}
				}
			}
		})
	}
	wg.Wait()
	if st := v.Stats(); st.Entries > 16 {
		t.Errorf("stats %+v", st)
	}
}

// TestOnCacheLookup: the hook hears every lookup, a miss first, then hits.
func TestOnCacheLookup(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var seen []bool
	c := &fakeClient{answer: valid(time.Time{})}
	v := newVerifier(t, c, &clock{t: time.Now()}, machine.Options{OnCacheLookup: func(hit bool) {
		mu.Lock()
		seen = append(seen, hit)
		mu.Unlock()
	}})
	for range 3 {
		if _, err := v.VerifyMachine(context.Background(), "ak_hook"); err != nil {
			t.Fatal(err)
		}
	}
	if fmt.Sprint(seen) != "[false true true]" {
		t.Errorf("lookups heard %v, want [false true true]", seen)
	}
}

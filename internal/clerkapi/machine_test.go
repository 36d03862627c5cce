package clerkapi_test

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clerkgate/clerkgate"
	"github.com/clerkgate/clerkgate/clerkemu"
	"github.com/clerkgate/clerkgate/internal/clerkapi"
)

// verifyFunc is one of the client's three verifications.
type verifyFunc func(*clerkapi.Client, context.Context, string) (*clerkapi.MachineCredential, error)

var verifications = map[string]verifyFunc{
	clerkapi.KindAPIKey:     (*clerkapi.Client).VerifyAPIKey,
	clerkapi.KindM2MToken:   (*clerkapi.Client).VerifyM2MToken,
	clerkapi.KindOAuthToken: (*clerkapi.Client).VerifyOAuthAccessToken,
}

// wantSecretless fails the test if err mentions secret.
func wantSecretless(tb testing.TB, err error, secret string) {
	tb.Helper()
	if err != nil && strings.Contains(err.Error(), secret) {
		tb.Fatalf("the error quotes the credential: %v", err)
	}
}

func TestVerifyMachineCredentials(t *testing.T) {
	t.Parallel()
	rec := &Recorder{}
	srv, c := MustEmulator(t, func(o *clerkapi.Options) { o.Observe = rec.Observe })
	ctx := Ctx(t)
	u := MustUser(t, srv, clerkemu.UserParams{Email: "m@example.com"})

	key, err := srv.CreateAPIKey(clerkemu.APIKeyParams{Subject: u.ID, Scopes: []string{"read"}, Expiration: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	scope := "mch_" + strings.Repeat("s", 27)
	m2m, err := srv.CreateM2MToken(clerkemu.M2MTokenParams{Scopes: []string{scope}})
	if err != nil {
		t.Fatal(err)
	}
	oat, err := srv.CreateOAuthAccessToken(clerkemu.OAuthAccessTokenParams{Subject: u.ID, Scopes: []string{"email"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		kind, secret, id, subject string
		scopes                    []string
		exp                       *int64
	}{
		{clerkapi.KindAPIKey, key.Secret, key.ID, u.ID, []string{"read"}, key.Expiration},
		{clerkapi.KindM2MToken, m2m.Token, m2m.ID, srv.DefaultMachineID(), []string{scope}, m2m.Expiration},
		{clerkapi.KindOAuthToken, oat.Token, oat.ID, u.ID, []string{"email"}, oat.Expiration},
	} {
		got, err := verifications[tc.kind](c, ctx, tc.secret)
		if err != nil {
			t.Fatalf("%s: %v", tc.kind, err)
		}
		want := clerkapi.MachineCredential{ID: tc.id, Kind: tc.kind, Subject: tc.subject, Scopes: tc.scopes,
			ExpiresAt: time.UnixMilli(*tc.exp).UTC()}
		if got.ID != want.ID || got.Kind != want.Kind || got.Subject != want.Subject || !slices.Equal(got.Scopes, want.Scopes) ||
			!got.ExpiresAt.Equal(want.ExpiresAt) || got.Revoked {
			t.Errorf("%s:\n got %+v\nwant %+v", tc.kind, got, want)
		}

		// The wrong kind, an unknown credential: invalid.
		for kind, verify := range verifications {
			if kind == tc.kind {
				continue
			}
			_, err := verify(c, ctx, tc.secret)
			WantCode(t, err, clerkgate.CodeTokenInvalid)
			wantSecretless(t, err, tc.secret)
		}
	}
	// Nine calls, three of each kind (the inner loop runs in map order).
	got := rec.Take()
	perOp := map[string]int{}
	for _, o := range got {
		perOp[o.op]++
	}
	if len(got) != 9 || got[0].op != "verify_api_key" || got[0].status != 200 ||
		perOp["verify_api_key"] != 3 || perOp["verify_m2m_token"] != 3 || perOp["verify_oauth_token"] != 3 {
		t.Errorf("observed %+v", got)
	}

	// Revoked: invalid.
	if _, err := srv.RevokeAPIKey(key.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.RevokeM2MToken(m2m.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.RevokeOAuthAccessToken(oat.ID); err != nil {
		t.Fatal(err)
	}
	for kind, secret := range map[string]string{
		clerkapi.KindAPIKey: key.Secret, clerkapi.KindM2MToken: m2m.Token, clerkapi.KindOAuthToken: oat.Token,
	} {
		cred, err := verifications[kind](c, ctx, secret)
		WantCode(t, err, clerkgate.CodeTokenInvalid)
		wantSecretless(t, err, secret)
		if cred != nil {
			t.Errorf("%s: a credential with a 404", kind)
		}
		if msg := clerkgate.ErrorMessage(err); strings.Contains(msg, "ak_") || strings.Contains(msg, "mt_") {
			t.Errorf("%s: message %q", kind, msg)
		}
	}

	// Implausible credentials are invalid without a call.
	rec.Take()
	for _, s := range []string{"", "ak_ with space", "ak_\x00", "ak_é", "ak_" + strings.Repeat("x", clerkapi.MaxMachineTokenLength)} {
		_, err := c.VerifyAPIKey(ctx, s)
		WantCode(t, err, clerkgate.CodeTokenInvalid)
	}
	if got := rec.Take(); len(got) != 0 {
		t.Errorf("implausible credentials made calls: %+v", got)
	}
}

func TestVerifyMachineExpired(t *testing.T) {
	t.Parallel()
	clk := &clock{t: time.Now()}
	srv := clerkemu.Start(t, clerkemu.Options{Clock: clk.Now})
	c := MustNew(t, clerkapi.Options{APIURL: srv.URL, SecretKey: srv.SecretKey()})
	key, err := srv.CreateAPIKey(clerkemu.APIKeyParams{Subject: "mch_" + strings.Repeat("e", 27), Expiration: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.VerifyAPIKey(Ctx(t), key.Secret); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Minute)
	_, err = c.VerifyAPIKey(Ctx(t), key.Secret)
	WantCode(t, err, clerkgate.CodeTokenInvalid)
}

func TestVerifyMachineUnavailable(t *testing.T) {
	t.Parallel()
	srv, c := MustEmulator(t)
	key, err := srv.CreateAPIKey(clerkemu.APIKeyParams{Subject: "mch_" + strings.Repeat("u", 27)})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []clerkemu.Fault{{Mode: clerkemu.FaultDown}, {Mode: clerkemu.FaultFail, Status: 503}} {
		if err := srv.SetFaults(clerkemu.Faults{API: f}); err != nil {
			t.Fatal(err)
		}
		_, err := c.VerifyAPIKey(Ctx(t), key.Secret)
		WantCode(t, err, clerkgate.CodeUnavailable)
		wantSecretless(t, err, key.Secret)
	}
	srv.ClearFaults()
	if _, err := c.VerifyAPIKey(Ctx(t), key.Secret); err != nil {
		t.Fatal(err)
	}

	// A wrong secret key is the service's fault: unavailable, not invalid.
	wrong := MustNew(t, clerkapi.Options{APIURL: srv.URL, SecretKey: "sk_test_wrong"})
	_, err = wrong.VerifyAPIKey(Ctx(t), key.Secret)
	WantCode(t, err, clerkgate.CodeUnavailable)
}

// TestVerifyMachineAnswers covers answers the emulator never gives: a 200
// that says revoked or expired, {"active":false} (an OAuth JWT access token
// no longer active), and unusable answers.
func TestVerifyMachineAnswers(t *testing.T) {
	t.Parallel()
	const secret = "ak_secret_never_quoted"
	for _, tc := range []struct {
		name   string
		status int
		body   string
		code   clerkgate.Code
		cred   bool
	}{
		{"revoked", 200, `{"object":"api_key","id":"ak_1","subject":"user_1","scopes":[],"revoked":true,"expired":false,"expiration":null}`,
			clerkgate.CodeTokenInvalid, true},
		{"expired", 200, `{"object":"api_key","id":"ak_1","subject":"user_1","scopes":null,"revoked":false,"expired":true,"expiration":1}`,
			clerkgate.CodeTokenExpired, true},
		{"inactive", 200, `{"active":false}`, clerkgate.CodeTokenExpired, false},
		{"no id", 200, `{"object":"api_key","subject":"user_1"}`, clerkgate.CodeUnavailable, false},
		{"garbage", 200, `{"id":`, clerkgate.CodeUnavailable, false},
		{"bad request", 400, "", clerkgate.CodeTokenInvalid, false},
		{"unprocessable", 422, "", clerkgate.CodeTokenInvalid, false},
		{"rate limited", 429, "", clerkgate.CodeRateLimited, false},
		{"forbidden", 403, "", clerkgate.CodeUnavailable, false},
		{"server error", 500, "", clerkgate.CodeUnavailable, false},
	} {
		h := ClerkError(tc.status, "some_code", "some message", "")
		if tc.status == 200 {
			h = func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write([]byte(tc.body))
			}
		}
		stub, _ := StubServer(t, h)
		c := MustNew(t, clerkapi.Options{APIURL: stub.URL, SecretKey: "sk_test_x", BreakerThreshold: -1})
		for kind, verify := range verifications {
			cred, err := verify(c, Ctx(t), secret)
			want := tc.code
			if tc.name == "inactive" && kind != clerkapi.KindOAuthToken {
				want = clerkgate.CodeUnavailable // only OAuth verification answers {"active":false}
			}
			WantCode(t, err, want)
			wantSecretless(t, err, secret)
			if (cred != nil) != tc.cred {
				t.Errorf("%s %s: credential %+v", tc.name, kind, cred)
			}
			if cred != nil && (cred.ID != "ak_1" || cred.Kind != kind || cred.Scopes == nil ||
				cred.Revoked != (tc.name == "revoked")) {
				t.Errorf("%s %s: credential %+v", tc.name, kind, cred)
			}
		}
	}
}

// clock is a settable clock for the emulator.
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

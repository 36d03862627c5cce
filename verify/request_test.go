package verify_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/clerkgate/clerkgate"
	"github.com/clerkgate/clerkgate/verify"
)

// reqNew returns a GET request with one Authorization header per auth value
// and one Cookie header per cookie value, as a client wrote them.
func reqNew(auth, cookies []string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/api/things", nil)
	for _, a := range auth {
		r.Header.Add("Authorization", a)
	}
	for _, c := range cookies {
		r.Header.Add("Cookie", c)
	}
	return r
}

func TestTokenFromRequest(t *testing.T) {
	t.Parallel()
	const a, b = "aaa.bbb.ccc", "ddd.eee.fff"
	noCreds, ambiguous := clerkgate.CodeUnauthenticated, clerkgate.CodeInvalidRequest
	cases := []struct {
		name    string
		auth    []string
		cookies []string
		want    string
		code    clerkgate.Code
		reason  string
	}{
		{name: "bearer header", auth: []string{"Bearer " + a}, want: a},
		{name: "cookie", cookies: []string{"__session=" + b}, want: b},
		{name: "header wins over cookie", auth: []string{"Bearer " + a}, cookies: []string{"__session=" + b}, want: a},
		{name: "scheme lower case", auth: []string{"bearer " + a}, want: a},
		{name: "scheme upper case", auth: []string{"BEARER " + a}, want: a},
		{name: "scheme mixed case", auth: []string{"bEaReR " + a}, want: a},
		{name: "basic falls back to the cookie", auth: []string{"Basic dXNlcjpwYXNz"}, cookies: []string{"__session=" + b}, want: b},
		{name: "basic without cookie", auth: []string{"Basic dXNlcjpwYXNz"}, code: noCreds},
		{name: "other scheme without cookie", auth: []string{"Token " + a}, code: noCreds},
		{name: "token without scheme", auth: []string{a}, code: noCreds},
		{name: "empty bearer", auth: []string{"Bearer "}, code: noCreds},
		{name: "bare bearer", auth: []string{"Bearer"}, code: noCreds},
		{name: "blank bearer", auth: []string{"Bearer    "}, code: noCreds},
		{name: "empty bearer falls back to the cookie", auth: []string{"Bearer "}, cookies: []string{"__session=" + b}, want: b},
		{name: "empty authorization header", auth: []string{""}, code: noCreds},
		{name: "nothing", code: noCreds, reason: "no_credentials"},
		{name: "other cookies only", cookies: []string{"theme=dark; __client_uat=1700000000"}, code: noCreds},
		{name: "empty session cookie", cookies: []string{"__session="}, code: noCreds},
		{name: "suffixed session cookie is another cookie", cookies: []string{"__session_Ab12=" + a + "; __session=" + b}, want: b},
		{name: "two authorization headers", auth: []string{"Bearer " + a, "Bearer " + b}, code: ambiguous, reason: "multiple_authorization"},
		{name: "two authorization headers, same token", auth: []string{"Bearer " + a, "Bearer " + a}, code: ambiguous},
		{name: "two authorization headers, one basic", auth: []string{"Basic dXNlcjpwYXNz", "Bearer " + a}, code: ambiguous},
		{name: "two authorization headers and a cookie", auth: []string{"Bearer " + a, "Bearer " + b}, cookies: []string{"__session=" + b}, code: ambiguous},
		{name: "two session cookies in one header", cookies: []string{"__session=" + a + "; __session=" + b}, code: ambiguous, reason: "multiple_session_cookies"},
		{name: "two session cookies in two headers", cookies: []string{"__session=" + a, "__session=" + b}, code: ambiguous, reason: "multiple_session_cookies"},
		{name: "two session cookies, same value", cookies: []string{"__session=" + a + "; __session=" + a}, code: ambiguous},
		{name: "two session cookies behind basic", auth: []string{"Basic dXNlcjpwYXNz"}, cookies: []string{"__session=" + a, "__session=" + b}, code: ambiguous},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := verify.TokenFromRequest(reqNew(tc.auth, tc.cookies))
			if tc.code == "" {
				if err != nil || got != tc.want {
					t.Fatalf("got %q, %v; want %q", got, err, tc.want)
				}
				return
			}
			if got != "" {
				t.Errorf("token %q returned with an error", got)
			}
			rejCheck(t, nil, err, tc.code, tc.reason)
		})
	}
}

func TestVerifyRequest(t *testing.T) {
	t.Parallel()
	k := mustKey(t, "kid1", 0)
	clock := newClock(rejNow)
	v, err := verify.New(verify.Options{JWTKey: k.pem(t), Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	good := k.sign(t, goodClaims(rejNow))
	other := k.sign(t, rejWith(goodClaims(rejNow), "sub", "user_other"))
	expired := k.sign(t, rejWith(goodClaims(rejNow), "exp", rejNow.Add(-time.Minute).Unix()))
	pending := k.sign(t, rejWith(goodClaims(rejNow), "sts", "pending"))
	const garbage = "not-a-token"
	cases := []struct {
		name    string
		auth    []string
		cookies []string
		policy  verify.Policy
		sub     string // the accepted subject
		code    clerkgate.Code
	}{
		{name: "header", auth: []string{"Bearer " + good}, sub: "user_123"},
		{name: "cookie", cookies: []string{"__session=" + good}, sub: "user_123"},
		{name: "lower-case scheme", auth: []string{"bearer " + good}, sub: "user_123"},
		{name: "header wins over a good cookie", auth: []string{"Bearer " + other}, cookies: []string{"__session=" + good}, sub: "user_other"},
		{name: "header wins over a bad cookie", auth: []string{"Bearer " + good}, cookies: []string{"__session=" + garbage}, sub: "user_123"},
		{name: "bad header is not rescued by a good cookie", auth: []string{"Bearer " + garbage}, cookies: []string{"__session=" + good}, code: clerkgate.CodeTokenInvalid},
		{name: "expired header is not rescued by a good cookie", auth: []string{"Bearer " + expired}, cookies: []string{"__session=" + good}, code: clerkgate.CodeTokenExpired},
		{name: "basic falls back to the cookie", auth: []string{"Basic dXNlcjpwYXNz"}, cookies: []string{"__session=" + good}, sub: "user_123"},
		{name: "basic alone", auth: []string{"Basic dXNlcjpwYXNz"}, code: clerkgate.CodeUnauthenticated},
		{name: "empty bearer", auth: []string{"Bearer "}, code: clerkgate.CodeUnauthenticated},
		{name: "nothing", code: clerkgate.CodeUnauthenticated},
		{name: "two authorization headers", auth: []string{"Bearer " + good, "Bearer " + good}, code: clerkgate.CodeInvalidRequest},
		{name: "two session cookies", cookies: []string{"__session=" + good + "; __session=" + good}, code: clerkgate.CodeInvalidRequest},
		{name: "two cookie headers", cookies: []string{"__session=" + good, "__session=" + other}, code: clerkgate.CodeInvalidRequest},
		{name: "pending in a cookie", cookies: []string{"__session=" + pending}, code: clerkgate.CodeSessionPending},
		{name: "pending in a cookie, allowed", cookies: []string{"__session=" + pending}, policy: verify.Policy{AllowPending: true}, sub: "user_123"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := reqNew(tc.auth, tc.cookies)
			c, err := rejVerify(t, func() (*verify.Claims, error) { return v.VerifyRequest(r, tc.policy) })
			rejCheck(t, c, err, tc.code, "")
			if tc.code == "" && c.Subject != tc.sub {
				t.Errorf("subject %q, want %q", c.Subject, tc.sub)
			}
		})
	}
}

// Two __session cookies are ambiguous even when a Bearer header would win:
// SPEC §4 refuses them rather than guessing which one the client meant.
func TestTokenFromRequestCookiesAmbiguousWithHeader(t *testing.T) {
	t.Parallel()
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Authorization", "Bearer abc")
	r.Header.Add("Cookie", "__session=a; __session=b")
	_, err := verify.TokenFromRequest(r)
	if clerkgate.ErrorCode(err) != clerkgate.CodeInvalidRequest {
		t.Fatalf("err %v, want invalid_request", err)
	}
}

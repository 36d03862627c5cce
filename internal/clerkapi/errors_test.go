package clerkapi_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/clerkgate/clerkgate"
	"github.com/clerkgate/clerkgate/clerkemu"
	"github.com/clerkgate/clerkgate/internal/clerkapi"
)

func TestNewRejectsBadOptions(t *testing.T) {
	t.Parallel()
	const secret = "pk_test_Zm9vYmFyLXNlY3JldA"
	tests := []clerkapi.Options{
		{},
		{SecretKey: secret},
		{SecretKey: "sk_test with space"},
		{SecretKey: "sk_test_x", APIURL: "ftp://example.com"},
		{SecretKey: "sk_test_x", APIURL: "example.com"},
		{SecretKey: "sk_test_x", APIURL: "https://user:" + secret + "@example.com"},
		{SecretKey: "sk_test_x", APIURL: "https://example.com?x=1"},
		{SecretKey: "sk_test_x", Timeout: -time.Second},
		{SecretKey: "sk_test_x", BreakerCooldown: -time.Second},
	}
	for i, o := range tests {
		c, err := clerkapi.New(o)
		if err == nil {
			c.Close()
			t.Errorf("%d: New(%+v) succeeded", i, o)
			continue
		}
		if strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), "with space") {
			t.Errorf("%d: error %q contains the key", i, err)
		}
	}
	for _, u := range []string{"", "https://api.clerk.com", "https://api.clerk.com/", "http://127.0.0.1:1/v1", "http://h/prefix"} {
		c, err := clerkapi.New(clerkapi.Options{SecretKey: "sk_live_x", APIURL: u})
		if err != nil {
			t.Errorf("New(APIURL %q): %v", u, err)
			continue
		}
		c.Close()
	}
}

func TestWrongSecretKey(t *testing.T) {
	t.Parallel()
	srv := clerkemu.Start(t, clerkemu.Options{SecretKey: "sk_test_right_key_0123456789"})
	u := MustUser(t, srv, clerkemu.UserParams{Email: "a@example.com"})
	const wrong = "sk_test_wrong_key_9876543210"
	c := MustNew(t, clerkapi.Options{APIURL: srv.URL, SecretKey: wrong})
	ctx := Ctx(t)

	_, _, err := c.GetUser(ctx, u.ID)
	WantCode(t, err, clerkgate.CodeUnavailable)
	if msg := clerkgate.ErrorMessage(err); msg != "Clerk rejected the secret key" {
		t.Errorf("message = %q", msg)
	}
	if apiErr := WantAPIError(t, err); apiErr.Status != http.StatusUnauthorized || apiErr.Code != clerkemu.CodeKeyInvalid {
		t.Errorf("APIError = %+v", apiErr)
	}
	for _, err := range []error{err, c.Ping(ctx), c.RevokeSession(ctx, "sess_x")} {
		WantCode(t, err, clerkgate.CodeUnavailable)
		if s := fmt.Sprintf("%v %+v %#v", err, err, err); strings.Contains(s, wrong) || strings.Contains(s, "right_key") {
			t.Errorf("error text contains a key: %s", s)
		}
	}
}

func TestServerDownFailsFast(t *testing.T) {
	t.Parallel()
	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close()
	var rec Recorder
	c := MustNew(t, clerkapi.Options{APIURL: dead.URL, SecretKey: "sk_test_x", Timeout: 5 * time.Second, Observe: rec.Observe})
	start := time.Now()
	_, _, err := c.GetUser(Ctx(t), "user_1")
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("GetUser on a closed port took %v", d)
	}
	WantCode(t, err, clerkgate.CodeUnavailable)
	if msg := clerkgate.ErrorMessage(err); msg != "Clerk API unreachable" {
		t.Errorf("message = %q", msg)
	}
	if strings.Contains(err.Error(), "user_1") {
		t.Errorf("error %q contains the request URL", err)
	}
	if got := rec.Take(); len(got) != 1 || got[0] != (observation{"get_user", 0}) {
		t.Errorf("observed %v, want get_user with status 0", got)
	}
}

func TestTimeout(t *testing.T) {
	t.Parallel()
	slow, _ := StubServer(t, func(w http.ResponseWriter, r *http.Request) {
		select { // sleeps far longer than the client waits
		case <-time.After(3 * time.Second):
		case <-r.Context().Done():
		}
	})
	const timeout = 100 * time.Millisecond
	c := MustNew(t, clerkapi.Options{APIURL: slow.URL, SecretKey: "sk_test_x", Timeout: timeout})
	start := time.Now()
	_, _, err := c.GetUser(Ctx(t), "user_1")
	d := time.Since(start)
	WantCode(t, err, clerkgate.CodeUnavailable)
	if msg := clerkgate.ErrorMessage(err); msg != "Clerk API timed out" {
		t.Errorf("message = %q (error %v)", msg, err)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error %v is not a deadline", err)
	}
	if d < timeout || d > timeout+time.Second {
		t.Errorf("GetUser returned after %v, want about %v", d, timeout)
	}
}

func TestRateLimited(t *testing.T) {
	t.Parallel()
	date := time.Now().Add(90 * time.Second).UTC().Format(http.TimeFormat)
	tests := []struct {
		header  string
		atLeast time.Duration
		atMost  time.Duration
	}{
		{"7", 7 * time.Second, 7 * time.Second},
		{date, 80 * time.Second, 91 * time.Second}, // a date has whole seconds; the test takes time
		{"", 0, 0},
		{"soon", 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.header, func(t *testing.T) {
			t.Parallel()
			stub, _ := StubServer(t, func(w http.ResponseWriter, r *http.Request) {
				if tt.header != "" {
					w.Header().Set("Retry-After", tt.header)
				}
				ClerkError(http.StatusTooManyRequests, "too_many_requests", "Too many requests", "")(w, r)
			})
			c := MustNew(t, clerkapi.Options{APIURL: stub.URL, SecretKey: "sk_test_x"})
			_, _, err := c.GetUser(Ctx(t), "user_1")
			WantCode(t, err, clerkgate.CodeRateLimited)
			apiErr := WantAPIError(t, err)
			if apiErr.Status != 429 || apiErr.Code != "too_many_requests" || apiErr.TraceID != "trace123" {
				t.Errorf("APIError = %+v", apiErr)
			}
			if apiErr.RetryAfter < tt.atLeast || apiErr.RetryAfter > tt.atMost {
				t.Errorf("RetryAfter = %v, want %v..%v", apiErr.RetryAfter, tt.atLeast, tt.atMost)
			}
			if clerkgate.ErrorCode(apiErr) != clerkgate.CodeRateLimited {
				t.Errorf("APIError.ErrorCode = %q", apiErr.ErrorCode())
			}
		})
	}
}

func TestErrorMapping(t *testing.T) {
	t.Parallel()
	const echoed = "sk_test_echoed_by_a_proxy"
	text := func(status int, body string) http.HandlerFunc {
		return func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(status)
			_, _ = fmt.Fprint(w, body)
		}
	}
	okJSON := func(body string) http.HandlerFunc {
		return func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = fmt.Fprint(w, body)
		}
	}
	tests := []struct {
		name    string
		handler http.HandlerFunc
		code    clerkgate.Code
		message string
		status  int // of the *APIError; 0 for none
	}{
		{"400", ClerkError(400, "request_body_invalid", "Request body invalid", ""), clerkgate.CodeInvalidRequest, "Request body invalid", 400},
		{"422 with param", ClerkError(422, "form_param_format_invalid", "is invalid", "first_name"), clerkgate.CodeInvalidRequest, "first_name: is invalid", 422},
		{"401", ClerkError(401, "clerk_key_invalid", "bad key", ""), clerkgate.CodeUnavailable, "Clerk rejected the secret key", 401},
		{"403", ClerkError(403, "authorization_invalid", "forbidden", ""), clerkgate.CodeUnavailable, "Clerk rejected the secret key", 403},
		{"404", ClerkError(404, "resource_not_found", "not found", ""), clerkgate.CodeNotFound, "user not found in Clerk", 404},
		{"409", ClerkError(409, "conflict", "Conflict happened", ""), clerkgate.CodeConflict, "Conflict happened", 409},
		{"500", ClerkError(500, "internal_clerk_error", "oops", ""), clerkgate.CodeUnavailable, "Clerk API unavailable", 500},
		{"503", ClerkError(503, "service_unavailable", "down", ""), clerkgate.CodeUnavailable, "Clerk API unavailable", 503},
		{"405", ClerkError(405, "method_not_allowed", "no", ""), clerkgate.CodeUnavailable, "Clerk API unavailable", 405},
		{"non-JSON 502", text(502, "<html>Bad gateway "+echoed+"</html>"), clerkgate.CodeUnavailable, "Clerk API unavailable", 0},
		{"non-JSON 404 (wrong URL)", text(404, "no such page "+echoed), clerkgate.CodeUnavailable, "Clerk API unavailable", 0},
		{"JSON 404 not in Clerk's shape", okJSONStatus(404, `{"error":"`+echoed+`"}`), clerkgate.CodeUnavailable, "Clerk API unavailable", 0},
		{"200 not JSON", text(200, "hello "+echoed), clerkgate.CodeUnavailable, "Clerk API gave an unusable answer", 0},
		{"200 wrong type", okJSON(`{"id":"user_1","first_name":42}`), clerkgate.CodeUnavailable, "Clerk API gave an unusable answer", 0},
		{"200 another user", okJSON(`{"id":"user_2"}`), clerkgate.CodeUnavailable, "Clerk API gave an unusable answer", 0},
		{"200 no id", okJSON(`{}`), clerkgate.CodeUnavailable, "Clerk API gave an unusable answer", 0},
		{"200 huge", hugeBody, clerkgate.CodeUnavailable, "Clerk API gave an unusable answer", 0},
		{"redirect", redirect, clerkgate.CodeUnavailable, "Clerk API gave an unusable answer", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			stub, _ := StubServer(t, tt.handler)
			c := MustNew(t, clerkapi.Options{APIURL: stub.URL, SecretKey: "sk_test_x", BreakerThreshold: -1})
			_, _, err := c.GetUser(Ctx(t), "user_1")
			WantCode(t, err, tt.code)
			if msg := clerkgate.ErrorMessage(err); msg != tt.message {
				t.Errorf("message = %q, want %q", msg, tt.message)
			}
			var apiErr *clerkapi.APIError
			if errors.As(err, &apiErr) != (tt.status != 0) || (apiErr != nil && apiErr.Status != tt.status) {
				t.Errorf("APIError = %+v, want status %d", apiErr, tt.status)
			}
			if strings.Contains(err.Error(), echoed) || strings.Contains(err.Error(), "sk_test_x") {
				t.Errorf("error %q repeats the body or the key", err)
			}
		})
	}
}

func okJSONStatus(status int, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = fmt.Fprint(w, body)
	}
}

// hugeBody answers a JSON user padded beyond clerkapi.MaxResponseBytes.
func hugeBody(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = fmt.Fprint(w, `{"id":"user_1","first_name":"`)
	chunk := strings.Repeat("x", 1<<16)
	for written := 0; written <= clerkapi.MaxResponseBytes; written += len(chunk) {
		if _, err := fmt.Fprint(w, chunk); err != nil {
			return
		}
	}
	_, _ = fmt.Fprint(w, `"}`)
}

// redirect sends the client elsewhere; the client must not follow (the
// secret key would go along).
func redirect(w http.ResponseWriter, r *http.Request) {
	http.Redirect(w, r, "http://127.0.0.1:1/elsewhere", http.StatusFound)
}

func TestCallerCancel(t *testing.T) {
	t.Parallel()
	_, c := MustEmulator(t, func(o *clerkapi.Options) { o.BreakerThreshold = 1 })
	ctx, cancel := context.WithCancel(Ctx(t))
	cancel()
	err := c.Ping(ctx)
	WantCode(t, err, clerkgate.CodeUnavailable)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("error %v is not context.Canceled", err)
	}
	// The caller's cancellation says nothing about Clerk: the breaker
	// (threshold 1) stays closed.
	if err := c.Ping(Ctx(t)); err != nil {
		t.Errorf("Ping after a canceled call: %v", err)
	}
}

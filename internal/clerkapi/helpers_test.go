package clerkapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/clerkgate/clerkgate"
	"github.com/clerkgate/clerkgate/clerkemu"
	"github.com/clerkgate/clerkgate/internal/clerkapi"
)

// MustNew returns a client for o, closed at the end of the test.
func MustNew(tb testing.TB, o clerkapi.Options) *clerkapi.Client {
	tb.Helper()
	c, err := clerkapi.New(o)
	if err != nil {
		tb.Fatalf("clerkapi.New: %v", err)
	}
	tb.Cleanup(c.Close)
	return c
}

// MustEmulator starts an emulator and a client for it; opts, if given,
// adjusts the client's options.
func MustEmulator(tb testing.TB, opts ...func(*clerkapi.Options)) (*clerkemu.Server, *clerkapi.Client) {
	tb.Helper()
	srv := clerkemu.Start(tb, clerkemu.Options{})
	o := clerkapi.Options{APIURL: srv.URL, SecretKey: srv.SecretKey()}
	for _, f := range opts {
		f(&o)
	}
	return srv, MustNew(tb, o)
}

// MustUser creates a user in the emulator.
func MustUser(tb testing.TB, srv *clerkemu.Server, p clerkemu.UserParams) *clerkemu.User {
	tb.Helper()
	u, err := srv.CreateUser(p)
	if err != nil {
		tb.Fatalf("CreateUser: %v", err)
	}
	return u
}

// MustSession creates a session in the emulator.
func MustSession(tb testing.TB, srv *clerkemu.Server, userID, orgID string) *clerkemu.Session {
	tb.Helper()
	s, err := srv.CreateSession(userID, orgID)
	if err != nil {
		tb.Fatalf("CreateSession: %v", err)
	}
	return s
}

// MustPostUser creates a user through the emulator's HTTP API, for the
// members the Go helper lacks (locked, unverified addresses); it returns the
// user's id.
func MustPostUser(tb testing.TB, srv *clerkemu.Server, body map[string]any) string {
	tb.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(http.MethodPost, srv.APIURL+"/users", bytes.NewReader(b))
	req.Header.Set("Authorization", "Bearer "+srv.SecretKey())
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatalf("POST /v1/users: %v", err)
	}
	defer resp.Body.Close()
	var u struct {
		ID string `json:"id"`
	}
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&u) != nil || u.ID == "" {
		tb.Fatalf("POST /v1/users: status %d", resp.StatusCode)
	}
	return u.ID
}

// WantCode fails the test unless err carries code.
func WantCode(tb testing.TB, err error, code clerkgate.Code) {
	tb.Helper()
	if got := clerkgate.ErrorCode(err); got != code {
		tb.Fatalf("error code = %q, want %q (error: %v)", got, code, err)
	}
}

// WantAPIError returns the *clerkapi.APIError in err's chain.
func WantAPIError(tb testing.TB, err error) *clerkapi.APIError {
	tb.Helper()
	var apiErr *clerkapi.APIError
	if !errors.As(err, &apiErr) {
		tb.Fatalf("error %v has no *clerkapi.APIError", err)
	}
	return apiErr
}

// Ctx returns a context that ends with the test.
func Ctx(tb testing.TB) context.Context {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	tb.Cleanup(cancel)
	return ctx
}

// StubServer starts an HTTP server answering every request with h: a
// stand-in for Clerk misbehaving in ways the emulator does not (timeouts,
// 429, 5xx, garbage). It counts the requests it got.
func StubServer(tb testing.TB, h http.HandlerFunc) (*httptest.Server, func() int) {
	tb.Helper()
	var mu sync.Mutex
	n := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		n++
		mu.Unlock()
		h(w, r)
	}))
	tb.Cleanup(srv.Close)
	return srv, func() int {
		mu.Lock()
		defer mu.Unlock()
		return n
	}
}

// ClerkError answers status with Clerk's error shape.
func ClerkError(status int, code, message, param string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		meta := map[string]any{}
		if param != "" {
			meta["param_name"] = param
		}
		body, _ := json.Marshal(map[string]any{
			"errors": []map[string]any{{
				"code": code, "message": message, "long_message": message + " (long)", "meta": meta,
			}},
			"clerk_trace_id": "trace123",
		})
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write(body)
	}
}

// observation is one call of Options.Observe.
type observation struct {
	op     string
	status int
}

// Recorder collects Observe calls.
type Recorder struct {
	mu  sync.Mutex
	obs []observation
}

// Observe fits clerkapi.Options.Observe.
func (r *Recorder) Observe(op string, status int, d time.Duration) {
	if d < 0 {
		panic("negative duration")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.obs = append(r.obs, observation{op, status})
}

// Take returns and forgets the observations so far.
func (r *Recorder) Take() []observation {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.obs
	r.obs = nil
	return out
}

package clerkemu_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/clerkgate/clerkgate/clerkemu"
)

// plainClient checks nothing and gives up after 10 seconds.
var plainClient = &http.Client{Timeout: 10 * time.Second}

// plainDo sends a request with the instance's key through a client that
// checks nothing, since faults answer what the spec does not describe. It
// returns the status and body, or the transport error.
func plainDo(ctx context.Context, srv *clerkemu.Server, method, path, body string) (int, []byte, error) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, srv.URL+path, rd)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+srv.SecretKey())
	resp, err := plainClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

func mustDo(t *testing.T, srv *clerkemu.Server, method, path, body string) (int, []byte) {
	t.Helper()
	status, b, err := plainDo(context.Background(), srv, method, path, body)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	return status, b
}

// TestFaultsEndpoint drives /__emulator/faults: authentication, GET, PUT,
// POST, DELETE and its errors.
func TestFaultsEndpoint(t *testing.T) {
	t.Parallel()
	srv := newEnv(t, clerkemu.Options{}).srv
	const none = `{"jwks":{"mode":"ok"},"api":{"mode":"ok"}}`
	if status, b := mustDo(t, srv, "GET", "/__emulator/faults", ""); status != 200 || string(b) != none {
		t.Errorf("GET: %d %s, want 200 %s", status, b, none)
	}
	resp, err := plainClient.Get(srv.URL + "/__emulator/faults")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET without credentials: %d, want 200", resp.StatusCode)
	}
	req, _ := http.NewRequest("GET", srv.URL+"/__emulator/faults", nil)
	req.Header.Set("Authorization", "Bearer sk_test_wrong")
	if resp, err = plainClient.Do(req); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("GET with a wrong key: %d, want 401", resp.StatusCode)
	}
	steps := []struct {
		method, body string
		status       int
		want         string // the answer, for 200
	}{
		{"PUT", `{"api":{"mode":"fail","status":503}}`, 200, `{"jwks":{"mode":"ok"},"api":{"mode":"fail","status":503}}`},
		{"POST", `{"jwks":{"mode":"slow"},"api":{"mode":"fail"}}`, 200, `{"jwks":{"mode":"slow","delay_ms":3000},"api":{"mode":"fail","status":500}}`},
		{"GET", "", 200, `{"jwks":{"mode":"slow","delay_ms":3000},"api":{"mode":"fail","status":500}}`},
		{"PUT", `{"jwks":{"mode":"broken"}}`, 422, ""},
		{"PUT", `{"api":{"mode":"fail","status":200}}`, 422, ""},
		{"PUT", `{"api":{"mode":"slow","delay_ms":-1}}`, 422, ""},
		{"PUT", `{"api":{"mode":"down"},"db":{}}`, 400, ""},
		{"PUT", `{"api":`, 400, ""},
		{"PATCH", `{}`, 405, ""},
		{"DELETE", "", 200, none},
		{"PUT", `{"api":{"mode":"down","delay_ms":10}}`, 200, `{"jwks":{"mode":"ok"},"api":{"mode":"down","delay_ms":10}}`},
		{"PUT", ``, 200, none},
	}
	for _, st := range steps {
		status, b := mustDo(t, srv, st.method, "/__emulator/faults", st.body)
		if status != st.status || st.want != "" && string(b) != st.want {
			t.Errorf("%s %s: %d %s, want %d %s", st.method, st.body, status, b, st.status, st.want)
		}
		if status >= 400 && !strings.Contains(string(b), `"clerk_trace_id"`) {
			t.Errorf("%s %s: error %s is not in Clerk's shape", st.method, st.body, b)
		}
	}
	if status, _ := mustDo(t, srv, "GET", "/__emulator/other", ""); status != 404 {
		t.Errorf("GET /__emulator/other: %d, want 404", status)
	}
}

// TestFaultModes checks each mode on the API and on JWKS, and that a fault
// of one part leaves the other alone.
func TestFaultModes(t *testing.T) {
	t.Parallel()
	srv := newEnv(t, clerkemu.Options{}).srv
	ctx := context.Background()

	// fail
	if err := srv.SetFaults(clerkemu.Faults{API: clerkemu.Fault{Mode: clerkemu.FaultFail, Status: 503}}); err != nil {
		t.Fatal(err)
	}
	status, b := mustDo(t, srv, "GET", "/v1/users", "")
	var ce struct {
		Errors []struct {
			Code string `json:"code"`
		} `json:"errors"`
		Trace string `json:"clerk_trace_id"`
	}
	if status != 503 || json.Unmarshal(b, &ce) != nil || len(ce.Errors) != 1 || ce.Errors[0].Code != clerkemu.CodeInternal || ce.Trace == "" {
		t.Errorf("API fail: %d %s, want 503 with a Clerk error", status, b)
	}
	if status, _ := mustDo(t, srv, "POST", "/v1/users", `{}`); status != 503 {
		t.Errorf("API fail, POST: %d", status)
	}
	if _, err := srv.CreateUser(clerkemu.UserParams{}); err != nil {
		t.Errorf("Go helpers must work under faults: %v", err)
	}
	if status, _ := mustDo(t, srv, "GET", "/v1/jwks", ""); status != 200 {
		t.Errorf("JWKS under an API fault: %d, want 200", status)
	}
	if status, _ := mustDo(t, srv, "GET", "/__emulator/faults", ""); status != 200 {
		t.Errorf("control endpoint under an API fault: %d", status)
	}
	if err := srv.SetFaults(clerkemu.Faults{JWKS: clerkemu.Fault{Mode: clerkemu.FaultFail, Status: 429}}); err != nil {
		t.Fatal(err)
	}
	if status, _ := mustDo(t, srv, "GET", "/v1/jwks", ""); status != 429 {
		t.Errorf("JWKS fail: %d, want 429", status)
	}
	if status, _ := mustDo(t, srv, "GET", "/v1/users/count", ""); status != 200 {
		t.Errorf("API under a JWKS fault: %d, want 200", status)
	}

	// slow: answers normally after the delay; a client that gives up first
	// gets nothing.
	if err := srv.SetFaults(clerkemu.Faults{JWKS: clerkemu.Fault{Mode: clerkemu.FaultSlow, DelayMS: 300}}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if status, _ := mustDo(t, srv, "GET", "/v1/jwks", ""); status != 200 || time.Since(start) < 300*time.Millisecond {
		t.Errorf("JWKS slow: %d after %v, want 200 after 300ms", status, time.Since(start))
	}
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, _, err := plainDo(short, srv, "GET", "/v1/jwks", ""); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("JWKS slow with a 50ms client: %v, want a deadline error", err)
	}
	if status, _ := mustDo(t, srv, "GET", "/v1/users/count", ""); status != 200 {
		t.Errorf("API under a slow JWKS: %d", status)
	}

	// down: the connection closes without an answer.
	if err := srv.SetFaults(clerkemu.Faults{API: clerkemu.Fault{Mode: clerkemu.FaultDown}}); err != nil {
		t.Fatal(err)
	}
	if status, b, err := plainDo(ctx, srv, "GET", "/v1/users", ""); err == nil {
		t.Errorf("API down: %d %s, want a transport error", status, b)
	}
	if status, _ := mustDo(t, srv, "GET", "/v1/jwks", ""); status != 200 {
		t.Errorf("JWKS under an API outage: %d", status)
	}
	if err := srv.SetFaults(clerkemu.Faults{JWKS: clerkemu.Fault{Mode: clerkemu.FaultDown}}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := plainDo(ctx, srv, "GET", "/v1/jwks", ""); err == nil {
		t.Error("JWKS down: got an answer")
	}

	srv.ClearFaults()
	if f := srv.Faults(); f.API.Mode != clerkemu.FaultOK || f.JWKS.Mode != clerkemu.FaultOK {
		t.Errorf("Faults() after ClearFaults = %+v", f)
	}
	if status, _ := mustDo(t, srv, "GET", "/v1/jwks", ""); status != 200 {
		t.Errorf("JWKS after ClearFaults: %d", status)
	}
	if err := srv.SetFaults(clerkemu.Faults{API: clerkemu.Fault{Mode: "sideways"}}); err == nil {
		t.Error("SetFaults(unknown mode) = nil")
	}
}

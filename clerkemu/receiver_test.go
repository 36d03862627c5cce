package clerkemu_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/clerkgate/clerkgate/clerkemu"
	"github.com/clerkgate/clerkgate/verify"
)

// testSecret signs the webhooks of the tests (Svix's documented example).
const testSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

// delivery is one request a receiver got.
type delivery struct {
	at     time.Time
	header http.Header
	body   []byte
}

// id is the delivery's svix-id.
func (d delivery) id() string { return d.header.Get("svix-id") }

// event decodes the body's envelope.
func (d delivery) event(tb testing.TB) webhookEvent {
	tb.Helper()
	var ev webhookEvent
	if err := json.Unmarshal(d.body, &ev); err != nil {
		tb.Fatalf("webhook body is not JSON: %v", err)
	}
	return ev
}

// webhookEvent is a decoded webhook body.
type webhookEvent struct {
	Data            map[string]any `json:"data"`
	Object          string         `json:"object"`
	Type            string         `json:"type"`
	Timestamp       int64          `json:"timestamp"`
	InstanceID      string         `json:"instance_id"`
	EventAttributes struct {
		HTTPRequest struct {
			ClientIP  string `json:"client_ip"`
			UserAgent string `json:"user_agent"`
		} `json:"http_request"`
	} `json:"event_attributes"`
}

// receiver is a webhook endpoint on 127.0.0.1 that records every request
// and answers what respond says (200 when respond is nil).
type receiver struct {
	URL string

	mu      sync.Mutex
	got     []delivery
	respond func(n int, r *http.Request) int // n counts from 1
}

// newReceiver starts a receiver, closed by the test's cleanup.
func newReceiver(tb testing.TB, respond func(n int, r *http.Request) int) *receiver {
	tb.Helper()
	rc := &receiver{respond: respond}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return
		}
		rc.mu.Lock()
		rc.got = append(rc.got, delivery{at: time.Now(), header: r.Header.Clone(), body: body})
		n, respond := len(rc.got), rc.respond
		rc.mu.Unlock()
		status := http.StatusOK
		if respond != nil {
			status = respond(n, r)
		}
		w.WriteHeader(status)
	}))
	tb.Cleanup(srv.Close)
	rc.URL = srv.URL + "/webhooks/clerk"
	return rc
}

// deliveries returns what the receiver got so far.
func (rc *receiver) deliveries() []delivery {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]delivery(nil), rc.got...)
}

// waitWebhooks waits, at most 10 seconds, until the emulator has settled
// its webhooks.
func waitWebhooks(tb testing.TB, emu *clerkemu.Emulator) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := emu.WaitWebhooks(ctx); err != nil {
		tb.Fatalf("WaitWebhooks: %v; stats %+v", err, emu.WebhookStats())
	}
}

// mustVerifier returns a verifier of the test secret with a clock.
func mustVerifier(tb testing.TB, now func() time.Time) *verify.Webhook {
	tb.Helper()
	w, err := verify.NewWebhook([]string{testSecret}, verify.WebhookOptions{Now: now})
	if err != nil {
		tb.Fatal(err)
	}
	return w
}

// hookEnv starts an emulator that sends its webhooks to a new receiver.
func hookEnv(t *testing.T, opts clerkemu.Options, respond func(n int, r *http.Request) int) (*env, *receiver) {
	t.Helper()
	rc := newReceiver(t, respond)
	opts.Webhooks = append(opts.Webhooks, clerkemu.WebhookEndpoint{URL: rc.URL, Secret: testSecret})
	return newEnv(t, opts), rc
}

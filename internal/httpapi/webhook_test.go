package httpapi_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/clerkgate/clerkgate"
	"github.com/clerkgate/clerkgate/clerkemu"
	"github.com/clerkgate/clerkgate/internal/httpapi"
	"github.com/clerkgate/clerkgate/internal/identity"
	"github.com/clerkgate/clerkgate/internal/metrics"
	"github.com/clerkgate/clerkgate/internal/policy"
	"github.com/clerkgate/clerkgate/internal/security"
	"github.com/clerkgate/clerkgate/internal/sqlite"
	"github.com/clerkgate/clerkgate/internal/usersync"
	"github.com/clerkgate/clerkgate/verify"
)

// The signing secrets: the service is configured with the first two (a
// rotation in progress); the third is nobody's.
const (
	secretOld   = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	secretNew   = "whsec_c2Vjb25kLXNlY3JldC1mb3ItdGhlLXJvdGF0aW9uIQ=="
	secretWrong = "whsec_bm90LXRoZS1zZXJ2aWNlcy1zZWNyZXQtYXQtYWxsISE="
)

// emulatorKey is the public key of one emulator instance, shared by the
// tests: the service verifies session tokens with a static key.
var emulatorKey = sync.OnceValues(func() (string, error) {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return "", err
	}
	emu, err := clerkemu.New(clerkemu.Options{SigningKey: k})
	if err != nil {
		return "", err
	}
	defer emu.Close()
	return emu.PublicKeyPEM(), nil
})

// lockedBuffer is a log destination safe for concurrent writes.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// service is the real HTTP handler over a SQLite store, with the webhook
// verifier, the syncer, the security recorder and metrics.
type service struct {
	url     string
	handler http.Handler
	store   *sqlite.Store
	metrics *metrics.Metrics
	logs    *lockedBuffer
}

func newService(t *testing.T) *service {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "clerkgate.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	pem, err := emulatorKey()
	if err != nil {
		t.Fatal(err)
	}
	logs := &lockedBuffer{}
	log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	m := metrics.New()
	rec := security.New(st, log, m.CountSecurityEvent)
	deny := &verify.MemoryDenyList{}
	v, err := verify.New(verify.Options{JWTKey: pem, Issuer: "https://clerk.clerkgate.emulator", DenyList: deny})
	if err != nil {
		t.Fatal(err)
	}
	ident, err := identity.New(identity.Options{Store: st})
	if err != nil {
		t.Fatal(err)
	}
	wh, err := verify.NewWebhook([]string{secretOld, secretNew}, verify.WebhookOptions{})
	if err != nil {
		t.Fatal(err)
	}
	syncer := usersync.New(usersync.Options{Store: st, Policy: policy.Default(), Denier: deny, Security: rec,
		OnUser: ident.Updated, Observe: m.ObserveWebhook})
	h := httpapi.NewServer(httpapi.Deps{
		Logger: log, Verifier: v, Identity: ident, Metrics: m, Webhook: wh, Syncer: syncer, Security: rec,
		Store: st, Events: st, AuthFailureLimit: 3, AuthFailureWindow: time.Minute,
	})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &service{url: srv.URL, handler: h, store: st, metrics: m, logs: logs}
}

var msgSeq atomic.Int64

func newMsgID() string { return fmt.Sprintf("msg_%d_%d", time.Now().UnixNano(), msgSeq.Add(1)) }

// userUpdated is a user.updated event for id with personal data that must
// never reach a log.
func userUpdated(id string, version int64) []byte {
	b, _ := json.Marshal(map[string]any{
		"object": "event", "type": "user.updated", "timestamp": version, "instance_id": "ins_test",
		"data": map[string]any{
			"id": id, "object": "user", "first_name": "Hostile", "last_name": "Tester",
			"primary_email_address_id": "idn_1",
			"email_addresses": []any{map[string]any{"id": "idn_1", "email_address": "hostile.tester@example.test",
				"verification": map[string]any{"status": "verified"}}},
			"public_metadata": map[string]any{}, "private_metadata": map[string]any{"ssn": "078-05-1120"},
			"created_at": version - 1000, "updated_at": version,
		},
	})
	return b
}

// sign returns the three Svix headers for a message signed with secret.
func sign(t *testing.T, secret, id string, ts time.Time, body []byte) http.Header {
	t.Helper()
	wh, err := verify.NewWebhook([]string{secret}, verify.WebhookOptions{})
	if err != nil {
		t.Fatal(err)
	}
	h := http.Header{}
	h.Set("svix-id", id)
	h.Set("svix-timestamp", strconv.FormatInt(ts.Unix(), 10))
	h.Set("svix-signature", wh.Sign(id, ts, body))
	return h
}

// answer is a response, decoded.
type answer struct {
	status  int
	header  http.Header
	body    map[string]any
	rawBody string
}

func (s *service) post(t *testing.T, h http.Header, body []byte) answer {
	t.Helper()
	req, err := http.NewRequest("POST", s.url+"/webhooks/clerk", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range h {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	a := answer{status: resp.StatusCode, header: resp.Header, rawBody: string(raw)}
	json.Unmarshal(raw, &a.body)
	return a
}

// wantProblem fails t unless a is a problem document with status and code.
func wantProblem(t *testing.T, a answer, status int, code clerkgate.Code) {
	t.Helper()
	if a.status != status || a.body["code"] != string(code) {
		t.Fatalf("answer %d %s, want %d %s", a.status, a.rawBody, status, code)
	}
	if ct := a.header.Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("Content-Type %q, want application/problem+json", ct)
	}
	if a.body["status"] != float64(status) || a.body["type"] != "https://clerkgate.dev/problems/"+string(code) ||
		a.body["title"] == "" || a.body["detail"] == "" {
		t.Errorf("problem document %s", a.rawBody)
	}
	if id := a.header.Get("X-Request-Id"); id == "" || a.body["request_id"] != id {
		t.Errorf("request id %q in the document, %q in the header", a.body["request_id"], id)
	}
}

// wantNothingStored fails t if the store holds any user or a record of id.
func (s *service) wantNothingStored(t *testing.T, id string) {
	t.Helper()
	users, _, err := s.store.ListUsers(context.Background(), clerkgate.UserQuery{IncludeDeleted: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(users) != 0 {
		t.Errorf("users stored: %+v", users)
	}
	if _, err := s.store.WebhookRecord(context.Background(), id); clerkgate.ErrorCode(err) != clerkgate.CodeNotFound {
		t.Errorf("a webhook record of %s: %v", id, err)
	}
}

func (s *service) securityEvents(t *testing.T, kind string) []clerkgate.SecurityEvent {
	t.Helper()
	evs, _, err := s.store.SecurityEvents(context.Background(), clerkgate.SecurityEventQuery{Kind: kind, Limit: 200})
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

// webhookCount is the value of clerkgate_webhook_events_total{type,result}.
func (s *service) webhookCount(t *testing.T, typ, result string) string {
	t.Helper()
	rec := httptest.NewRecorder()
	s.metrics.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	prefix := fmt.Sprintf(`clerkgate_webhook_events_total{result=%q,type=%q} `, result, typ)
	for line := range strings.Lines(rec.Body.String()) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), prefix); ok {
			return v
		}
	}
	return "0"
}

// wantCleanLogs fails t if the logs show a panic or personal data.
func (s *service) wantCleanLogs(t *testing.T) {
	t.Helper()
	logs := s.logs.String()
	for _, bad := range []string{`"msg":"panic"`, "hostile.tester@example.test", "Hostile", "078-05-1120", "whsec_", "v1,"} {
		if strings.Contains(logs, bad) {
			t.Errorf("the logs hold %q:\n%s", bad, logs)
		}
	}
}

// TestWebhookSignatures: only a delivery signed with a configured secret,
// over the exact bytes, within five minutes, passes; every other one is
// 400 webhook_signature_invalid, a security event, and stores nothing.
func TestWebhookSignatures(t *testing.T) {
	t.Parallel()
	now := time.Now()
	body := userUpdated("user_sig", now.UnixMilli())
	tests := []struct {
		name string
		// headers returns the request's headers and body for message id.
		req    func(t *testing.T, id string) (http.Header, []byte)
		ok     bool
		reason string // the reason in the problem's detail
	}{
		{"current secret", func(t *testing.T, id string) (http.Header, []byte) {
			return sign(t, secretOld, id, now, body), body
		}, true, ""},
		{"second secret (rotation)", func(t *testing.T, id string) (http.Header, []byte) {
			return sign(t, secretNew, id, now, body), body
		}, true, ""},
		{"several signatures, one good", func(t *testing.T, id string) (http.Header, []byte) {
			h := sign(t, secretWrong, id, now, body)
			good := sign(t, secretNew, id, now, body).Get("svix-signature")
			h.Set("svix-signature", "v1a,"+good[3:]+" "+h.Get("svix-signature")+" "+good)
			return h, body
		}, true, ""},
		{"webhook-* header names", func(t *testing.T, id string) (http.Header, []byte) {
			h := sign(t, secretOld, id, now, body)
			out := http.Header{}
			for k, v := range h {
				out[strings.Replace(k, "Svix-", "Webhook-", 1)] = v
			}
			return out, body
		}, true, ""},
		{"tampered body", func(t *testing.T, id string) (http.Header, []byte) {
			return sign(t, secretOld, id, now, body), bytes.Replace(body, []byte("Hostile"), []byte("Mallory"), 1)
		}, false, "no_matching_signature"},
		{"one byte added", func(t *testing.T, id string) (http.Header, []byte) {
			return sign(t, secretOld, id, now, body), append(bytes.Clone(body), ' ')
		}, false, "no_matching_signature"},
		{"wrong secret", func(t *testing.T, id string) (http.Header, []byte) {
			return sign(t, secretWrong, id, now, body), body
		}, false, "no_matching_signature"},
		{"signed for another id", func(t *testing.T, id string) (http.Header, []byte) {
			h := sign(t, secretOld, "msg_other", now, body)
			h.Set("svix-id", id)
			return h, body
		}, false, "no_matching_signature"},
		{"timestamp 6 minutes old", func(t *testing.T, id string) (http.Header, []byte) {
			return sign(t, secretOld, id, now.Add(-6*time.Minute), body), body
		}, false, "timestamp_too_old"},
		{"timestamp 6 minutes ahead", func(t *testing.T, id string) (http.Header, []byte) {
			return sign(t, secretOld, id, now.Add(6*time.Minute), body), body
		}, false, "timestamp_too_new"},
		{"timestamp in milliseconds", func(t *testing.T, id string) (http.Header, []byte) {
			h := sign(t, secretOld, id, now, body)
			h.Set("svix-timestamp", strconv.FormatInt(now.UnixMilli(), 10))
			return h, body
		}, false, "timestamp_too_new"},
		{"no svix-id", func(t *testing.T, id string) (http.Header, []byte) {
			h := sign(t, secretOld, id, now, body)
			h.Del("svix-id")
			return h, body
		}, false, "missing_headers"},
		{"no svix-timestamp", func(t *testing.T, id string) (http.Header, []byte) {
			h := sign(t, secretOld, id, now, body)
			h.Del("svix-timestamp")
			return h, body
		}, false, "missing_headers"},
		{"no svix-signature", func(t *testing.T, id string) (http.Header, []byte) {
			h := sign(t, secretOld, id, now, body)
			h.Del("svix-signature")
			return h, body
		}, false, "missing_headers"},
		{"no headers at all", func(t *testing.T, id string) (http.Header, []byte) {
			return http.Header{}, body
		}, false, "missing_headers"},
		{"signature not base64", func(t *testing.T, id string) (http.Header, []byte) {
			h := sign(t, secretOld, id, now, body)
			h.Set("svix-signature", "v1,!!!!not-base64-at-all!!!!!!!!!!!!!!!!!!!!!")
			return h, body
		}, false, "malformed_signature"},
		{"signature without version", func(t *testing.T, id string) (http.Header, []byte) {
			h := sign(t, secretOld, id, now, body)
			h.Set("svix-signature", strings.TrimPrefix(h.Get("svix-signature"), "v1,"))
			return h, body
		}, false, "malformed_signature"},
		{"only another version", func(t *testing.T, id string) (http.Header, []byte) {
			h := sign(t, secretOld, id, now, body)
			h.Set("svix-signature", "v1a,"+strings.TrimPrefix(h.Get("svix-signature"), "v1,"))
			return h, body
		}, false, "malformed_signature"},
		{"signature truncated", func(t *testing.T, id string) (http.Header, []byte) {
			h := sign(t, secretOld, id, now, body)
			h.Set("svix-signature", h.Get("svix-signature")[:20])
			return h, body
		}, false, "malformed_signature"},
		{"timestamp not a number", func(t *testing.T, id string) (http.Header, []byte) {
			h := sign(t, secretOld, id, now, body)
			h.Set("svix-timestamp", "yesterday")
			return h, body
		}, false, "bad_timestamp"},
		{"conflicting ids", func(t *testing.T, id string) (http.Header, []byte) {
			h := sign(t, secretOld, id, now, body)
			h.Set("webhook-id", "msg_someone_else")
			return h, body
		}, false, "conflicting_headers"},
		{"id with a space", func(t *testing.T, id string) (http.Header, []byte) {
			return sign(t, secretOld, id+" x", now, body), body
		}, false, "bad_id"},
		{"id not ASCII", func(t *testing.T, id string) (http.Header, []byte) {
			return sign(t, secretOld, id+"\xc3\xa9", now, body), body
		}, false, "bad_id"},
		{"huge signature header", func(t *testing.T, id string) (http.Header, []byte) {
			h := sign(t, secretOld, id, now, body)
			h.Set("svix-signature", strings.Repeat(h.Get("svix-signature")+" ", 200))
			return h, body
		}, false, "header_too_long"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := newService(t)
			id := newMsgID()
			h, b := tc.req(t, id)
			a := s.post(t, h, b)
			if tc.ok {
				if a.status != 200 || a.body["status"] != "processed" {
					t.Fatalf("answer %d %s, want 200 processed", a.status, a.rawBody)
				}
				if u, err := s.store.UserByClerkID(context.Background(), "user_sig"); err != nil || u.FirstName != "Hostile" {
					t.Errorf("user after a good delivery: %+v, %v", u, err)
				}
				if len(s.securityEvents(t, clerkgate.EventWebhookSignatureInvalid)) != 0 {
					t.Error("a good delivery recorded a signature failure")
				}
			} else {
				wantProblem(t, a, 400, clerkgate.CodeWebhookSignatureInvalid)
				if detail, _ := a.body["detail"].(string); !strings.Contains(detail, tc.reason) {
					t.Errorf("detail %q, want the reason %s", detail, tc.reason)
				}
				s.wantNothingStored(t, id)
				evs := s.securityEvents(t, clerkgate.EventWebhookSignatureInvalid)
				if len(evs) != 1 || evs[0].IP != "127.0.0.1" || evs[0].RequestID != a.header.Get("X-Request-Id") ||
					!strings.Contains(string(evs[0].Detail), tc.reason) {
					t.Errorf("security events %+v, want one webhook_signature_invalid (%s)", evs, tc.reason)
				}
				if n := s.webhookCount(t, "none", "rejected"); n != "1" {
					t.Errorf("webhook_events_total{none,rejected} = %s, want 1", n)
				}
			}
			s.wantCleanLogs(t)
		})
	}
}

// TestWebhookBadEvents: correctly signed deliveries that cannot be used are
// 400 invalid_request (or 413), store nothing, and are no security event.
func TestWebhookBadEvents(t *testing.T) {
	t.Parallel()
	noUpdatedAt, _ := json.Marshal(map[string]any{"type": "user.updated", "object": "event",
		"data": map[string]any{"id": "user_x", "object": "user", "first_name": "Hostile", "created_at": 1}})
	tests := []struct {
		name string
		body []byte
	}{
		{"empty", []byte{}},
		{"not JSON", []byte("<xml>Hostile</xml>")},
		{"truncated JSON", userUpdated("user_x", 1_700_000_000_000)[:100]},
		{"JSON null", []byte("null")},
		{"no data", []byte(`{"type":"user.updated","object":"event"}`)},
		{"data null", []byte(`{"type":"user.updated","data":null}`)},
		{"data an array", []byte(`{"type":"user.updated","data":[]}`)},
		{"no type", []byte(`{"data":{"id":"user_x"}}`)},
		{"user.updated without updated_at", noUpdatedAt},
		{"user id of the wrong type", []byte(`{"type":"user.updated","data":{"id":["user_x"],"created_at":1,"updated_at":2}}`)},
		{"invalid UTF-8 and NUL", []byte("{\"type\":\"user.updated\",\"data\":{\"id\":\"user_x\",\"first_name\":\"\\u0000\xff\",\"created_at\":1,\"updated_at\":2}}")},
		{"deeply nested", []byte(`{"type":"user.updated","data":` + strings.Repeat(`{"a":`, 20000) + `1` + strings.Repeat(`}`, 20000) + `}`)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := newService(t)
			id := newMsgID()
			a := s.post(t, sign(t, secretOld, id, time.Now(), tc.body), tc.body)
			wantProblem(t, a, 400, clerkgate.CodeInvalidRequest)
			s.wantNothingStored(t, id)
			if evs := s.securityEvents(t, ""); len(evs) != 0 {
				t.Errorf("security events for a signed bad event: %+v", evs)
			}
			s.wantCleanLogs(t)
		})
	}
}

// countingReader yields n bytes of JSON-ish filler and counts what was
// read of it.
type countingReader struct {
	left, read int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	if c.left == 0 {
		return 0, io.EOF
	}
	n := min(int64(len(p)), c.left)
	for i := range p[:n] {
		p[i] = ' '
	}
	c.left -= n
	c.read += n
	return int(n), nil
}

// TestWebhookBodyLimit: a body over 512 KiB is 413 invalid_request, and the
// handler stops reading at the limit.
func TestWebhookBodyLimit(t *testing.T) {
	t.Parallel()
	s := newService(t)
	for _, chunked := range []bool{false, true} {
		id := newMsgID()
		body := &countingReader{left: 10 << 20}
		req := httptest.NewRequest("POST", "/webhooks/clerk", body)
		if chunked {
			req.ContentLength = -1
		}
		req.Header = sign(t, secretOld, id, time.Now(), nil)
		rec := httptest.NewRecorder()
		s.handler.ServeHTTP(rec, req)
		resp := rec.Result()
		raw, _ := io.ReadAll(resp.Body)
		a := answer{status: resp.StatusCode, header: resp.Header, rawBody: string(raw)}
		json.Unmarshal(raw, &a.body)
		wantProblem(t, a, http.StatusRequestEntityTooLarge, clerkgate.CodeInvalidRequest)
		if body.read > httpapi.MaxWebhookBytes+64<<10 {
			t.Errorf("the handler read %d bytes of a 10 MiB body; the limit is %d", body.read, httpapi.MaxWebhookBytes)
		}
		s.wantNothingStored(t, id)
	}
	// Exactly at the limit is fine as far as size goes (this one is not
	// JSON, so it is 400).
	id := newMsgID()
	body := bytes.Repeat([]byte(" "), httpapi.MaxWebhookBytes)
	wantProblem(t, s.post(t, sign(t, secretOld, id, time.Now(), body), body), 400, clerkgate.CodeInvalidRequest)

	// Over loopback as well: a 10 MiB body declared up front.
	big := bytes.Repeat([]byte("x"), 10<<20)
	id = newMsgID()
	wantProblem(t, s.post(t, sign(t, secretOld, id, time.Now(), big), big), http.StatusRequestEntityTooLarge, clerkgate.CodeInvalidRequest)
	s.wantNothingStored(t, id)
}

// TestWebhookReplay: the same message again is 200 duplicate and changes
// nothing; the same id with another body is a webhook_replay event.
func TestWebhookReplay(t *testing.T) {
	t.Parallel()
	s := newService(t)
	id := newMsgID()
	body := userUpdated("user_replay", time.Now().UnixMilli())
	if a := s.post(t, sign(t, secretOld, id, time.Now(), body), body); a.status != 200 || a.body["status"] != "processed" {
		t.Fatalf("first delivery: %d %s", a.status, a.rawBody)
	}
	first, err := s.store.UserByClerkID(context.Background(), "user_replay")
	if err != nil {
		t.Fatal(err)
	}
	// Svix retries: same id, same body, a new timestamp and signature.
	a := s.post(t, sign(t, secretNew, id, time.Now(), body), body)
	if a.status != 200 || a.body["status"] != "duplicate" {
		t.Fatalf("retry: %d %s, want 200 duplicate", a.status, a.rawBody)
	}
	if len(s.securityEvents(t, clerkgate.EventWebhookReplay)) != 0 {
		t.Error("a retry is a replay event")
	}
	// Someone holding a secret sends another body under a used id.
	other := userUpdated("user_replay", time.Now().Add(time.Hour).UnixMilli())
	other = bytes.Replace(other, []byte("Hostile"), []byte("Changed"), 1)
	a = s.post(t, sign(t, secretOld, id, time.Now(), other), other)
	if a.status != 200 || a.body["status"] != "duplicate" {
		t.Fatalf("replay with another body: %d %s, want 200 duplicate", a.status, a.rawBody)
	}
	if got, err := s.store.UserByClerkID(context.Background(), "user_replay"); err != nil || got.FirstName != "Hostile" ||
		!got.UpdatedAt.Equal(first.UpdatedAt) {
		t.Errorf("user after the replay: %+v, %v", got, err)
	}
	if evs := s.securityEvents(t, clerkgate.EventWebhookReplay); len(evs) != 1 || evs[0].RequestID != a.header.Get("X-Request-Id") {
		t.Errorf("webhook_replay events: %+v", evs)
	}
	if n := s.webhookCount(t, "user.updated", "duplicate"); n != "2" {
		t.Errorf("webhook_events_total{user.updated,duplicate} = %s, want 2", n)
	}
	s.wantCleanLogs(t)
}

// TestWebhookFailuresDoNotBlock: signature failures are security events but
// never count toward the per-IP limit of failed authentications (Svix
// sends from shared addresses), and a bad method is a problem document.
func TestWebhookFailuresDoNotBlock(t *testing.T) {
	t.Parallel()
	s := newService(t) // AuthFailureLimit: 3
	body := userUpdated("user_block", time.Now().UnixMilli())
	for range 10 {
		wantProblem(t, s.post(t, sign(t, secretWrong, newMsgID(), time.Now(), body), body), 400, clerkgate.CodeWebhookSignatureInvalid)
	}
	if evs := s.securityEvents(t, clerkgate.EventWebhookSignatureInvalid); len(evs) != 10 {
		t.Errorf("%d webhook_signature_invalid events, want 10", len(evs))
	}
	if a := s.post(t, sign(t, secretOld, newMsgID(), time.Now(), body), body); a.status != 200 {
		t.Errorf("a good delivery after signature failures: %d %s", a.status, a.rawBody)
	}
	resp, err := http.Get(s.url + "/auth/me")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Errorf("/auth/me after webhook failures: %d, want 401 (not rate limited)", resp.StatusCode)
	}

	req, _ := http.NewRequest("GET", s.url+"/webhooks/clerk", nil)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	a := answer{status: resp.StatusCode, header: resp.Header, rawBody: string(raw)}
	json.Unmarshal(raw, &a.body)
	wantProblem(t, a, http.StatusMethodNotAllowed, clerkgate.CodeInvalidRequest)
	if allow := resp.Header.Get("Allow"); !strings.Contains(allow, "POST") {
		t.Errorf("Allow %q", allow)
	}
}

// TestWebhookNotConfigured: without a secret, every delivery is 503
// webhook_not_configured and nothing is stored.
func TestWebhookNotConfigured(t *testing.T) {
	t.Parallel()
	st, err := sqlite.Open(context.Background(), sqlite.Memory)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	syncer := usersync.New(usersync.Options{Store: st, Policy: policy.Default()})
	srv := httptest.NewServer(httpapi.NewServer(httpapi.Deps{Syncer: syncer, Store: st}))
	t.Cleanup(srv.Close)
	s := &service{url: srv.URL, store: st}
	id := newMsgID()
	body := userUpdated("user_nc", time.Now().UnixMilli())
	wantProblem(t, s.post(t, sign(t, secretOld, id, time.Now(), body), body), 503, clerkgate.CodeWebhookNotConfigured)
	s.wantNothingStored(t, id)
}

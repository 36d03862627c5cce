package verify_test

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"net/http"
	"strings"
	"testing"
	"time"

	svix "github.com/svix/svix-webhooks/go"

	"github.com/clerkgate/clerkgate"
	"github.com/clerkgate/clerkgate/verify"
)

// The known answer from the Svix documentation (see NOTES.md).
const (
	kaSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	kaID     = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	kaTS     = "1614265330"
	kaBody   = `{"test": 2432232314}`
	kaSig    = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
)

var kaTime = time.Unix(1614265330, 0)

// otherSecret is a second valid secret, for rotation and wrong-secret cases.
const otherSecret = "whsec_c2Vjb25kLXNlY3JldC1mb3ItdGhlLXRlc3RzLWhlcmUh"

// MustWebhook returns a Webhook for secrets or fails the test.
func MustWebhook(tb testing.TB, secrets []string, opts verify.WebhookOptions) *verify.Webhook {
	tb.Helper()
	w, err := verify.NewWebhook(secrets, opts)
	if err != nil {
		tb.Fatalf("NewWebhook: %v", err)
	}
	return w
}

// fixedClock returns a Now function that always answers t.
func fixedClock(t time.Time) func() time.Time { return func() time.Time { return t } }

// randomSecret returns a fresh "whsec_" secret of n random bytes.
func randomSecret(tb testing.TB, n int) string {
	tb.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		tb.Fatal(err)
	}
	return "whsec_" + base64.StdEncoding.EncodeToString(b)
}

func svixHeaders(id, ts, sig string) http.Header {
	h := http.Header{}
	h.Set("svix-id", id)
	h.Set("svix-timestamp", ts)
	h.Set("svix-signature", sig)
	return h
}

// checkNoLeak fails if the error text holds any of the secrets.
func checkNoLeak(t *testing.T, err error, secrets ...string) {
	t.Helper()
	if err == nil {
		return
	}
	msg := err.Error()
	for _, s := range secrets {
		if s == "" {
			continue
		}
		if strings.Contains(msg, s) {
			t.Errorf("error %q contains %q", msg, s)
		}
	}
}

func TestWebhookKnownAnswer(t *testing.T) {
	t.Parallel()
	w := MustWebhook(t, []string{kaSecret}, verify.WebhookOptions{Now: fixedClock(kaTime)})
	if got := w.Sign(kaID, kaTime, []byte(kaBody)); got != kaSig {
		t.Fatalf("Sign = %q, want %q", got, kaSig)
	}
	id, err := w.Verify(svixHeaders(kaID, kaTS, kaSig), []byte(kaBody))
	if err != nil || id != kaID {
		t.Fatalf("Verify = %q, %v; want %q, nil", id, err, kaID)
	}
	// The bare base64 secret is the same key.
	bare := MustWebhook(t, []string{strings.TrimPrefix(kaSecret, "whsec_")}, verify.WebhookOptions{Now: fixedClock(kaTime)})
	if got := bare.Sign(kaID, kaTime, []byte(kaBody)); got != kaSig {
		t.Fatalf("bare secret: Sign = %q, want %q", got, kaSig)
	}
}

// TestWebhookSvixCrossCheck uses the official Svix Go library as an
// independent implementation in both directions.
func TestWebhookSvixCrossCheck(t *testing.T) {
	t.Parallel()
	rng := mrand.New(mrand.NewPCG(1, 2))
	for i := range 200 {
		secret := randomSecret(t, 16+rng.IntN(49))
		body := make([]byte, rng.IntN(2048))
		for j := range body {
			body[j] = byte(rng.Uint32())
		}
		id := fmt.Sprintf("msg_%x", rng.Uint64())
		now := time.Now()

		theirs, err := svix.NewWebhook(secret)
		if err != nil {
			t.Fatal(err)
		}
		ours := MustWebhook(t, []string{secret}, verify.WebhookOptions{Now: fixedClock(now)})

		// Theirs signs, ours verifies.
		sig, err := theirs.Sign(id, now, body)
		if err != nil {
			t.Fatal(err)
		}
		h := svixHeaders(id, fmt.Sprint(now.Unix()), sig)
		if got, err := ours.Verify(h, body); err != nil || got != id {
			t.Fatalf("case %d: ours.Verify(svix signature) = %q, %v", i, got, err)
		}
		if ourSig := ours.Sign(id, now, body); ourSig != sig {
			t.Fatalf("case %d: ours.Sign = %q, svix.Sign = %q", i, ourSig, sig)
		}

		// Ours signs, theirs verifies (svix checks against the real clock).
		h = svixHeaders(id, fmt.Sprint(now.Unix()), ours.Sign(id, now, body))
		if err := theirs.Verify(body, h); err != nil {
			t.Fatalf("case %d: svix.Verify(our signature) = %v", i, err)
		}

		// Both reject the same tampering.
		if len(body) > 0 {
			bad := bytes.Clone(body)
			bad[rng.IntN(len(bad))] ^= 1 << rng.IntN(8)
			if err := theirs.Verify(bad, h); err == nil {
				t.Fatalf("case %d: svix accepted a tampered body", i)
			}
			if _, err := ours.Verify(h, bad); !errors.Is(err, verify.ErrWebhookSignature) {
				t.Fatalf("case %d: ours.Verify(tampered) = %v", i, err)
			}
		}
	}
}

func TestWebhookVerify(t *testing.T) {
	t.Parallel()
	body := []byte(kaBody)
	otherKey := MustWebhook(t, []string{otherSecret}, verify.WebhookOptions{})
	sigEmpty := MustWebhook(t, []string{kaSecret}, verify.WebhookOptions{}).Sign(kaID, kaTime, nil)
	longSig := strings.Repeat("v1a,"+strings.Repeat("A", 40)+" ", 100) + kaSig

	tests := []struct {
		name    string
		secrets []string    // default: kaSecret
		now     time.Time   // default: kaTime
		header  http.Header // built with the helpers below
		body    []byte
		reason  string // "" = accept
	}{
		{name: "valid", header: svixHeaders(kaID, kaTS, kaSig), body: body},
		{name: "webhook-* names", header: hdr("webhook-id", kaID, "webhook-timestamp", kaTS, "webhook-signature", kaSig), body: body},
		{name: "both spellings agree", header: both(svixHeaders(kaID, kaTS, kaSig), "webhook-id", kaID, "webhook-timestamp", kaTS, "webhook-signature", kaSig), body: body},
		{name: "both spellings conflict", header: both(svixHeaders(kaID, kaTS, kaSig), "webhook-id", "msg_other"), body: body, reason: "conflicting_headers"},
		{name: "repeated header agrees", header: both(svixHeaders(kaID, kaTS, kaSig), "svix-id", kaID), body: body},
		{name: "repeated header conflicts", header: both(svixHeaders(kaID, kaTS, kaSig), "svix-timestamp", "1614265331"), body: body, reason: "conflicting_headers"},
		{name: "repeated signature conflicts", header: both(svixHeaders(kaID, kaTS, "v1,AAAA"), "svix-signature", kaSig), body: body, reason: "conflicting_headers"},
		{name: "tampered body", header: svixHeaders(kaID, kaTS, kaSig), body: []byte(`{"test": 2432232315}`), reason: "no_matching_signature"},
		{name: "body with trailing newline", header: svixHeaders(kaID, kaTS, kaSig), body: []byte(kaBody + "\n"), reason: "no_matching_signature"},
		{name: "other id", header: svixHeaders("msg_other", kaTS, kaSig), body: body, reason: "no_matching_signature"},
		{name: "other timestamp in tolerance", header: svixHeaders(kaID, "1614265331", kaSig), body: body, reason: "no_matching_signature"},
		{name: "wrong secret", secrets: []string{otherSecret}, header: svixHeaders(kaID, kaTS, kaSig), body: body, reason: "no_matching_signature"},
		{name: "rotation: second secret matches", secrets: []string{otherSecret, kaSecret}, header: svixHeaders(kaID, kaTS, kaSig), body: body},
		{name: "rotation: second entry matches", header: svixHeaders(kaID, kaTS, otherKey.Sign(kaID, kaTime, body)+" "+kaSig), body: body},
		{name: "rotation: v1a entry ignored", header: svixHeaders(kaID, kaTS, "v1a,"+strings.TrimPrefix(kaSig, "v1,")+" "+kaSig), body: body},
		{name: "extra spaces between entries", header: svixHeaders(kaID, kaTS, "  v1,AAAA   "+kaSig+"  "), body: body},
		{name: "6 minutes old", now: kaTime.Add(6 * time.Minute), header: svixHeaders(kaID, kaTS, kaSig), body: body, reason: "timestamp_too_old"},
		{name: "6 minutes ahead", now: kaTime.Add(-6 * time.Minute), header: svixHeaders(kaID, kaTS, kaSig), body: body, reason: "timestamp_too_new"},
		{name: "exactly 5 minutes old", now: kaTime.Add(5 * time.Minute), header: svixHeaders(kaID, kaTS, kaSig), body: body},
		{name: "exactly 5 minutes ahead", now: kaTime.Add(-5 * time.Minute), header: svixHeaders(kaID, kaTS, kaSig), body: body},
		{name: "just over 5 minutes old", now: kaTime.Add(5*time.Minute + time.Millisecond), header: svixHeaders(kaID, kaTS, kaSig), body: body, reason: "timestamp_too_old"},
		{name: "non-numeric timestamp", header: svixHeaders(kaID, "yesterday", kaSig), body: body, reason: "bad_timestamp"},
		{name: "timestamp in ms", header: svixHeaders(kaID, kaTS+"000", kaSig), body: body, reason: "timestamp_too_new"},
		{name: "fractional timestamp", header: svixHeaders(kaID, kaTS+".0", kaSig), body: body, reason: "bad_timestamp"},
		{name: "signed timestamp", header: svixHeaders(kaID, "+"+kaTS, kaSig), body: body, reason: "bad_timestamp"},
		{name: "negative timestamp", header: svixHeaders(kaID, "-"+kaTS, kaSig), body: body, reason: "bad_timestamp"},
		{name: "leading zero timestamp", header: svixHeaders(kaID, "0"+kaTS, kaSig), body: body, reason: "bad_timestamp"},
		{name: "largest timestamp", header: svixHeaders(kaID, "9223372036854775807", kaSig), body: body, reason: "timestamp_too_new"},
		{name: "timestamp zero", header: svixHeaders(kaID, "0", kaSig), body: body, reason: "timestamp_too_old"},
		{name: "overflowing timestamp", header: svixHeaders(kaID, "9999999999999999999", kaSig), body: body, reason: "bad_timestamp"},
		{name: "over-long timestamp", header: svixHeaders(kaID, strings.Repeat("1", 20), kaSig), body: body, reason: "header_too_long"},
		{name: "missing svix-id", header: hdr("svix-timestamp", kaTS, "svix-signature", kaSig), body: body, reason: "missing_headers"},
		{name: "missing svix-timestamp", header: hdr("svix-id", kaID, "svix-signature", kaSig), body: body, reason: "missing_headers"},
		{name: "missing svix-signature", header: hdr("svix-id", kaID, "svix-timestamp", kaTS), body: body, reason: "missing_headers"},
		{name: "empty svix-id", header: svixHeaders("", kaTS, kaSig), body: body, reason: "missing_headers"},
		{name: "empty svix-signature", header: svixHeaders(kaID, kaTS, ""), body: body, reason: "missing_headers"},
		{name: "no headers", header: http.Header{}, body: body, reason: "missing_headers"},
		{name: "nil header", header: nil, body: body, reason: "missing_headers"},
		{name: "signature without comma", header: svixHeaders(kaID, kaTS, strings.Replace(kaSig, ",", "", 1)), body: body, reason: "malformed_signature"},
		{name: "signature bad base64", header: svixHeaders(kaID, kaTS, "v1,"+strings.Repeat("!", 44)), body: body, reason: "malformed_signature"},
		{name: "signature short", header: svixHeaders(kaID, kaTS, kaSig[:len(kaSig)-4]), body: body, reason: "malformed_signature"},
		{name: "signature non-canonical base64", header: svixHeaders(kaID, kaTS, strings.Replace(kaSig, "OE=", "OF=", 1)), body: body, reason: "malformed_signature"},
		{name: "signature of 44 characters without padding", header: svixHeaders(kaID, kaTS, "v1,"+strings.Repeat("0", 44)), body: body, reason: "malformed_signature"},
		{name: "signature unpadded", header: svixHeaders(kaID, kaTS, strings.TrimSuffix(kaSig, "=")), body: body, reason: "malformed_signature"},
		{name: "only v1a", header: svixHeaders(kaID, kaTS, "v1a,"+strings.TrimPrefix(kaSig, "v1,")), body: body, reason: "malformed_signature"},
		{name: "only v2", header: svixHeaders(kaID, kaTS, "v2,"+strings.TrimPrefix(kaSig, "v1,")), body: body, reason: "malformed_signature"},
		{name: "version in upper case", header: svixHeaders(kaID, kaTS, "V1,"+strings.TrimPrefix(kaSig, "v1,")), body: body, reason: "malformed_signature"},
		{name: "well-formed but wrong", header: svixHeaders(kaID, kaTS, "v1,"+base64.StdEncoding.EncodeToString(make([]byte, 32))), body: body, reason: "no_matching_signature"},
		{name: "signature header too long", header: svixHeaders(kaID, kaTS, longSig), body: body, reason: "header_too_long"},
		{name: "id with newline", header: svixHeaders(kaID+"\n", kaTS, kaSig), body: body, reason: "bad_id"},
		{name: "id with NUL", header: svixHeaders("msg_\x00x", kaTS, kaSig), body: body, reason: "bad_id"},
		{name: "id with space", header: svixHeaders("msg x", kaTS, kaSig), body: body, reason: "bad_id"},
		{name: "id with DEL", header: svixHeaders("msg_\x7f", kaTS, kaSig), body: body, reason: "bad_id"},
		{name: "id not ASCII", header: svixHeaders("msg_é", kaTS, kaSig), body: body, reason: "bad_id"},
		{name: "id too long", header: svixHeaders("msg_"+strings.Repeat("x", 300), kaTS, kaSig), body: body, reason: "header_too_long"},
		{name: "empty body signed", header: svixHeaders(kaID, kaTS, sigEmpty), body: []byte{}},
		{name: "nil body signed as empty", header: svixHeaders(kaID, kaTS, sigEmpty), body: nil},
		{name: "empty body, signature of another body", header: svixHeaders(kaID, kaTS, kaSig), body: nil, reason: "no_matching_signature"},
		{name: "body for empty signature", header: svixHeaders(kaID, kaTS, sigEmpty), body: body, reason: "no_matching_signature"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			secrets := tt.secrets
			if secrets == nil {
				secrets = []string{kaSecret}
			}
			now := tt.now
			if now.IsZero() {
				now = kaTime
			}
			w := MustWebhook(t, secrets, verify.WebhookOptions{Now: fixedClock(now)})
			id, err := w.Verify(tt.header, tt.body)
			if tt.reason == "" {
				if err != nil || id != kaID {
					t.Fatalf("Verify = %q, %v; want %q, nil", id, err, kaID)
				}
				return
			}
			if err == nil {
				t.Fatalf("Verify = %q, nil; want reason %q", id, tt.reason)
			}
			if id != "" {
				t.Errorf("Verify returned id %q with an error", id)
			}
			if !errors.Is(err, verify.ErrWebhookSignature) {
				t.Errorf("errors.Is(%v, ErrWebhookSignature) = false", err)
			}
			if errors.Is(err, verify.ErrTokenInvalid) || errors.Is(err, verify.ErrWebhookNotConfigured) {
				t.Errorf("%v matches an unrelated sentinel", err)
			}
			if got := verify.Reason(err); got != tt.reason {
				t.Errorf("Reason = %q, want %q (err %v)", got, tt.reason, err)
			}
			if got := clerkgate.ErrorCode(err); got != clerkgate.CodeWebhookSignatureInvalid || got.Status() != http.StatusBadRequest {
				t.Errorf("ErrorCode = %q (status %d)", got, got.Status())
			}
			checkNoLeak(t, err, append(secrets, strings.TrimPrefix(kaSig, "v1,"), string(tt.body), kaID)...)
		})
	}
}

// hdr builds a header from name, value pairs.
func hdr(kv ...string) http.Header {
	return both(http.Header{}, kv...)
}

// both adds name, value pairs to h and returns it.
func both(h http.Header, kv ...string) http.Header {
	for i := 0; i < len(kv); i += 2 {
		h.Add(kv[i], kv[i+1])
	}
	return h
}

func TestWebhookCustomTolerance(t *testing.T) {
	t.Parallel()
	w := MustWebhook(t, []string{kaSecret}, verify.WebhookOptions{
		Tolerance: 10 * time.Minute,
		Now:       fixedClock(kaTime.Add(9 * time.Minute)),
	})
	if _, err := w.Verify(svixHeaders(kaID, kaTS, kaSig), []byte(kaBody)); err != nil {
		t.Fatalf("9 minutes within a 10 minute tolerance: %v", err)
	}
	w = MustWebhook(t, []string{kaSecret}, verify.WebhookOptions{
		Tolerance: time.Minute,
		Now:       fixedClock(kaTime.Add(-2 * time.Minute)),
	})
	if _, err := w.Verify(svixHeaders(kaID, kaTS, kaSig), []byte(kaBody)); verify.Reason(err) != "timestamp_too_new" {
		t.Fatalf("2 minutes ahead with a 1 minute tolerance: %v", err)
	}
}

func TestNewWebhook(t *testing.T) {
	t.Parallel()
	ok := []struct {
		name    string
		secrets []string
	}{
		{"whsec", []string{kaSecret}},
		{"bare base64", []string{"MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}},
		{"surrounding space", []string{"  " + kaSecret + "\n"}},
		{"several", []string{kaSecret, otherSecret}},
	}
	for _, tt := range ok {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w := MustWebhook(t, tt.secrets, verify.WebhookOptions{Now: fixedClock(kaTime)})
			if _, err := w.Verify(svixHeaders(kaID, kaTS, kaSig), []byte(kaBody)); err != nil {
				t.Fatalf("Verify: %v", err)
			}
		})
	}

	bad := []struct {
		name    string
		secrets []string
		opts    verify.WebhookOptions
		reason  string
	}{
		{"nil list", nil, verify.WebhookOptions{}, "no_secrets"},
		{"empty list", []string{}, verify.WebhookOptions{}, "no_secrets"},
		{"empty secret", []string{""}, verify.WebhookOptions{}, "bad_secret"},
		{"prefix only", []string{"whsec_"}, verify.WebhookOptions{}, "bad_secret"},
		{"not base64", []string{"whsec_not*base64*at*all!"}, verify.WebhookOptions{}, "bad_secret"},
		{"unpadded", []string{"whsec_c2VjcmV0"[:13]}, verify.WebhookOptions{}, "bad_secret"},
		{"second malformed", []string{kaSecret, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2La%aSw"}, verify.WebhookOptions{}, "bad_secret"},
		{"space inside", []string{"whsec_MfKQ9r8GKYqr TwjUPD8ILPZIo2LaLaSw"}, verify.WebhookOptions{}, "bad_secret"},
		{"negative tolerance", []string{kaSecret}, verify.WebhookOptions{Tolerance: -time.Second}, "bad_tolerance"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w, err := verify.NewWebhook(tt.secrets, tt.opts)
			if err == nil || w != nil {
				t.Fatalf("NewWebhook = %v, %v; want an error", w, err)
			}
			if !errors.Is(err, verify.ErrWebhookNotConfigured) || errors.Is(err, verify.ErrWebhookSignature) {
				t.Errorf("error %v: want ErrWebhookNotConfigured only", err)
			}
			if got := verify.Reason(err); got != tt.reason {
				t.Errorf("Reason = %q, want %q", got, tt.reason)
			}
			for _, s := range tt.secrets {
				checkNoLeak(t, err, strings.TrimPrefix(s, "whsec_")) // the prefix alone is no secret
			}
		})
	}
}

func TestWebhookNilVerify(t *testing.T) {
	t.Parallel()
	var w *verify.Webhook
	id, err := w.Verify(svixHeaders(kaID, kaTS, kaSig), []byte(kaBody))
	if id != "" || !errors.Is(err, verify.ErrWebhookNotConfigured) {
		t.Fatalf("nil Webhook: Verify = %q, %v; want ErrWebhookNotConfigured", id, err)
	}
	if got := clerkgate.ErrorCode(err).Status(); got != http.StatusServiceUnavailable {
		t.Errorf("status = %d, want 503", got)
	}
}

func TestParseSecrets(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"   \n", nil},
		{"whsec_a", []string{"whsec_a"}},
		{"whsec_a whsec_b", []string{"whsec_a", "whsec_b"}},
		{" whsec_a   whsec_b\twhsec_c\n", []string{"whsec_a", "whsec_b", "whsec_c"}},
	}
	for _, tt := range tests {
		got := verify.ParseSecrets(tt.in)
		if fmt.Sprintf("%q", got) != fmt.Sprintf("%q", tt.want) || (got == nil) != (tt.want == nil) {
			t.Errorf("ParseSecrets(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	// The parsed list feeds NewWebhook directly.
	w := MustWebhook(t, verify.ParseSecrets(otherSecret+" "+kaSecret), verify.WebhookOptions{Now: fixedClock(kaTime)})
	if _, err := w.Verify(svixHeaders(kaID, kaTS, kaSig), []byte(kaBody)); err != nil {
		t.Fatalf("Verify with the rotated secret: %v", err)
	}
}

// TestWebhookRedacts checks that formatting or logging a Webhook shows
// neither the secrets nor the keys.
func TestWebhookRedacts(t *testing.T) {
	t.Parallel()
	w := MustWebhook(t, []string{kaSecret, otherSecret}, verify.WebhookOptions{})
	var key []byte
	key, _ = base64.StdEncoding.DecodeString(strings.TrimPrefix(kaSecret, "whsec_"))
	forbidden := []string{
		strings.TrimPrefix(kaSecret, "whsec_"), strings.TrimPrefix(otherSecret, "whsec_"),
		hex.EncodeToString(key), fmt.Sprint(key), string(key),
		fmt.Sprint(int(key[0])) + " " + fmt.Sprint(int(key[1])),
	}
	var outputs []string
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x", "%X", "%d", "%q"} {
		outputs = append(outputs, fmt.Sprintf(verb, w), fmt.Sprintf(verb, *w))
	}
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("config", "webhook", w)
	slog.New(slog.NewTextHandler(&buf, nil)).Info("config", "webhook", w)
	outputs = append(outputs, buf.String())
	if !strings.Contains(buf.String(), `"secrets":2`) {
		t.Errorf("log line lacks the secret count: %s", buf.String())
	}
	for _, out := range outputs {
		for _, f := range forbidden {
			if strings.Contains(out, f) {
				t.Errorf("output %q reveals key material %q", out, f)
			}
		}
	}
}

func BenchmarkWebhookVerify(b *testing.B) {
	body := bytes.Repeat([]byte(`{"data":{"id":"user_x"}}`), 200)
	w := MustWebhook(b, []string{otherSecret, kaSecret}, verify.WebhookOptions{Now: fixedClock(kaTime)})
	signer := MustWebhook(b, []string{kaSecret}, verify.WebhookOptions{})
	h := svixHeaders(kaID, kaTS, "v1,"+strings.Repeat("A", 43)+"= "+signer.Sign(kaID, kaTime, body))
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := w.Verify(h, body); err != nil {
			b.Fatal(err)
		}
	}
}

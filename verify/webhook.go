package verify

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/clerkgate/clerkgate"
)

// ErrWebhookSignature is the sentinel of every webhook signature failure
// (400 webhook_signature_invalid): missing or conflicting headers, a bad or
// out-of-tolerance timestamp, no matching signature. The errors returned
// carry a Reason as well, such as "timestamp_too_old".
var ErrWebhookSignature = &Error{Code: clerkgate.CodeWebhookSignatureInvalid}

// ErrWebhookNotConfigured is the sentinel of a webhook verifier that cannot
// be built or was never built (503 webhook_not_configured): no signing
// secret, a malformed secret, a negative tolerance. Verify on a nil
// *Webhook returns it too, so a server without a secret fails closed.
var ErrWebhookNotConfigured = &Error{Code: clerkgate.CodeWebhookNotConfigured}

// DefaultWebhookTolerance is how far a webhook timestamp may lie from the
// current time, in either direction, when WebhookOptions.Tolerance is zero.
const DefaultWebhookTolerance = 5 * time.Minute

// Limits on the header values Verify accepts. Svix message ids are about 31
// bytes and one v1 signature entry is 47, so these leave ample room for
// custom ids and secret rotation while bounding the work per request.
const (
	maxWebhookIDLen        = 256
	maxWebhookTimestampLen = 19 // digits of math.MaxInt64
	maxWebhookSignatureLen = 4096
)

const (
	webhookSecretPrefix = "whsec_"
	webhookSigVersion   = "v1"
	webhookSigB64Len    = 44 // base64.StdEncoding.EncodedLen(sha256.Size)
	maxWebhookUnix      = 1 << 40
)

// The header names, canonical, in the two spellings Verify accepts.
var webhookHeaders = [3][2]string{
	{"Svix-Id", "Webhook-Id"},
	{"Svix-Timestamp", "Webhook-Timestamp"},
	{"Svix-Signature", "Webhook-Signature"},
}

// WebhookOptions configures a Webhook. The zero value is ready to use.
type WebhookOptions struct {
	// Tolerance is how far the svix-timestamp may lie from Now, in either
	// direction. Zero means DefaultWebhookTolerance; negative is an error.
	Tolerance time.Duration
	// Now returns the current time. Nil means time.Now.
	Now func() time.Time
}

// Webhook verifies the Svix signature of webhook deliveries (Clerk sends its
// webhooks through Svix) against one or more signing secrets. It is safe for
// concurrent use. Formatting or logging a Webhook never shows its secrets.
type Webhook struct {
	keys      [][]byte
	tolerance time.Duration
	now       func() time.Time
}

// NewWebhook returns a Webhook for the given signing secrets, each of the
// form "whsec_<base64>" or, as the Svix libraries also accept, the bare
// base64 part. Surrounding white space is ignored. Any of the secrets
// verifies a message; the first one signs (see Sign). An empty list or a
// malformed secret is an error matching ErrWebhookNotConfigured, which names
// the secret by position and never contains it.
func NewWebhook(secrets []string, opts WebhookOptions) (*Webhook, error) {
	if len(secrets) == 0 {
		return nil, &Error{Code: clerkgate.CodeWebhookNotConfigured, Reason: "no_secrets"}
	}
	if opts.Tolerance < 0 {
		return nil, fmt.Errorf("webhook tolerance must not be negative: %w",
			&Error{Code: clerkgate.CodeWebhookNotConfigured, Reason: "bad_tolerance"})
	}
	w := &Webhook{
		keys:      make([][]byte, 0, len(secrets)),
		tolerance: opts.Tolerance,
		now:       opts.Now,
	}
	if w.tolerance == 0 {
		w.tolerance = DefaultWebhookTolerance
	}
	if w.now == nil {
		w.now = time.Now
	}
	for i, s := range secrets {
		s = strings.TrimPrefix(strings.TrimSpace(s), webhookSecretPrefix)
		// The decode error is dropped on purpose: it is harmless today, but
		// nothing derived from the secret belongs in an error.
		key, err := base64.StdEncoding.DecodeString(s)
		if err != nil || len(key) == 0 {
			return nil, fmt.Errorf("webhook secret %d of %d is not \"whsec_\" followed by standard base64: %w",
				i+1, len(secrets), &Error{Code: clerkgate.CodeWebhookNotConfigured, Reason: "bad_secret"})
		}
		w.keys = append(w.keys, key)
	}
	return w, nil
}

// ParseSecrets splits a CLERK_WEBHOOK_SIGNING_SECRET value into its secrets.
// During a rotation the value holds several, separated by white space. An
// empty or blank value gives nil.
func ParseSecrets(s string) []string {
	f := strings.Fields(s)
	if len(f) == 0 {
		return nil
	}
	return f
}

// Verify checks the Svix signature of a delivery: header holds svix-id,
// svix-timestamp and svix-signature (or webhook-id, webhook-timestamp and
// webhook-signature), body is the raw request body, exactly as received and
// before any parsing. On success it returns the message id, the svix-id,
// which stays the same across retries and serves as the idempotency key.
//
// The timestamp must be decimal seconds within the tolerance of the current
// time. The signature header is a space-separated list of "v1,<base64>"
// entries; one matching entry under any of the secrets suffices, and entries
// of other versions are ignored. Every failure matches ErrWebhookSignature
// and carries a fixed Reason; none contains the body, a signature or a
// secret. Verify on a nil *Webhook fails with ErrWebhookNotConfigured.
func (w *Webhook) Verify(header http.Header, body []byte) (msgID string, err error) {
	if w == nil || len(w.keys) == 0 {
		return "", &Error{Code: clerkgate.CodeWebhookNotConfigured, Reason: "no_secrets"}
	}
	var vals [3]string
	for i, names := range webhookHeaders {
		v, reason := headerValue(header, names[0], names[1])
		if reason != "" {
			return "", sigError(reason)
		}
		vals[i] = v
	}
	id, tsText, sigs := vals[0], vals[1], vals[2]
	if len(id) > maxWebhookIDLen || len(tsText) > maxWebhookTimestampLen || len(sigs) > maxWebhookSignatureLen {
		return "", sigError("header_too_long")
	}
	if !validWebhookID(id) {
		return "", sigError("bad_id")
	}
	ts, ok := parseWebhookTimestamp(tsText)
	if !ok {
		return "", sigError("bad_timestamp")
	}
	// time.Unix wraps for seconds near MaxInt64; anything past the year
	// 36000 is too new whatever the clock says.
	switch d := w.now().Sub(time.Unix(ts, 0)); {
	case ts > maxWebhookUnix || d < -w.tolerance:
		return "", sigError("timestamp_too_new")
	case d > w.tolerance:
		return "", sigError("timestamp_too_old")
	}

	// One MAC per secret, computed once whatever the number of entries.
	// tsText is canonical (checked above), so it is the same string Svix
	// signs when it formats the timestamp itself.
	macs := make([][]byte, len(w.keys))
	for i, key := range w.keys {
		macs[i] = webhookMAC(key, id, tsText, body)
	}
	// Decode needs room for DecodedLen(44) = 33 bytes: 44 characters
	// without padding would decode to 33.
	var sig [webhookSigB64Len / 4 * 3]byte
	wellFormed := false
	for _, entry := range strings.Fields(sigs) {
		version, b64, ok := strings.Cut(entry, ",")
		if !ok || version != webhookSigVersion || len(b64) != webhookSigB64Len {
			continue
		}
		// Strict decoding of exactly 44 characters into exactly 32 bytes
		// admits one spelling per MAC, so comparing bytes is comparing
		// the text Svix sends.
		n, err := base64.StdEncoding.Strict().Decode(sig[:], []byte(b64))
		if err != nil || n != sha256.Size {
			continue
		}
		wellFormed = true
		for _, mac := range macs {
			if hmac.Equal(sig[:n], mac) {
				return id, nil
			}
		}
	}
	if !wellFormed {
		return "", sigError("malformed_signature")
	}
	return "", sigError("no_matching_signature")
}

// Sign returns the signature header value "v1,<base64>" for a message with
// the given id, timestamp (whole seconds) and raw body, under the first
// secret. The emulator and tests use it to sign deliveries. Sign panics on
// a Webhook without secrets (nil or the zero value).
func (w *Webhook) Sign(msgID string, ts time.Time, body []byte) string {
	mac := webhookMAC(w.keys[0], msgID, strconv.FormatInt(ts.Unix(), 10), body)
	return webhookSigVersion + "," + base64.StdEncoding.EncodeToString(mac)
}

// String describes w without its secrets.
//
// String, Format and LogValue have value receivers, unlike the other
// methods, so that a copied Webhook (fmt.Sprint(*w)) is redacted as well.
func (w Webhook) String() string {
	return fmt.Sprintf("verify.Webhook{secrets: %d, tolerance: %s}", len(w.keys), w.tolerance)
}

// Format implements fmt.Formatter so that every verb, %#v and %x included,
// prints String and never the keys.
func (w Webhook) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, w.String()) }

// LogValue implements slog.LogValuer: the number of secrets and the
// tolerance, never the secrets.
func (w Webhook) LogValue() slog.Value {
	return slog.GroupValue(
		slog.Int("secrets", len(w.keys)),
		slog.Duration("tolerance", w.tolerance),
	)
}

func webhookMAC(key []byte, id, ts string, body []byte) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(id))
	h.Write([]byte{'.'})
	h.Write([]byte(ts))
	h.Write([]byte{'.'})
	h.Write(body)
	return h.Sum(nil)
}

// headerValue returns the one value the header carries under either name.
// Repeated or doubly spelled headers are accepted only when they agree;
// empty values count as absent.
func headerValue(h http.Header, name, alt string) (string, string) {
	var v string
	for _, n := range [2]string{name, alt} {
		for _, x := range h[n] {
			switch {
			case x == "":
			case v == "":
				v = x
			case x != v:
				return "", "conflicting_headers"
			}
		}
	}
	if v == "" {
		return "", "missing_headers"
	}
	return v, ""
}

// validWebhookID reports whether id is printable ASCII without spaces, as
// Svix message ids are; it keeps control characters out of logs and stores.
func validWebhookID(id string) bool {
	for i := 0; i < len(id); i++ {
		if id[i] <= ' ' || id[i] >= 0x7f {
			return false
		}
	}
	return true
}

// parseWebhookTimestamp accepts only the canonical decimal form (digits, no
// sign, no leading zero), so the text signed is the text Svix formats.
func parseWebhookTimestamp(s string) (int64, bool) {
	if s == "" || (s[0] == '0' && len(s) > 1) {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}

func sigError(reason string) error {
	return &Error{Code: clerkgate.CodeWebhookSignatureInvalid, Reason: reason}
}

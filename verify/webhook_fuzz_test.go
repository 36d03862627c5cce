package verify_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/clerkgate/clerkgate/verify"
)

var fuzzReasons = map[string]bool{
	"missing_headers": true, "conflicting_headers": true, "header_too_long": true,
	"bad_id": true, "bad_timestamp": true, "timestamp_too_old": true, "timestamp_too_new": true,
	"malformed_signature": true, "no_matching_signature": true,
}

// FuzzWebhookVerify checks Verify against a plain restatement of the rules:
// it must never panic, must accept exactly when some "v1,<base64>" entry of
// the signature header equals the HMAC recomputed here and every header is
// well formed, and must fail with ErrWebhookSignature otherwise.
func FuzzWebhookVerify(f *testing.F) {
	f.Add([]byte(kaBody), kaID, kaTS, kaSig, false)
	f.Add([]byte(kaBody), kaID, kaTS, kaSig, true)
	f.Add([]byte(kaBody), kaID, kaTS, "v1a,xyz v1,AAAA "+kaSig, false)
	f.Add([]byte(kaBody), kaID, "1614265331", kaSig, false)
	f.Add([]byte(kaBody), kaID, "+1614265330", kaSig, false)
	f.Add([]byte(kaBody), kaID+"\x00", kaTS, kaSig, false)
	f.Add([]byte{}, "", "", "", false)
	f.Add([]byte(kaBody), kaID, kaTS, strings.Replace(kaSig, "OE=", "OF=", 1), false)
	f.Add([]byte("x"), "a.1", "2.x", "v1,", true)
	// Once a crash: 44 base64 characters without padding decode to 33 bytes.
	f.Add([]byte("0"), "0", "1614265070", "v1,"+strings.Repeat("0", 44), false)

	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(kaSecret, "whsec_"))
	if err != nil {
		f.Fatal(err)
	}
	tolerance := 5 * time.Minute
	w := MustWebhook(f, []string{otherSecret, kaSecret}, verify.WebhookOptions{Tolerance: tolerance, Now: fixedClock(kaTime)})

	f.Fuzz(func(t *testing.T, body []byte, id, ts, sig string, webhookNames bool) {
		h := http.Header{}
		prefix := "Svix-"
		if webhookNames {
			prefix = "Webhook-"
		}
		h[prefix+"Id"] = []string{id}
		h[prefix+"Timestamp"] = []string{ts}
		h[prefix+"Signature"] = []string{sig}

		gotID, err := w.Verify(h, body)

		mac := hmac.New(sha256.New, key)
		mac.Write([]byte(id + "." + ts + "."))
		mac.Write(body)
		want := "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
		n, perr := strconv.ParseInt(ts, 10, 64)
		valid := id != "" && len(id) <= 256 && !strings.ContainsFunc(id, func(r rune) bool { return r <= ' ' || r >= 0x7f }) &&
			perr == nil && strconv.FormatInt(n, 10) == ts && n >= kaTime.Unix()-300 && n <= kaTime.Unix()+300 &&
			len(sig) <= 4096 && slices.Contains(strings.Fields(sig), want)

		if err == nil {
			if !valid {
				t.Fatalf("accepted id=%q ts=%q sig=%q body=%q without a matching signature", id, ts, sig, body)
			}
			if gotID != id {
				t.Fatalf("accepted with id %q, want %q", gotID, id)
			}
			return
		}
		if valid {
			t.Fatalf("rejected a valid message id=%q ts=%q sig=%q body=%q: %v", id, ts, sig, body, err)
		}
		if gotID != "" {
			t.Fatalf("returned id %q with error %v", gotID, err)
		}
		if !errors.Is(err, verify.ErrWebhookSignature) {
			t.Fatalf("error %v does not match ErrWebhookSignature", err)
		}
		// The text is fixed by the reason, so it holds nothing of the input.
		reason := verify.Reason(err)
		if !fuzzReasons[reason] || err.Error() != "verify: webhook_signature_invalid ("+reason+")" {
			t.Fatalf("unexpected error text %q", err.Error())
		}
	})
}

package verify_test

import (
	"cmp"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/clerkgate/clerkgate"
	"github.com/clerkgate/clerkgate/verify"
)

// rejNow is the fixed moment of the rejection tests.
var rejNow = time.Unix(1_750_000_000, 0).UTC()

// rejSentinels maps each code a verification may answer to its sentinel.
var rejSentinels = map[clerkgate.Code]*verify.Error{
	clerkgate.CodeUnauthenticated:  verify.ErrNoCredentials,
	clerkgate.CodeInvalidRequest:   verify.ErrInvalidRequest,
	clerkgate.CodeTokenInvalid:     verify.ErrTokenInvalid,
	clerkgate.CodeTokenExpired:     verify.ErrTokenExpired,
	clerkgate.CodeTokenNotYetValid: verify.ErrTokenNotYetValid,
	clerkgate.CodeSessionPending:   verify.ErrSessionPending,
	clerkgate.CodeSessionRevoked:   verify.ErrSessionRevoked,
	clerkgate.CodeUnavailable:      verify.ErrUnavailable,
}

// rejFixture holds the keys and key sets the rejection cases share.
type rejFixture struct {
	now      time.Time
	key      *testKey    // kid1, RS256 in the key set
	key384   *testKey    // k384, RS384 in the key set
	attacker *testKey    // in no key set of ours
	srv      *jwksServer // the instance's key set
	evil     *jwksServer // the attacker's key set: must never be fetched
}

func newRejFixture(t *testing.T) *rejFixture {
	t.Helper()
	f := &rejFixture{
		now:      rejNow,
		key:      mustKey(t, "kid1", 0),
		attacker: mustKey(t, "attacker", 1),
		key384:   mustKey(t, "k384", 2),
	}
	f.srv = newJWKSServer(t, f.key.jwk("RS256"), f.key384.jwk("RS384"))
	f.evil = newJWKSServer(t, f.attacker.jwk("RS256"))
	// Registered after the servers, so it runs before they close and after
	// every parallel subtest.
	t.Cleanup(func() {
		if n := f.evil.hits.Load(); n != 0 {
			t.Errorf("the attacker's key set was fetched %d times; jku/x5u/jwk/x5c must never be followed", n)
		}
	})
	return f
}

// rejDel, as a value in claims or hdr, removes the member.
type rejDel struct{}

// claims returns goodClaims at f.now changed by name/value pairs.
func (f *rejFixture) claims(kv ...any) map[string]any {
	return rejWith(goodClaims(f.now), kv...)
}

// rejHdr returns the header Clerk sends for kid, changed by name/value pairs.
func rejHdr(kid string, kv ...any) map[string]any {
	return rejWith(map[string]any{"alg": "RS256", "kid": kid, "typ": "JWT"}, kv...)
}

func rejWith(m map[string]any, kv ...any) map[string]any {
	for i := 0; i+1 < len(kv); i += 2 {
		name := kv[i].(string)
		if _, del := kv[i+1].(rejDel); del {
			delete(m, name)
			continue
		}
		m[name] = kv[i+1]
	}
	return m
}

func rejJSON(tb testing.TB, v any) []byte {
	tb.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// rejJWT signs hdr and claims with k, RS256.
func rejJWT(tb testing.TB, k *testKey, hdr, claims map[string]any) string {
	tb.Helper()
	return k.signRaw(tb, rejJSON(tb, hdr), rejJSON(tb, claims), crypto.SHA256)
}

// rejSignInput signs a signing input exactly as given (for non-canonical
// segments) with PKCS#1 v1.5 and returns the whole token.
func rejSignInput(tb testing.TB, k *testKey, input string, hash crypto.Hash) string {
	tb.Helper()
	h := hash.New()
	h.Write([]byte(input))
	sig, err := rsa.SignPKCS1v15(rand.Reader, k.priv, hash, h.Sum(nil))
	if err != nil {
		tb.Fatal(err)
	}
	return input + "." + b64.EncodeToString(sig)
}

// rawPayload is a hand-written payload: the valid iss, exp, iat, then members.
func (f *rejFixture) rawPayload(members string) string {
	return fmt.Sprintf(`{"iss":%q,"exp":%d,"iat":%d,%s}`, testIssuer, f.now.Add(time.Minute).Unix(), f.now.Unix(), members)
}

// rawJWT signs a hand-written header and payload with f.key, RS256.
func (f *rejFixture) rawJWT(tb testing.TB, hdr, payload string) string {
	tb.Helper()
	return f.key.signRaw(tb, []byte(hdr), []byte(payload), crypto.SHA256)
}

// good is a valid token of f.key.
func (f *rejFixture) good(tb testing.TB) string {
	tb.Helper()
	return rejJWT(tb, f.key, rejHdr("kid1"), f.claims())
}

// rejSized returns a valid token of exactly size bytes, padded with a
// custom claim (and, to reach every length, an unknown header member).
func rejSized(tb testing.TB, k *testKey, claims map[string]any, size int) string {
	tb.Helper()
	sigLen := b64.EncodedLen(k.priv.Size())
	for hpad := 0; hpad < 4; hpad++ {
		hdr := rejHdr(k.kid)
		if hpad > 0 {
			hdr["x"] = strings.Repeat("x", hpad)
		}
		hb := rejJSON(tb, hdr)
		for n := max(0, size*3/4-1024); n < size; n++ {
			claims["pad"] = strings.Repeat("a", n)
			pb := rejJSON(tb, claims)
			l := b64.EncodedLen(len(hb)) + 1 + b64.EncodedLen(len(pb)) + 1 + sigLen
			if l == size {
				tok := k.signRaw(tb, hb, pb, crypto.SHA256)
				if len(tok) != size {
					tb.Fatalf("sized token is %d bytes, want %d", len(tok), size)
				}
				return tok
			}
			if l > size {
				break
			}
		}
	}
	tb.Fatalf("no token of %d bytes", size)
	return ""
}

// rejSelfSigned returns a DER certificate of k, as an x5c header carries it.
func rejSelfSigned(tb testing.TB, k *testKey) []byte {
	tb.Helper()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "attacker"},
		NotBefore:    rejNow.Add(-time.Hour),
		NotAfter:     rejNow.Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.priv.PublicKey, k.priv)
	if err != nil {
		tb.Fatal(err)
	}
	return der
}

// rejVerify calls fn and turns a panic into a test failure.
func rejVerify(t *testing.T, fn func() (*verify.Claims, error)) (c *verify.Claims, err error) {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			t.Errorf("panic: %v", r)
			c, err = nil, errors.New("panic")
		}
	}()
	return fn()
}

// rejCheck asserts that err carries code want (accepted when want is empty),
// through clerkgate.ErrorCode and errors.Is with the sentinels, and Reason
// when reason is not empty.
func rejCheck(t *testing.T, c *verify.Claims, err error, want clerkgate.Code, reason string) {
	t.Helper()
	if want == "" {
		if err != nil {
			t.Fatalf("rejected (%v), want accepted", err)
		}
		if c == nil {
			t.Fatal("nil claims and nil error")
		}
		return
	}
	if err == nil {
		t.Fatalf("accepted (sub %q), want %s", c.Subject, want)
	}
	if c != nil {
		t.Errorf("claims returned with an error: %+v", c)
	}
	if got := clerkgate.ErrorCode(err); got != want {
		t.Errorf("code %s (%v), want %s", got, err, want)
	}
	var ve *verify.Error
	if !errors.As(err, &ve) {
		t.Errorf("error %T is not a *verify.Error", err)
	}
	for code, sentinel := range rejSentinels {
		if is := errors.Is(err, sentinel); is != (code == want) {
			t.Errorf("errors.Is(err, sentinel %s) = %v (err %v, want %s)", code, is, err, want)
		}
	}
	if reason != "" && verify.Reason(err) != reason {
		t.Errorf("reason %q (%v), want %q", verify.Reason(err), err, reason)
	}
}

// rejCase is one token and the answer it must get.
type rejCase struct {
	name   string
	tok    func(t *testing.T, f *rejFixture) string
	static bool                    // verify with Options{JWTKey} instead of the key set
	opts   func(o *verify.Options) // changes to the options
	policy verify.Policy
	cookie bool // send in a __session cookie through VerifyRequest
	want   clerkgate.Code
	reason string // the expected Reason, when it tells two paths apart
}

func TestVerifyRejects(t *testing.T) {
	t.Parallel()
	f := newRejFixture(t)

	invalid := clerkgate.CodeTokenInvalid
	exp := func(d time.Duration) float64 { return float64(f.now.Add(d).Unix()) }
	signed := func(hdr map[string]any, claims map[string]any) func(*testing.T, *rejFixture) string {
		return func(t *testing.T, f *rejFixture) string { return rejJWT(t, f.key, hdr, claims) }
	}
	claims := func(kv ...any) func(*testing.T, *rejFixture) string {
		return signed(rejHdr("kid1"), f.claims(kv...))
	}
	raw := func(hdr, payload string) func(*testing.T, *rejFixture) string {
		return func(t *testing.T, f *rejFixture) string { return f.rawJWT(t, hdr, payload) }
	}
	rawClaims := func(members string) func(*testing.T, *rejFixture) string {
		return raw(`{"alg":"RS256","kid":"kid1","typ":"JWT"}`, f.rawPayload(members))
	}
	// noExp is a hand-written payload of the valid iss, sub and sid, then members.
	noExp := func(members string) func(*testing.T, *rejFixture) string {
		return raw(`{"alg":"RS256","kid":"kid1","typ":"JWT"}`,
			fmt.Sprintf(`{"iss":%q,"sub":"user_1","sid":"sess_1",%s}`, testIssuer, members))
	}
	literal := func(s string) func(*testing.T, *rejFixture) string {
		return func(*testing.T, *rejFixture) string { return s }
	}
	// edit changes a valid token's text.
	edit := func(fn func(tok string) string) func(*testing.T, *rejFixture) string {
		return func(t *testing.T, f *rejFixture) string { return fn(f.good(t)) }
	}
	segs := func(tok string) []string { return strings.Split(tok, ".") }
	signingInput := func(t *testing.T, f *rejFixture) string {
		tok := f.good(t)
		return tok[:strings.LastIndexByte(tok, '.')]
	}
	goodPayload := func(t *testing.T, f *rejFixture) string { return segs(f.good(t))[1] }
	denied := func(fn func(d *verify.MemoryDenyList)) func(o *verify.Options) {
		return func(o *verify.Options) {
			d := &verify.MemoryDenyList{Now: o.Now}
			fn(d)
			o.DenyList = d
		}
	}
	// The public key's own bytes, as a confused verifier would use them as
	// an HMAC secret.
	pemSecret := func(t *testing.T, f *rejFixture) []byte { return []byte(f.key.pem(t)) }
	derSecret := func(t *testing.T, f *rejFixture) []byte {
		der, err := x509.MarshalPKIXPublicKey(&f.key.priv.PublicKey)
		if err != nil {
			t.Fatal(err)
		}
		return der
	}
	algs := func(a ...string) func(o *verify.Options) {
		return func(o *verify.Options) { o.Algorithms = a }
	}

	cases := []rejCase{
		// Controls: the fixture's tokens are good.
		{name: "control/valid", tok: claims()},
		{name: "control/valid static key", tok: claims(), static: true},
		{name: "control/hand-built payload", tok: rawClaims(`"sub":"user_1","sid":"sess_1"`)},

		// Algorithms: only RS256 (or the configured RS ones), before any key lookup.
		{name: "alg/none unsigned", want: invalid, reason: "alg_not_allowed", tok: func(t *testing.T, f *rejFixture) string {
			return b64.EncodeToString(rejJSON(t, map[string]any{"alg": "none", "typ": "JWT"})) + "." + goodPayload(t, f) + "."
		}},
		{name: "alg/None with kid", want: invalid, reason: "alg_not_allowed", tok: func(t *testing.T, f *rejFixture) string {
			return b64.EncodeToString(rejJSON(t, rejHdr("kid1", "alg", "None"))) + "." + goodPayload(t, f) + "."
		}},
		{name: "alg/missing", want: invalid, reason: "alg_not_allowed", tok: signed(rejHdr("kid1", "alg", rejDel{}), f.claims())},
		{name: "alg/HS256 keyed with the PEM", want: invalid, reason: "alg_not_allowed", tok: rejHMAC(pemSecret)},
		{name: "alg/HS256 keyed with the PEM static key", static: true, want: invalid, reason: "alg_not_allowed", tok: rejHMAC(pemSecret)},
		{name: "alg/HS256 keyed with the DER", want: invalid, reason: "alg_not_allowed", tok: rejHMAC(derSecret)},
		{name: "alg/HS256 keyed with the DER static key", static: true, want: invalid, reason: "alg_not_allowed", tok: rejHMAC(derSecret)},
		{name: "alg/ES256 real P-256 signature", want: invalid, reason: "alg_not_allowed", tok: rejES256},
		{name: "alg/PS256 with the right RSA key", want: invalid, reason: "alg_not_allowed", tok: rejPSS("PS256")},
		{name: "alg/PSS signature under an RS256 header", want: invalid, reason: "bad_signature", tok: rejPSS("RS256")},
		{name: "alg/RS384 when only RS256 is configured", want: invalid, reason: "alg_not_allowed", tok: func(t *testing.T, f *rejFixture) string {
			return f.key384.signRaw(t, rejJSON(t, rejHdr("k384", "alg", "RS384")), rejJSON(t, f.claims()), crypto.SHA384)
		}},
		{name: "alg/RS384 configured and its JWK says RS384", opts: algs("RS256", "RS384"), tok: func(t *testing.T, f *rejFixture) string {
			return f.key384.signRaw(t, rejJSON(t, rejHdr("k384", "alg", "RS384")), rejJSON(t, f.claims()), crypto.SHA384)
		}},
		{name: "alg/RS512 token for an RS256 JWK", opts: algs("RS256", "RS512"), want: invalid, reason: "alg_key_mismatch", tok: func(t *testing.T, f *rejFixture) string {
			return f.key.signRaw(t, rejJSON(t, rejHdr("kid1", "alg", "RS512")), rejJSON(t, f.claims()), crypto.SHA512)
		}},
		{name: "alg/RS256 token for an RS384 JWK", opts: algs("RS256", "RS384"), want: invalid, reason: "alg_key_mismatch", tok: func(t *testing.T, f *rejFixture) string {
			return rejJWT(t, f.key384, rejHdr("k384"), f.claims())
		}},

		// Signatures.
		{name: "sig/wrong RSA key with the right kid", want: invalid, reason: "bad_signature", tok: func(t *testing.T, f *rejFixture) string {
			return rejJWT(t, mustKey(t, "kid1", 1), rejHdr("kid1"), f.claims())
		}},
		{name: "sig/wrong RSA key static", static: true, want: invalid, reason: "bad_signature", tok: func(t *testing.T, f *rejFixture) string {
			return rejJWT(t, f.attacker, rejHdr("kid1"), f.claims())
		}},
		{name: "sig/stripped", want: invalid, tok: func(t *testing.T, f *rejFixture) string { return signingInput(t, f) + "." }},
		{name: "sig/truncated", want: invalid, reason: "bad_signature", tok: edit(func(tok string) string { return tok[:len(tok)-2] })}, // 255 bytes, canonical
		{name: "sig/truncated mid-group", want: invalid, tok: edit(func(tok string) string { return tok[:len(tok)-5] })},
		{name: "sig/one bit flipped", want: invalid, reason: "bad_signature", tok: edit(func(tok string) string {
			s := segs(tok)
			sig, _ := b64.DecodeString(s[2])
			sig[len(sig)/2] ^= 1
			return s[0] + "." + s[1] + "." + b64.EncodeToString(sig)
		})},
		{name: "sig/of another token", want: invalid, reason: "bad_signature", tok: func(t *testing.T, f *rejFixture) string {
			other := segs(rejJWT(t, f.key, rejHdr("kid1"), f.claims("sub", "user_other")))
			return signingInput(t, f) + "." + other[2]
		}},
		{name: "sig/non-canonical trailing bits", want: invalid, reason: "bad_base64", tok: edit(func(tok string) string {
			const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
			last := strings.IndexByte(alphabet, tok[len(tok)-1])
			return tok[:len(tok)-1] + string(alphabet[last|1]) // same bytes to a lax decoder
		})},

		// Times, with the default leeway of 5 s.
		{name: "time/expired beyond leeway", want: clerkgate.CodeTokenExpired, tok: claims("exp", exp(-verify.DefaultLeeway-5*time.Second))},
		{name: "time/expired long ago", want: clerkgate.CodeTokenExpired, tok: claims("exp", exp(-24*time.Hour), "iat", exp(-25*time.Hour), "nbf", exp(-25*time.Hour))},
		{name: "time/expired within leeway", tok: claims("exp", exp(-verify.DefaultLeeway+2*time.Second))},
		{name: "time/nbf ahead beyond leeway", want: clerkgate.CodeTokenNotYetValid, reason: "nbf", tok: claims("nbf", exp(verify.DefaultLeeway+5*time.Second))},
		{name: "time/nbf ahead within leeway", tok: claims("nbf", exp(verify.DefaultLeeway-2*time.Second))},
		{name: "time/iat ahead beyond leeway", want: clerkgate.CodeTokenNotYetValid, reason: "iat", tok: claims("nbf", rejDel{}, "iat", exp(verify.DefaultLeeway+5*time.Second))},
		{name: "time/exp fractional", tok: claims("exp", exp(time.Minute)+0.5)},
		{name: "time/exp missing", want: invalid, reason: "missing_exp", tok: claims("exp", rejDel{})},
		{name: "time/exp null", want: invalid, tok: claims("exp", nil)},
		{name: "time/exp a string", want: invalid, reason: "bad_time_claim", tok: claims("exp", "123")},
		{name: "time/exp a numeric string in the future", want: invalid, reason: "bad_time_claim", tok: claims("exp", fmt.Sprint(f.now.Add(time.Hour).Unix()))},
		{name: "time/exp true", want: invalid, tok: claims("exp", true)},
		{name: "time/exp 1e300", want: invalid, reason: "bad_time_claim", tok: noExp(`"exp":1e300`)},
		{name: "time/exp 2^63", want: invalid, reason: "bad_time_claim", tok: noExp(`"exp":9223372036854775808`)},
		{name: "time/exp -2^63-2048", want: invalid, reason: "bad_time_claim", tok: noExp(`"exp":-9223372036854777856`)},
		{name: "time/exp 1e3 exponent form is a number", want: clerkgate.CodeTokenExpired, tok: noExp(`"exp":1e3`)},
		{name: "time/exp fractional exponent form", tok: noExp(fmt.Sprintf(`"exp":%d.25e0`, f.now.Add(time.Minute).Unix()))},
		{name: "time/nbf -1e300", want: invalid, reason: "bad_time_claim", tok: claims("nbf", -1e300)},
		{name: "time/iat a string", want: invalid, reason: "bad_time_claim", tok: claims("iat", fmt.Sprint(f.now.Unix()))},

		// Identity claims.
		{name: "claim/sub missing", want: invalid, reason: "missing_sub", tok: claims("sub", rejDel{})},
		{name: "claim/sub empty", want: invalid, reason: "missing_sub", tok: claims("sub", "")},
		{name: "claim/sub a number", want: invalid, tok: claims("sub", 123)},
		{name: "claim/sub null", want: invalid, tok: claims("sub", nil)},
		{name: "claim/sid missing", want: invalid, reason: "missing_sid", tok: claims("sid", rejDel{})},
		{name: "claim/sid empty", want: invalid, reason: "missing_sid", tok: claims("sid", "")},
		{name: "claim/sid a number", want: invalid, tok: claims("sid", 42)},
		{name: "claim/sid an object", want: invalid, tok: claims("sid", map[string]any{"id": "sess_1"})},

		// Issuer.
		{name: "iss/http", want: invalid, reason: "bad_issuer", tok: claims("iss", "http://clerk.example.com")},
		{name: "iss/clerk.com", want: invalid, reason: "bad_issuer", tok: claims("iss", "https://clerk.com")},
		{name: "iss/evil.com", want: invalid, reason: "bad_issuer", tok: claims("iss", "https://evil.com")},
		{name: "iss/with a path", want: invalid, reason: "bad_issuer", tok: claims("iss", "https://clerk.example.com/path")},
		{name: "iss/accounts.dev suffix attack", want: invalid, reason: "bad_issuer", tok: claims("iss", "https://x.clerk.accounts.dev.evil.com")},
		{name: "iss/userinfo", want: invalid, reason: "bad_issuer", tok: claims("iss", "https://evil.com@clerk.example.com")},
		{name: "iss/port", want: invalid, reason: "bad_issuer", tok: claims("iss", "https://clerk.example.com:8443")},
		{name: "iss/missing", want: invalid, reason: "bad_issuer", tok: claims("iss", rejDel{})},
		{name: "iss/a number", want: invalid, tok: claims("iss", 1)},
		{name: "iss/accounts.dev accepted", tok: claims("iss", "https://happy-hen-42.clerk.accounts.dev")},
		{name: "iss/Issuer option differs", opts: func(o *verify.Options) { o.Issuer = testIssuer }, want: invalid, reason: "bad_issuer", tok: claims("iss", "https://clerk.other.com")},
		{name: "iss/Issuer option trailing slash differs", opts: func(o *verify.Options) { o.Issuer = testIssuer }, want: invalid, reason: "bad_issuer", tok: claims("iss", testIssuer+"/")},
		{name: "iss/Issuer option equal", opts: func(o *verify.Options) { o.Issuer = testIssuer }, tok: claims()},

		// Authorized parties.
		{name: "azp/not allowed", opts: func(o *verify.Options) { o.AuthorizedParties = []string{"https://app.example.com"} }, want: invalid, reason: "bad_azp", tok: claims("azp", "https://evil.com")},
		{name: "azp/allowed", opts: func(o *verify.Options) { o.AuthorizedParties = []string{"https://app.example.com"} }, tok: claims()},
		{name: "azp/absent accepted", opts: func(o *verify.Options) { o.AuthorizedParties = []string{"https://app.example.com"} }, tok: claims("azp", rejDel{})},
		{name: "azp/any without the option", tok: claims("azp", "https://anything.example")},

		// Header members that are never followed; crit invalidates.
		{name: "hdr/crit", want: invalid, reason: "crit", tok: signed(rejHdr("kid1", "crit", []string{"exp"}), f.claims())},
		{name: "hdr/crit empty list", want: invalid, reason: "crit", tok: signed(rejHdr("kid1", "crit", []string{}), f.claims())},
		{name: "hdr/jku to the attacker's key set", want: invalid, reason: "unknown_kid", tok: func(t *testing.T, f *rejFixture) string {
			return rejJWT(t, f.attacker, rejHdr("attacker", "jku", f.evil.URL+"/.well-known/jwks.json"), f.claims())
		}},
		{name: "hdr/jku with our kid", want: invalid, reason: "bad_signature", tok: func(t *testing.T, f *rejFixture) string {
			return rejJWT(t, f.attacker, rejHdr("kid1", "jku", f.evil.URL+"/.well-known/jwks.json"), f.claims())
		}},
		{name: "hdr/x5u to the attacker", want: invalid, reason: "bad_signature", tok: func(t *testing.T, f *rejFixture) string {
			return rejJWT(t, f.attacker, rejHdr("kid1", "x5u", f.evil.URL+"/cert.pem"), f.claims())
		}},
		{name: "hdr/jwk of the attacker", want: invalid, reason: "unknown_kid", tok: func(t *testing.T, f *rejFixture) string {
			return rejJWT(t, f.attacker, rejHdr("attacker", "jwk", f.attacker.jwk("RS256")), f.claims())
		}},
		{name: "hdr/jwk of the attacker without kid", want: invalid, reason: "missing_kid", tok: func(t *testing.T, f *rejFixture) string {
			return rejJWT(t, f.attacker, rejHdr("", "kid", rejDel{}, "jwk", f.attacker.jwk("RS256")), f.claims())
		}},
		{name: "hdr/jwk of the attacker static key", static: true, want: invalid, reason: "bad_signature", tok: func(t *testing.T, f *rejFixture) string {
			return rejJWT(t, f.attacker, rejHdr("attacker", "jwk", f.attacker.jwk("RS256")), f.claims())
		}},
		{name: "hdr/x5c of the attacker", want: invalid, reason: "bad_signature", tok: func(t *testing.T, f *rejFixture) string {
			x5c := []string{base64.StdEncoding.EncodeToString(rejSelfSigned(t, f.attacker))}
			return rejJWT(t, f.attacker, rejHdr("kid1", "x5c", x5c), f.claims())
		}},
		{name: "hdr/jwk of the real key is ignored", tok: func(t *testing.T, f *rejFixture) string {
			return rejJWT(t, f.key, rejHdr("kid1", "jwk", f.key.jwk("RS256")), f.claims())
		}},
		{name: "hdr/unknown members are ignored", tok: signed(rejHdr("kid1", "cty", "x", "x-clerk", 1), f.claims())},
		{name: "hdr/typ JWS", want: invalid, reason: "bad_typ", tok: signed(rejHdr("kid1", "typ", "JWS"), f.claims())},
		{name: "hdr/typ at+jwt", want: invalid, reason: "bad_typ", tok: signed(rejHdr("kid1", "typ", "at+jwt"), f.claims())},
		{name: "hdr/typ empty", want: invalid, reason: "bad_typ", tok: signed(rejHdr("kid1", "typ", ""), f.claims())},
		{name: "hdr/typ a number", want: invalid, tok: signed(rejHdr("kid1", "typ", 1), f.claims())},
		{name: "hdr/typ absent", tok: signed(rejHdr("kid1", "typ", rejDel{}), f.claims())},
		{name: "hdr/unknown kid", want: invalid, reason: "unknown_kid", tok: signed(rejHdr("nope"), f.claims())},
		{name: "hdr/missing kid", want: invalid, reason: "missing_kid", tok: signed(rejHdr("", "kid", rejDel{}), f.claims())},
		{name: "hdr/empty kid", want: invalid, reason: "missing_kid", tok: signed(rejHdr(""), f.claims())},
		{name: "hdr/kid a number", want: invalid, tok: signed(rejHdr("", "kid", 1), f.claims())},
		{name: "hdr/missing kid static key", static: true, tok: signed(rejHdr("", "kid", rejDel{}), f.claims())},
		{name: "hdr/any kid static key", static: true, tok: signed(rejHdr("ins_anything"), f.claims())},

		// Size: at most 8 KiB, header or cookie alike.
		{name: "size/8 KiB exactly", tok: func(t *testing.T, f *rejFixture) string { return rejSized(t, f.key, f.claims(), verify.MaxTokenSize) }},
		{name: "size/8 KiB exactly in a cookie", cookie: true, tok: func(t *testing.T, f *rejFixture) string { return rejSized(t, f.key, f.claims(), verify.MaxTokenSize) }},
		{name: "size/8 KiB + 1", want: invalid, reason: "too_large", tok: func(t *testing.T, f *rejFixture) string {
			return rejSized(t, f.key, f.claims(), verify.MaxTokenSize+1)
		}},
		{name: "size/8 KiB + 1 in a cookie", cookie: true, want: invalid, reason: "too_large", tok: func(t *testing.T, f *rejFixture) string {
			return rejSized(t, f.key, f.claims(), verify.MaxTokenSize+1)
		}},
		{name: "size/64 KiB of garbage", want: invalid, reason: "too_large", tok: literal(strings.Repeat("A", 64<<10))},

		// Base64url must be canonical.
		{name: "b64/padding in the header", want: invalid, reason: "bad_base64", tok: func(t *testing.T, f *rejFixture) string {
			x := "y"
			for len(rejJSON(t, rejHdr("kid1", "x", x)))%3 == 0 {
				x += "y"
			}
			h := base64.URLEncoding.EncodeToString(rejJSON(t, rejHdr("kid1", "x", x)))
			if !strings.HasSuffix(h, "=") {
				t.Fatalf("header %s has no padding", h)
			}
			return rejSignInput(t, f.key, h+"."+goodPayload(t, f), crypto.SHA256)
		}},
		{name: "b64/padding after the signature", want: invalid, reason: "bad_base64", tok: edit(func(tok string) string { return tok + "==" })},
		{name: "b64/plus and slash in the payload", want: invalid, reason: "bad_base64", tok: func(t *testing.T, f *rejFixture) string {
			for i := 0; ; i++ {
				pb := rejJSON(t, f.claims("jti", fmt.Sprintf("jti_%d~~~?>>>", i)))
				p := base64.RawStdEncoding.EncodeToString(pb)
				if strings.ContainsAny(p, "+/") {
					return rejSignInput(t, f.key, b64.EncodeToString(rejJSON(t, rejHdr("kid1")))+"."+p, crypto.SHA256)
				}
			}
		}},
		{name: "b64/standard alphabet in the signature", want: invalid, reason: "bad_base64", tok: func(t *testing.T, f *rejFixture) string {
			for i := 0; ; i++ {
				s := segs(rejJWT(t, f.key, rejHdr("kid1"), f.claims("jti", fmt.Sprint("jti_", i))))
				if strings.ContainsAny(s[2], "-_") {
					sig := strings.NewReplacer("-", "+", "_", "/").Replace(s[2])
					return s[0] + "." + s[1] + "." + sig
				}
			}
		}},
		{name: "b64/newline inside the payload", want: invalid, reason: "bad_base64", tok: edit(func(tok string) string {
			s := segs(tok)
			return s[0] + "." + s[1][:10] + "\n" + s[1][10:] + "." + s[2]
		})},
		{name: "b64/CRLF inside the signature", want: invalid, reason: "bad_base64", tok: edit(func(tok string) string {
			s := segs(tok)
			return s[0] + "." + s[1] + "." + s[2][:76] + "\r\n" + s[2][76:]
		})},
		{name: "b64/space inside the header", want: invalid, reason: "bad_base64", tok: edit(func(tok string) string { return tok[:5] + " " + tok[5:] })},
		{name: "b64/trailing space", want: invalid, tok: edit(func(tok string) string { return tok + " " })},
		{name: "b64/leading tab", want: invalid, tok: edit(func(tok string) string { return "\t" + tok })},
		{name: "b64/trailing newline", want: invalid, tok: edit(func(tok string) string { return tok + "\n" })},
		{name: "b64/NUL byte", want: invalid, tok: edit(func(tok string) string { return tok[:20] + "\x00" + tok[20:] })},
		{name: "b64/non-ASCII", want: invalid, tok: edit(func(tok string) string { return tok[:20] + "é" + tok[20:] })},

		// Structure.
		{name: "shape/empty", want: invalid, tok: literal("")},
		{name: "shape/dots only", want: invalid, tok: literal("..")},
		{name: "shape/one segment", want: invalid, reason: "malformed", tok: edit(func(tok string) string { return segs(tok)[0] })},
		{name: "shape/two segments", want: invalid, reason: "malformed", tok: signingInput},
		{name: "shape/four segments", want: invalid, reason: "malformed", tok: edit(func(tok string) string { return tok + "." + segs(tok)[2] })},
		{name: "shape/five segments (JWE)", want: invalid, reason: "malformed", tok: edit(func(tok string) string { return tok + ".e30.e30" })},
		{name: "shape/empty header", want: invalid, tok: edit(func(tok string) string { return tok[strings.IndexByte(tok, '.'):] })},
		{name: "shape/empty payload", want: invalid, tok: edit(func(tok string) string {
			s := segs(tok)
			return s[0] + ".." + s[2]
		})},

		// JSON.
		{name: "json/bad header", want: invalid, reason: "bad_json", tok: raw(`{"alg":"RS256","kid":"kid1",`, f.rawPayload(`"sub":"user_1","sid":"sess_1"`))},
		{name: "json/header an array", want: invalid, reason: "bad_json", tok: raw(`["RS256","kid1"]`, f.rawPayload(`"sub":"user_1","sid":"sess_1"`))},
		{name: "json/header null", want: invalid, reason: "bad_json", tok: raw(`null`, f.rawPayload(`"sub":"user_1","sid":"sess_1"`))},
		{name: "json/header duplicate alg", want: invalid, reason: "duplicate_member", tok: raw(`{"alg":"RS256","alg":"RS256","kid":"kid1"}`, f.rawPayload(`"sub":"user_1","sid":"sess_1"`))},
		{name: "json/header duplicate kid by case", want: invalid, reason: "duplicate_member", tok: raw(`{"alg":"RS256","kid":"kid1","KID":"nope"}`, f.rawPayload(`"sub":"user_1","sid":"sess_1"`))},
		{name: "json/bad payload", want: invalid, reason: "bad_json", tok: raw(`{"alg":"RS256","kid":"kid1"}`, `{"sub":"user_1",`)},
		{name: "json/payload an array", want: invalid, reason: "bad_json", tok: raw(`{"alg":"RS256","kid":"kid1"}`, `[{"sub":"user_1","sid":"sess_1"}]`)},
		{name: "json/payload a string", want: invalid, reason: "bad_json", tok: raw(`{"alg":"RS256","kid":"kid1"}`, `"user_1"`)},
		{name: "json/payload followed by another", want: invalid, reason: "bad_json", tok: raw(`{"alg":"RS256","kid":"kid1"}`, f.rawPayload(`"sub":"user_1","sid":"sess_1"`)+`{}`)},
		{name: "json/payload deeply nested", want: invalid, reason: "bad_json", tok: rawClaims(`"sub":"user_1","sid":"sess_1","deep":` + strings.Repeat("[", 100) + strings.Repeat("]", 100))},
		{name: "json/duplicate sub", want: invalid, reason: "duplicate_member", tok: rawClaims(`"sub":"user_a","sid":"sess_1","sub":"user_b"`)},
		{name: "json/duplicate sub by case", want: invalid, reason: "duplicate_member", tok: rawClaims(`"sub":"user_a","sid":"sess_1","SUB":"user_b"`)},
		{name: "json/duplicate sub by escape", want: invalid, reason: "duplicate_member", tok: rawClaims(`"sub":"user_a","sid":"sess_1","s\u0075b":"user_b"`)},
		{name: "json/duplicate exp", want: invalid, reason: "duplicate_member", tok: rawClaims(fmt.Sprintf(`"sub":"user_1","sid":"sess_1","exp":%d`, f.now.Add(time.Hour).Unix()))},
		{name: "json/duplicate id inside o", want: invalid, reason: "duplicate_member", tok: rawClaims(`"sub":"user_1","sid":"sess_1","v":2,"o":{"id":"org_1","rol":"member","id":"org_2"}`)},
		{name: "json/duplicate rol by case inside o", want: invalid, reason: "duplicate_member", tok: rawClaims(`"sub":"user_1","sid":"sess_1","v":2,"o":{"id":"org_1","rol":"member","Rol":"admin"}`)},

		// Claims of the wrong JSON type.
		{name: "type/fva a string", want: invalid, reason: "bad_claims", tok: claims("fva", "1,-1")},
		{name: "type/fva fractional", want: invalid, reason: "bad_claims", tok: claims("fva", []float64{1.5, -1})},
		{name: "type/o a string", want: invalid, reason: "bad_claims", tok: claims("o", "org_1")},
		{name: "type/o.per a list", want: invalid, reason: "bad_claims", tok: claims("o", map[string]any{"id": "org_1", "per": []string{"read"}})},
		{name: "type/act a string", want: invalid, reason: "bad_claims", tok: claims("act", "user_admin")},
		{name: "type/act without sub", want: invalid, reason: "bad_claims", tok: claims("act", map[string]any{"iss": testIssuer})},
		{name: "type/v a string", want: invalid, reason: "bad_claims", tok: claims("v", "2")},
		{name: "type/v fractional", want: invalid, reason: "bad_claims", tok: claims("v", 2.5)},
		{name: "type/org_permissions a string", want: invalid, reason: "bad_claims", tok: claims("v", rejDel{}, "org_id", "org_1", "org_permissions", "org:x:read")},
		{name: "type/sts a number", want: invalid, reason: "bad_claims", tok: claims("sts", 1)},
		{name: "type/azp a list", want: invalid, reason: "bad_claims", tok: claims("azp", []string{"https://app.example.com"})},
		{name: "type/fea a list", want: invalid, reason: "bad_claims", tok: claims("fea", []string{"o:dashboard"})},

		// Session status and deny list.
		{name: "sts/pending", want: clerkgate.CodeSessionPending, tok: claims("sts", "pending")},
		{name: "sts/pending allowed by the policy", policy: verify.Policy{AllowPending: true}, tok: claims("sts", "pending")},
		{name: "sts/active", tok: claims("sts", "active")},
		{name: "deny/session", want: clerkgate.CodeSessionRevoked, opts: denied(func(d *verify.MemoryDenyList) { d.DenySession("sess_123", time.Time{}) }), tok: claims()},
		{name: "deny/user", want: clerkgate.CodeSessionRevoked, opts: denied(func(d *verify.MemoryDenyList) { d.DenyUser("user_123") }), tok: claims()},
		{name: "deny/user wins over pending allowed", want: clerkgate.CodeSessionRevoked, policy: verify.Policy{AllowPending: true}, opts: denied(func(d *verify.MemoryDenyList) { d.DenyUser("user_123") }), tok: claims("sts", "pending")},
		{name: "deny/session denial expired", opts: denied(func(d *verify.MemoryDenyList) { d.DenySession("sess_123", rejNow.Add(-time.Second)) }), tok: claims()},
		{name: "deny/another session", opts: denied(func(d *verify.MemoryDenyList) { d.DenySession("sess_other", time.Time{}) }), tok: claims()},
		{name: "deny/signature checked first", want: invalid, reason: "bad_signature", opts: denied(func(d *verify.MemoryDenyList) { d.DenyUser("user_123") }), tok: func(t *testing.T, f *rejFixture) string {
			return rejJWT(t, f.attacker, rejHdr("kid1"), f.claims())
		}},
	}

	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			clock := newClock(f.now)
			opts := verify.Options{JWKSURL: f.srv.URL, Now: clock.Now}
			if tc.static {
				opts = verify.Options{JWTKey: f.key.pem(t), Now: clock.Now}
			}
			if tc.opts != nil {
				tc.opts(&opts)
			}
			v, err := verify.New(opts)
			if err != nil {
				t.Fatal(err)
			}
			tok := tc.tok(t, f)
			verifyOnce := func() (*verify.Claims, error) {
				return v.VerifyWith(context.Background(), tok, tc.policy)
			}
			if tc.cookie {
				r := httptest.NewRequest(http.MethodGet, "/", nil)
				r.AddCookie(&http.Cookie{Name: verify.SessionCookie, Value: tok})
				if got, err := verify.TokenFromRequest(r); err != nil || got != tok {
					t.Fatalf("TokenFromRequest: %d bytes, %v; want the %d-byte token", len(got), err, len(tok))
				}
				verifyOnce = func() (*verify.Claims, error) { return v.VerifyRequest(r, tc.policy) }
			}
			c, err := rejVerify(t, verifyOnce)
			rejCheck(t, c, err, tc.want, tc.reason)
			if err != nil && len(tok) > 40 && strings.Contains(err.Error(), tok[len(tok)-40:]) {
				t.Errorf("the error quotes the token: %v", err)
			}
			// A second try gives the same answer: the cache agrees.
			c, err = rejVerify(t, verifyOnce)
			rejCheck(t, c, err, tc.want, tc.reason)
		})
	}
}

// rejHMAC returns a token signed with HS256 keyed by secret: the classic
// confusion of a verifier that lets the header pick the algorithm.
func rejHMAC(secret func(t *testing.T, f *rejFixture) []byte) func(*testing.T, *rejFixture) string {
	return func(t *testing.T, f *rejFixture) string {
		input := b64.EncodeToString(rejJSON(t, rejHdr("kid1", "alg", "HS256"))) + "." + b64.EncodeToString(rejJSON(t, f.claims()))
		m := hmac.New(sha256.New, secret(t, f))
		m.Write([]byte(input))
		return input + "." + b64.EncodeToString(m.Sum(nil))
	}
}

// rejES256 returns a token with a real ES256 signature (P-256, r||s).
func rejES256(t *testing.T, f *rejFixture) string {
	ek, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	input := b64.EncodeToString(rejJSON(t, rejHdr("kid1", "alg", "ES256"))) + "." + b64.EncodeToString(rejJSON(t, f.claims()))
	digest := sha256.Sum256([]byte(input))
	r, s, err := ecdsa.Sign(rand.Reader, ek, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return input + "." + b64.EncodeToString(sig)
}

// rejPSS returns a token signed with RSASSA-PSS by the right key, under a
// header that says alg.
func rejPSS(alg string) func(*testing.T, *rejFixture) string {
	return func(t *testing.T, f *rejFixture) string {
		input := b64.EncodeToString(rejJSON(t, rejHdr("kid1", "alg", alg))) + "." + b64.EncodeToString(rejJSON(t, f.claims()))
		digest := sha256.Sum256([]byte(input))
		sig, err := rsa.SignPSS(rand.Reader, f.key.priv, crypto.SHA256, digest[:], &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
		if err != nil {
			t.Fatal(err)
		}
		return input + "." + b64.EncodeToString(sig)
	}
}

// TestVerifyDenyListOnCachedToken denies a session or a user after its token
// was verified and cached: the next verification must fail at once, and
// undoing the denial restores it.
func TestVerifyDenyListOnCachedToken(t *testing.T) {
	t.Parallel()
	f := newRejFixture(t)
	cases := []struct {
		name  string
		deny  func(d *verify.MemoryDenyList, clock *fakeClock)
		undo  func(d *verify.MemoryDenyList, clock *fakeClock)
		stays bool // the denial lasts beyond undo
	}{
		{
			name: "session until a time",
			deny: func(d *verify.MemoryDenyList, c *fakeClock) { d.DenySession("sess_123", c.Now().Add(20*time.Second)) },
			undo: func(d *verify.MemoryDenyList, c *fakeClock) { c.Add(21 * time.Second) },
		},
		{
			name:  "session for ever",
			deny:  func(d *verify.MemoryDenyList, c *fakeClock) { d.DenySession("sess_123", time.Time{}) },
			undo:  func(d *verify.MemoryDenyList, c *fakeClock) { c.Add(21 * time.Second) },
			stays: true,
		},
		{
			name: "user",
			deny: func(d *verify.MemoryDenyList, c *fakeClock) { d.DenyUser("user_123") },
			undo: func(d *verify.MemoryDenyList, c *fakeClock) { d.AllowUser("user_123") },
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			clock := newClock(f.now)
			deny := &verify.MemoryDenyList{Now: clock.Now}
			v, err := verify.New(verify.Options{JWKSURL: f.srv.URL, Now: clock.Now, DenyList: deny})
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			tok := f.good(t)
			if _, err := v.Verify(ctx, tok); err != nil {
				t.Fatalf("first verify: %v", err)
			}
			tc.deny(deny, clock)
			before := v.Stats()
			c, err := v.Verify(ctx, tok)
			rejCheck(t, c, err, clerkgate.CodeSessionRevoked, "")
			if after := v.Stats(); after.CacheHits != before.CacheHits+1 {
				t.Errorf("stats %+v then %+v: the denial was not answered from the cache", before, after)
			}
			// Allowing pending sessions does not lift a denial.
			c, err = v.VerifyWith(ctx, tok, verify.Policy{AllowPending: true})
			rejCheck(t, c, err, clerkgate.CodeSessionRevoked, "")
			tc.undo(deny, clock)
			c, err = v.Verify(ctx, tok)
			if tc.stays {
				rejCheck(t, c, err, clerkgate.CodeSessionRevoked, "")
			} else {
				rejCheck(t, c, err, "", "")
			}
		})
	}
}

// TestVerifyClaimNamesAreExact: JSON member names are case-sensitive (RFC
// 7519 §4; SPEC §4: "sub", "sid" and "exp" must be present, the header's
// "alg" is RS256, the key is chosen by "kid"). A member whose name merely
// folds to a claim's name is another, unknown member: it must neither stand
// in for the claim nor override it.
func TestVerifyClaimNamesAreExact(t *testing.T) {
	t.Parallel()
	f := newRejFixture(t)
	exp := f.now.Add(time.Minute).Unix()
	stdHdr := `{"alg":"RS256","kid":"kid1","typ":"JWT"}`
	payload := func(members string) string {
		return fmt.Sprintf(`{"iss":%q,"exp":%d,%s}`, testIssuer, exp, members)
	}
	idOnly := fmt.Sprintf(`{"iss":%q,"sub":"user_1","sid":"sess_1",`, testIssuer)
	never := func(*verify.Claims) bool { return false }
	cases := []struct {
		name, hdr, payload string
		ok                 func(c *verify.Claims) bool // what an acceptance must show
		codes              []clerkgate.Code            // the rejections allowed
	}{
		{name: "Sub instead of sub", payload: payload(`"Sub":"user_1","sid":"sess_1"`)},
		{name: "SID instead of sid", payload: payload(`"sub":"user_1","SID":"sess_1"`)},
		{name: "EXP instead of exp", payload: idOnly + fmt.Sprintf(`"EXP":%d}`, exp)},
		{name: "ALG instead of alg", hdr: `{"ALG":"RS256","kid":"kid1"}`, payload: payload(`"sub":"user_1","sid":"sess_1"`)},
		{name: "Kid instead of kid", hdr: `{"alg":"RS256","Kid":"kid1"}`, payload: payload(`"sub":"user_1","sid":"sess_1"`)},
		{
			// U+017F LATIN SMALL LETTER LONG S: encoding/json folds it to
			// 's' when it matches names; strings.ToLower leaves it alone.
			name:    "long-s sub after sub",
			payload: payload(`"sub":"user_a","sid":"sess_1","ſub":"user_b"`),
			ok:      func(c *verify.Claims) bool { return c.Subject == "user_a" },
		},
		{
			name:    "long-s sts active after sts pending",
			payload: payload(`"sub":"user_1","sid":"sess_1","sts":"pending","ſts":"active"`),
			codes:   []clerkgate.Code{clerkgate.CodeTokenInvalid, clerkgate.CodeSessionPending},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			v, err := verify.New(verify.Options{JWKSURL: f.srv.URL, Now: newClock(f.now).Now})
			if err != nil {
				t.Fatal(err)
			}
			h := cmp.Or(tc.hdr, stdHdr)
			ok := tc.ok
			if ok == nil {
				ok = never
			}
			codes := tc.codes
			if codes == nil {
				codes = []clerkgate.Code{clerkgate.CodeTokenInvalid}
			}
			tok := f.rawJWT(t, h, tc.payload)
			c, err := rejVerify(t, func() (*verify.Claims, error) { return v.Verify(context.Background(), tok) })
			switch {
			case err == nil && !ok(c):
				t.Errorf("accepted with sub %q, sid %q, sts %q, exp %v: header %s, payload %s",
					c.Subject, c.SessionID, c.SessionStatus, c.Expiry, h, tc.payload)
			case err != nil && !slices.Contains(codes, clerkgate.ErrorCode(err)):
				t.Errorf("code %s (%v), want one of %v", clerkgate.ErrorCode(err), err, codes)
			}
		})
	}
}

// TestVerifyTimeClaimsMustBeNumbers: "exp, nbf, iat must be JSON numbers"
// (SPEC §4, Precise answers). A member that is present with null is not a
// number; jose libraries (golang-jwt, panva/jose) refuse it too.
func TestVerifyTimeClaimsMustBeNumbers(t *testing.T) {
	t.Parallel()
	f := newRejFixture(t)
	for _, name := range []string{"exp", "nbf", "iat"} {
		t.Run(name+" null", func(t *testing.T) {
			t.Parallel()
			v, err := verify.New(verify.Options{JWKSURL: f.srv.URL, Now: newClock(f.now).Now})
			if err != nil {
				t.Fatal(err)
			}
			tok := rejJWT(t, f.key, rejHdr("kid1"), f.claims(name, nil))
			c, err := rejVerify(t, func() (*verify.Claims, error) { return v.Verify(context.Background(), tok) })
			rejCheck(t, c, err, clerkgate.CodeTokenInvalid, "")
		})
	}
}

// TestVerifyExpNearInt64Max: an exp inside the int64 range of seconds is a
// valid JSON number (SPEC §4). Whatever the verifier decides, the same token
// gets the same answer every time, cached or not, and an accepted token's
// Expiry is not in the past.
func TestVerifyExpNearInt64Max(t *testing.T) {
	t.Parallel()
	f := newRejFixture(t)
	for _, exp := range []string{"253402300799", "9223372000000000000"} {
		t.Run(exp, func(t *testing.T) {
			t.Parallel()
			v, err := verify.New(verify.Options{JWKSURL: f.srv.URL, Now: newClock(f.now).Now})
			if err != nil {
				t.Fatal(err)
			}
			tok := f.rawJWT(t, `{"alg":"RS256","kid":"kid1"}`,
				fmt.Sprintf(`{"iss":%q,"sub":"user_1","sid":"sess_1","exp":%s}`, testIssuer, exp))
			var answers []string
			for range 3 {
				c, err := rejVerify(t, func() (*verify.Claims, error) { return v.Verify(context.Background(), tok) })
				if err != nil {
					answers = append(answers, string(clerkgate.ErrorCode(err)))
					continue
				}
				answers = append(answers, "accepted")
				if c.Expiry.Before(f.now) {
					t.Errorf("accepted with Expiry %v (unix %d), before now", c.Expiry, c.Expiry.Unix())
				}
			}
			if answers[0] != answers[1] || answers[1] != answers[2] {
				t.Errorf("answers %v: the cached answer differs from the first", answers)
			}
		})
	}
}

// TestVerifyClaimsDecoding checks what accepted tokens decode to: the v2
// compact organization claim (NOTES.md's worked example), v1 claims, act and
// fva.
func TestVerifyClaimsDecoding(t *testing.T) {
	t.Parallel()
	f := newRejFixture(t)
	v, err := verify.New(verify.Options{JWKSURL: f.srv.URL, Now: newClock(f.now).Now, KeepRawClaims: true})
	if err != nil {
		t.Fatal(err)
	}
	org := func(id, slug, role string, perms ...string) *verify.Org {
		return &verify.Org{ID: id, Slug: slug, Role: role, Permissions: perms}
	}
	v2org := func(fea, rol, per, fpm string) map[string]any {
		return f.claims("v", 2, "fea", fea, "o", map[string]any{"id": "org_1", "slg": "acme", "rol": rol, "per": per, "fpm": fpm})
	}
	cases := []struct {
		name   string
		claims map[string]any
		check  func(t *testing.T, c *verify.Claims)
	}{
		{
			name:   "registered claims",
			claims: f.claims("exp", float64(f.now.Add(time.Minute).Unix())+0.5, "sts", "active", "pla", "u:pro"),
			check: func(t *testing.T, c *verify.Claims) {
				want := verify.Claims{
					Issuer: testIssuer, Subject: "user_123", SessionID: "sess_123",
					AuthorizedParty: "https://app.example.com", ID: "jti_1",
					Expiry: f.now.Add(time.Minute + 500*time.Millisecond), NotBefore: f.now.Add(-5 * time.Second), IssuedAt: f.now,
					Version: 2, SessionStatus: "active", Plan: "u:pro",
				}
				got := *c
				got.FactorAge, got.Raw = nil, nil
				if !got.Expiry.Equal(want.Expiry) || !got.NotBefore.Equal(want.NotBefore) || !got.IssuedAt.Equal(want.IssuedAt) {
					t.Errorf("times exp %v nbf %v iat %v, want %v %v %v", got.Expiry, got.NotBefore, got.IssuedAt, want.Expiry, want.NotBefore, want.IssuedAt)
				}
				got.Expiry, got.NotBefore, got.IssuedAt = want.Expiry, want.NotBefore, want.IssuedAt
				if !reflect.DeepEqual(got, want) {
					t.Errorf("claims\n got %+v\nwant %+v", got, want)
				}
				if c.Org != nil || c.Actor != nil {
					t.Errorf("org %+v actor %+v, want none", c.Org, c.Actor)
				}
			},
		},
		{
			name:   "v2 worked example",
			claims: v2org("o:dashboard,o:teams", "admin", "manage,read", "3,2"),
			check: func(t *testing.T, c *verify.Claims) {
				wantOrg(t, c, org("org_1", "acme", "org:admin", "org:dashboard:manage", "org:dashboard:read", "org:teams:read"))
				if !slices.Equal(c.Features, []string{"o:dashboard", "o:teams"}) {
					t.Errorf("features %q", c.Features)
				}
			},
		},
		{
			name:   "v2 user-scoped features are not organization features",
			claims: v2org("u:x,o:dashboard", "member", "manage,read", "1"),
			check: func(t *testing.T, c *verify.Claims) {
				wantOrg(t, c, org("org_1", "acme", "org:member", "org:dashboard:manage"))
			},
		},
		{
			name:   "v2 bitmask beyond the permissions grants nothing",
			claims: v2org("o:dashboard", "member", "manage,read", "4"),
			check: func(t *testing.T, c *verify.Claims) {
				wantOrg(t, c, org("org_1", "acme", "org:member"))
			},
		},
		{
			name:   "v2 fewer masks than features",
			claims: v2org("o:dashboard,o:teams", "member", "manage,read", "2"),
			check: func(t *testing.T, c *verify.Claims) {
				wantOrg(t, c, org("org_1", "acme", "org:member", "org:dashboard:read"))
			},
		},
		{
			name:   "v2 role already prefixed",
			claims: v2org("", "org:billing", "", ""),
			check: func(t *testing.T, c *verify.Claims) {
				wantOrg(t, c, org("org_1", "acme", "org:billing"))
			},
		},
		{
			name:   "v2 without an active organization",
			claims: f.claims("v", 2, "fea", "u:x"),
			check: func(t *testing.T, c *verify.Claims) {
				wantOrg(t, c, nil)
				if c.Version != 2 {
					t.Errorf("version %d, want 2", c.Version)
				}
			},
		},
		{
			name: "v1 role without prefix",
			claims: f.claims("v", rejDel{}, "org_id", "org_9", "org_slug", "old", "org_role", "admin",
				"org_permissions", []string{"org:sys_memberships:read", "org:invoices:write"}),
			check: func(t *testing.T, c *verify.Claims) {
				wantOrg(t, c, org("org_9", "old", "org:admin", "org:sys_memberships:read", "org:invoices:write"))
				if c.Version != 1 {
					t.Errorf("version %d, want 1", c.Version)
				}
			},
		},
		{
			name:   "v1 role with prefix",
			claims: f.claims("v", 1, "org_id", "org_9", "org_slug", "old", "org_role", "org:member"),
			check: func(t *testing.T, c *verify.Claims) {
				wantOrg(t, c, org("org_9", "old", "org:member"))
			},
		},
		{
			name:   "act",
			claims: f.claims("act", map[string]any{"sub": "user_admin", "iss": "https://dashboard.clerk.com"}),
			check: func(t *testing.T, c *verify.Claims) {
				if c.Actor == nil || c.Actor.Subject != "user_admin" {
					t.Fatalf("actor %+v, want user_admin", c.Actor)
				}
				var raw map[string]string
				if err := json.Unmarshal(c.Actor.Raw, &raw); err != nil || raw["iss"] != "https://dashboard.clerk.com" {
					t.Errorf("actor raw %s (%v)", c.Actor.Raw, err)
				}
			},
		},
		{
			name:   "fva",
			claims: f.claims("fva", []int{7, -1}),
			check: func(t *testing.T, c *verify.Claims) {
				if c.FactorAge == nil || *c.FactorAge != (verify.FactorAge{First: 7, Second: -1}) {
					t.Errorf("factor age %+v, want {7 -1}", c.FactorAge)
				}
			},
		},
		{
			name:   "fva absent",
			claims: f.claims("fva", rejDel{}),
			check: func(t *testing.T, c *verify.Claims) {
				if c.FactorAge != nil {
					t.Errorf("factor age %+v, want nil", c.FactorAge)
				}
			},
		},
		{
			name:   "custom claims stay in Raw (KeepRawClaims)",
			claims: f.claims("metadata", map[string]any{"role": "admin"}),
			check: func(t *testing.T, c *verify.Claims) {
				var raw struct {
					Metadata struct{ Role string } `json:"metadata"`
				}
				if err := json.Unmarshal(c.Raw, &raw); err != nil || raw.Metadata.Role != "admin" {
					t.Errorf("raw %s (%v)", c.Raw, err)
				}
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tok := rejJWT(t, f.key, rejHdr("kid1"), tc.claims)
			c, err := rejVerify(t, func() (*verify.Claims, error) { return v.Verify(context.Background(), tok) })
			if err != nil {
				t.Fatalf("rejected: %v", err)
			}
			tc.check(t, c)
		})
	}
}

func wantOrg(t *testing.T, c *verify.Claims, want *verify.Org) {
	t.Helper()
	if want == nil || c.Org == nil {
		if want != c.Org {
			t.Errorf("org %+v, want %+v", c.Org, want)
		}
		return
	}
	got := *c.Org
	if len(got.Permissions) == 0 {
		got.Permissions = nil
	}
	if !reflect.DeepEqual(&got, want) {
		t.Errorf("org %+v, want %+v", got, *want)
	}
}

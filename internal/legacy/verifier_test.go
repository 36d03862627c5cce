package legacy_test

import (
	"crypto"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clerkgate/clerkgate"
	"github.com/clerkgate/clerkgate/internal/legacy"
	"github.com/clerkgate/clerkgate/internal/policy"
	"github.com/clerkgate/clerkgate/verify"
)

const secret = "legacy-secret-of-the-old-app-0123456789"

var (
	now    = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	sunset = time.Date(2027, 3, 31, 0, 0, 0, 0, time.UTC)
)

// rsaKey is one RSA key for the package's tests (generating one is slow).
var rsaKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

// writePEM writes pub as a PEM "PUBLIC KEY" file in a temporary directory.
func writePEM(t *testing.T, pub *rsa.PublicKey) string {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "legacy.pem")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func hsConfig() policy.Legacy {
	return policy.Legacy{Algorithm: "HS256", SecretEnv: "LEGACY_JWT_SECRET", Issuer: "my-app", UserClaim: "sub",
		Sunset: sunset, LoginPaths: []string{"/auth/login", "/auth/refresh"}, MigrationGuide: "https://example.test/migration"}
}

func getenv(name string) string {
	if name == "LEGACY_JWT_SECRET" {
		return secret
	}
	return ""
}

// clock is a settable clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

// MustHS returns an HS256 Verifier of hsConfig (changed by edit) on a clock
// at now.
func MustHS(t *testing.T, edit func(*policy.Legacy)) (*legacy.Verifier, *clock) {
	t.Helper()
	cfg := hsConfig()
	if edit != nil {
		edit(&cfg)
	}
	c := &clock{t: now}
	v, err := legacy.New(cfg, getenv, c.now)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return v, c
}

// MustRS returns an RS256 Verifier of rsaKey's public key.
func MustRS(t *testing.T, issuer string, opts ...legacy.Option) *legacy.Verifier {
	t.Helper()
	cfg := policy.Legacy{Algorithm: "RS256", PublicKeyFile: writePEM(t, &rsaKey().PublicKey), Issuer: issuer,
		UserClaim: "sub", Sunset: sunset}
	v, err := legacy.New(cfg, nil, func() time.Time { return now }, opts...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return v
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// signHS signs header and claims (JSON text) with HMAC-SHA256 and key.
func signHS(header, claims string, key []byte) string {
	in := b64([]byte(header)) + "." + b64([]byte(claims))
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(in))
	return in + "." + b64(mac.Sum(nil))
}

// signRS signs header and claims with rsaKey.
func signRS(header, claims string) string {
	in := b64([]byte(header)) + "." + b64([]byte(claims))
	sum := sha256.Sum256([]byte(in))
	sig, err := rsa.SignPKCS1v15(rand.Reader, rsaKey(), crypto.SHA256, sum[:])
	if err != nil {
		panic(err)
	}
	return in + "." + b64(sig)
}

// claims are valid claims at now for user 42, with extra members.
func claims(extra map[string]any) string {
	c := map[string]any{"sub": "42", "iss": "my-app", "iat": now.Unix() - 60, "exp": now.Unix() + 3600}
	for k, v := range extra {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	return mustJSON(c)
}

const hsHeader = `{"alg":"HS256","typ":"JWT"}`

func TestVerifyHS256(t *testing.T) {
	t.Parallel()
	v, _ := MustHS(t, nil)
	tests := []struct {
		name  string
		token string
		user  string
		code  clerkgate.Code
	}{
		{"valid", signHS(hsHeader, claims(nil), []byte(secret)), "42", ""},
		{"numeric sub", signHS(hsHeader, claims(map[string]any{"sub": 1234567890123}), []byte(secret)), "1234567890123", ""},
		{"negative numeric sub", signHS(hsHeader, `{"sub":-7,"iss":"my-app","exp":`+itoa(now.Unix()+60)+`}`, []byte(secret)), "-7", ""},
		{"no typ", signHS(`{"alg":"HS256"}`, claims(nil), []byte(secret)), "42", ""},
		{"kid is ignored", signHS(`{"alg":"HS256","kid":"old"}`, claims(nil), []byte(secret)), "42", ""},
		{"fractional times", signHS(hsHeader, `{"sub":"42","iss":"my-app","exp":`+itoa(now.Unix()+60)+`.5,"iat":`+itoa(now.Unix())+`.25}`, []byte(secret)), "42", ""},
		{"expired within leeway", signHS(hsHeader, claims(map[string]any{"exp": now.Unix() - 4}), []byte(secret)), "42", ""},
		{"iat ahead within leeway", signHS(hsHeader, claims(map[string]any{"iat": now.Unix() + 4}), []byte(secret)), "42", ""},

		{"wrong secret", signHS(hsHeader, claims(nil), []byte("another secret")), "", clerkgate.CodeTokenInvalid},
		{"tampered payload", tamper(signHS(hsHeader, claims(nil), []byte(secret)), claims(map[string]any{"sub": "1"})), "", clerkgate.CodeTokenInvalid},
		{"alg none", b64([]byte(`{"alg":"none"}`)) + "." + b64([]byte(claims(nil))) + ".", "", clerkgate.CodeTokenInvalid},
		{"alg none with a signature", signHS(`{"alg":"none"}`, claims(nil), []byte(secret)), "", clerkgate.CodeTokenInvalid},
		{"alg HS512", signHS(`{"alg":"HS512"}`, claims(nil), []byte(secret)), "", clerkgate.CodeTokenInvalid},
		{"alg lower case", signHS(`{"alg":"hs256"}`, claims(nil), []byte(secret)), "", clerkgate.CodeTokenInvalid},
		{"RS256 token", signRS(`{"alg":"RS256"}`, claims(nil)), "", clerkgate.CodeTokenInvalid},
		{"crit", signHS(`{"alg":"HS256","crit":["exp"]}`, claims(nil), []byte(secret)), "", clerkgate.CodeTokenInvalid},
		{"typ not JWT", signHS(`{"alg":"HS256","typ":"at+jwt"}`, claims(nil), []byte(secret)), "", clerkgate.CodeTokenInvalid},
		{"repeated header member", signHS(`{"alg":"HS256","alg":"HS256"}`, claims(nil), []byte(secret)), "", clerkgate.CodeTokenInvalid},
		{"repeated claim", signHS(hsHeader, `{"sub":"42","sub":"1","iss":"my-app","exp":`+itoa(now.Unix()+60)+`}`, []byte(secret)), "", clerkgate.CodeTokenInvalid},
		{"repeated nested member", signHS(hsHeader, `{"sub":"42","iss":"my-app","exp":`+itoa(now.Unix()+60)+`,"x":{"a":1,"a":2}}`, []byte(secret)), "", clerkgate.CodeTokenInvalid},
		{"claims not an object", signHS(hsHeader, `["sub"]`, []byte(secret)), "", clerkgate.CodeTokenInvalid},
		{"claims with trailing data", signHS(hsHeader, claims(nil)+`{}`, []byte(secret)), "", clerkgate.CodeTokenInvalid},
		{"expired", signHS(hsHeader, claims(map[string]any{"exp": now.Unix() - 6}), []byte(secret)), "", clerkgate.CodeTokenExpired},
		{"no exp", signHS(hsHeader, claims(map[string]any{"exp": nil}), []byte(secret)), "", clerkgate.CodeTokenInvalid},
		{"exp a string", signHS(hsHeader, claims(map[string]any{"exp": "2099-01-01"}), []byte(secret)), "", clerkgate.CodeTokenInvalid},
		{"exp beyond int64", signHS(hsHeader, `{"sub":"42","iss":"my-app","exp":1e300}`, []byte(secret)), "", clerkgate.CodeTokenInvalid},
		{"nbf ahead", signHS(hsHeader, claims(map[string]any{"nbf": now.Unix() + 60}), []byte(secret)), "", clerkgate.CodeTokenNotYetValid},
		{"iat ahead", signHS(hsHeader, claims(map[string]any{"iat": now.Unix() + 60}), []byte(secret)), "", clerkgate.CodeTokenNotYetValid},
		{"wrong issuer", signHS(hsHeader, claims(map[string]any{"iss": "other-app"}), []byte(secret)), "", clerkgate.CodeTokenInvalid},
		{"no issuer", signHS(hsHeader, claims(map[string]any{"iss": nil}), []byte(secret)), "", clerkgate.CodeTokenInvalid},
		{"no sub", signHS(hsHeader, claims(map[string]any{"sub": nil}), []byte(secret)), "", clerkgate.CodeTokenInvalid},
		{"empty sub", signHS(hsHeader, claims(map[string]any{"sub": ""}), []byte(secret)), "", clerkgate.CodeTokenInvalid},
		{"fractional sub", signHS(hsHeader, claims(map[string]any{"sub": 4.5}), []byte(secret)), "", clerkgate.CodeTokenInvalid},
		{"exponent sub", signHS(hsHeader, `{"sub":1e3,"iss":"my-app","exp":`+itoa(now.Unix()+60)+`}`, []byte(secret)), "", clerkgate.CodeTokenInvalid},
		{"object sub", signHS(hsHeader, claims(map[string]any{"sub": map[string]any{"id": 1}}), []byte(secret)), "", clerkgate.CodeTokenInvalid},
		{"bool sub", signHS(hsHeader, claims(map[string]any{"sub": true}), []byte(secret)), "", clerkgate.CodeTokenInvalid},
		{"control character in sub", signHS(hsHeader, claims(map[string]any{"sub": "4\n2"}), []byte(secret)), "", clerkgate.CodeTokenInvalid},
		{"padded base64", pad(signHS(hsHeader, claims(nil), []byte(secret))), "", clerkgate.CodeTokenInvalid},
		{"four segments", signHS(hsHeader, claims(nil), []byte(secret)) + ".x", "", clerkgate.CodeTokenInvalid},
		{"two segments", "eyJhbGciOiJIUzI1NiJ9.e30", "", clerkgate.CodeTokenInvalid},
		{"empty", "", "", clerkgate.CodeTokenInvalid},
		{"too large", signHS(hsHeader, claims(map[string]any{"pad": strings.Repeat("x", 8<<10)}), []byte(secret)), "", clerkgate.CodeTokenInvalid},
		{"not base64", "a!b.c.d", "", clerkgate.CodeTokenInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			user, err := v.VerifyLegacy(t.Context(), tc.token)
			if tc.code == "" {
				if err != nil || user != tc.user {
					t.Fatalf("VerifyLegacy = %q, %v; want %q", user, err, tc.user)
				}
				return
			}
			if code := clerkgate.ErrorCode(err); code != tc.code || user != "" {
				t.Fatalf("VerifyLegacy = %q, %v (code %q); want code %q", user, err, code, tc.code)
			}
			noSecrets(t, err, tc.token)
		})
	}
}

// noSecrets fails t when err shows the token, a part of it or the secret.
func noSecrets(t *testing.T, err error, token string) {
	t.Helper()
	msg := err.Error() + " " + clerkgate.ErrorMessage(err)
	if strings.Contains(msg, secret) {
		t.Errorf("error %q shows the secret", msg)
	}
	for _, part := range strings.Split(token, ".") {
		if len(part) > 8 && strings.Contains(msg, part) {
			t.Errorf("error %q shows a part of the token", msg)
		}
	}
}

func itoa(n int64) string { return json.Number(mustJSON(n)).String() }

// tamper replaces the payload of token by claims, keeping its signature.
func tamper(token, claims string) string {
	parts := strings.Split(token, ".")
	return parts[0] + "." + b64([]byte(claims)) + "." + parts[2]
}

// pad gives the signature base64 padding, which canonical base64url has not.
func pad(token string) string {
	parts := strings.Split(token, ".")
	return parts[0] + "." + parts[1] + "." + base64.URLEncoding.EncodeToString(mustDecode(parts[2]))
}

func mustDecode(s string) []byte {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

func TestUserClaim(t *testing.T) {
	t.Parallel()
	v, _ := MustHS(t, func(l *policy.Legacy) { l.UserClaim = "uid"; l.Issuer = "" })
	tok := signHS(hsHeader, claims(map[string]any{"uid": "usr_legacy_7", "iss": nil}), []byte(secret))
	if user, err := v.VerifyLegacy(t.Context(), tok); err != nil || user != "usr_legacy_7" {
		t.Fatalf("VerifyLegacy = %q, %v; want usr_legacy_7 from uid", user, err)
	}
	// sub alone does not do when another claim is configured.
	tok = signHS(hsHeader, claims(nil), []byte(secret))
	if _, err := v.VerifyLegacy(t.Context(), tok); clerkgate.ErrorCode(err) != clerkgate.CodeTokenInvalid {
		t.Fatalf("token without uid: %v, want token_invalid", err)
	}
	// Without a configured issuer any iss is accepted.
	tok = signHS(hsHeader, claims(map[string]any{"uid": 9, "iss": "anything"}), []byte(secret))
	if user, err := v.VerifyLegacy(t.Context(), tok); err != nil || user != "9" {
		t.Fatalf("VerifyLegacy = %q, %v; want 9", user, err)
	}
}

func TestSunset(t *testing.T) {
	t.Parallel()
	v, c := MustHS(t, nil)
	valid := func() string {
		n := c.now()
		return signHS(hsHeader, claims(map[string]any{"iat": n.Unix(), "exp": n.Unix() + 3600}), []byte(secret))
	}
	if v.SunsetPassed() {
		t.Fatal("sunset passed before it")
	}
	c.set(sunset.Add(-time.Millisecond))
	if _, err := v.VerifyLegacy(t.Context(), valid()); err != nil {
		t.Fatalf("a millisecond before the sunset: %v", err)
	}
	c.set(sunset)
	for name, tok := range map[string]string{"valid": valid(), "forged": signHS(hsHeader, claims(nil), []byte("x")), "garbage": "x"} {
		_, err := v.VerifyLegacy(t.Context(), tok)
		if !errors.Is(err, legacy.ErrSunset) || clerkgate.ErrorCode(err) != clerkgate.CodeLegacyTokenSunset ||
			clerkgate.CodeLegacyTokenSunset.Status() != http.StatusUnauthorized {
			t.Errorf("%s token at the sunset: %v, want legacy_token_sunset", name, err)
		}
	}
	if !v.SunsetPassed() {
		t.Error("SunsetPassed is false at the sunset")
	}
}

func TestIsLegacyHS256(t *testing.T) {
	t.Parallel()
	v, _ := MustHS(t, nil)
	clerkToken := signRS(`{"alg":"RS256","kid":"ins_1","typ":"JWT"}`, `{"sub":"user_1","iss":"https://clerk.example.com"}`)
	for tok, want := range map[string]bool{
		signHS(hsHeader, claims(nil), []byte(secret)):   true,
		signHS(hsHeader, claims(nil), []byte("forged")): true, // legacy, and refused by VerifyLegacy
		clerkToken: false,
		signHS(`{"alg":"none"}`, claims(nil), []byte(secret)):  false,
		signHS(`{"alg":"HS384"}`, claims(nil), []byte(secret)): false,
		"not.a.token":                       false,
		"":                                  false,
		"a.b":                               false,
		b64([]byte(`{"alg":`)) + ".e30.sig": false,
	} {
		if got := v.IsLegacy(tok); got != want {
			t.Errorf("IsLegacy(%.40s...) = %t, want %t", tok, got, want)
		}
	}
}

func TestRS256(t *testing.T) {
	t.Parallel()
	v := MustRS(t, "https://legacy.example.test", legacy.WithClerkKeyIDs(func(kid string) bool { return kid == "ins_clerk" }))
	c := claims(map[string]any{"iss": "https://legacy.example.test"})
	tok := signRS(`{"alg":"RS256","typ":"JWT"}`, c)
	if !v.IsLegacy(tok) {
		t.Error("a legacy RS256 token is not taken for legacy")
	}
	if user, err := v.VerifyLegacy(t.Context(), tok); err != nil || user != "42" {
		t.Fatalf("VerifyLegacy = %q, %v", user, err)
	}

	// Algorithm confusion: an HS256 token whose HMAC key is the RSA public
	// key, in every form a confused library might use.
	pemKey, _ := os.ReadFile(writePEM(t, &rsaKey().PublicKey))
	der, _ := x509.MarshalPKIXPublicKey(&rsaKey().PublicKey)
	for name, key := range map[string][]byte{"PEM": pemKey, "DER": der, "modulus": rsaKey().PublicKey.N.Bytes()} {
		forged := signHS(hsHeader, c, key)
		if v.IsLegacy(forged) {
			t.Errorf("%s: an HS256 token is taken for legacy under RS256", name)
		}
		if _, err := v.VerifyLegacy(t.Context(), forged); verify.Reason(err) != "legacy_alg_not_allowed" {
			t.Errorf("%s: HS256 token with the public key as secret: %v, want alg_not_allowed", name, err)
		}
	}
	// A signature by another key.
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	in := b64([]byte(`{"alg":"RS256"}`)) + "." + b64([]byte(c))
	sum := sha256.Sum256([]byte(in))
	sig, _ := rsa.SignPKCS1v15(rand.Reader, other, crypto.SHA256, sum[:])
	if _, err := v.VerifyLegacy(t.Context(), in+"."+b64(sig)); verify.Reason(err) != "legacy_bad_signature" {
		t.Errorf("another key's signature: %v", err)
	}
	// A truncated signature.
	if _, err := v.VerifyLegacy(t.Context(), in+"."+b64(sig[:100])); clerkgate.ErrorCode(err) != clerkgate.CodeTokenInvalid {
		t.Errorf("a truncated signature: %v", err)
	}

	for name, tc := range map[string]struct {
		token string
		want  bool
	}{
		"Clerk token":                  {signRS(`{"alg":"RS256","kid":"ins_clerk"}`, `{"iss":"https://clerk.example.com"}`), false},
		"Clerk kid, legacy issuer":     {signRS(`{"alg":"RS256","kid":"ins_clerk"}`, c), false},
		"other kid, legacy issuer":     {signRS(`{"alg":"RS256","kid":"legacy-1"}`, c), true},
		"no kid, another issuer":       {signRS(`{"alg":"RS256"}`, `{"iss":"https://clerk.example.com"}`), false},
		"no kid, no issuer":            {signRS(`{"alg":"RS256"}`, `{"sub":"1"}`), false},
		"RS384 with the legacy issuer": {signRS(`{"alg":"RS384"}`, c), false},
		"payload not JSON":             {b64([]byte(`{"alg":"RS256"}`)) + "." + b64([]byte("x")) + ".sig", false},
	} {
		if got := v.IsLegacy(tc.token); got != tc.want {
			t.Errorf("%s: IsLegacy = %t, want %t", name, got, tc.want)
		}
	}

	// Without a configured issuer, any iss without a Clerk shape is legacy.
	open := MustRS(t, "")
	for iss, want := range map[string]bool{"": true, "my-app": true, "https://clerk.example.com": false,
		"https://happy-cat-1.clerk.accounts.dev": false, "https://clerk.test.emulator": false} {
		cl := `{"sub":"1"}`
		if iss != "" {
			cl = mustJSON(map[string]string{"sub": "1", "iss": iss})
		}
		if got := open.IsLegacy(signRS(`{"alg":"RS256","kid":"k"}`, cl)); got != want {
			t.Errorf("no issuer configured, iss %q: IsLegacy = %t, want %t", iss, got, want)
		}
	}
}

func TestNewErrors(t *testing.T) {
	t.Parallel()
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	garbage := filepath.Join(t.TempDir(), "garbage.pem")
	os.WriteFile(garbage, []byte("-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----\n"), 0o600)
	for name, tc := range map[string]struct {
		cfg  policy.Legacy
		want string
	}{
		"HS256 secret unset":  {policy.Legacy{Algorithm: "HS256", SecretEnv: "UNSET", Sunset: sunset}, "UNSET"},
		"HS256 no secret_env": {policy.Legacy{Algorithm: "HS256", Sunset: sunset}, "secret_env"},
		"no sunset":           {policy.Legacy{Algorithm: "HS256", SecretEnv: "LEGACY_JWT_SECRET"}, "sunset"},
		"alg none":            {policy.Legacy{Algorithm: "none", Sunset: sunset}, "HS256 or RS256"},
		"RS256 no file":       {policy.Legacy{Algorithm: "RS256", Sunset: sunset}, "public_key_file"},
		"RS256 missing file":  {policy.Legacy{Algorithm: "RS256", PublicKeyFile: filepath.Join(t.TempDir(), "none.pem"), Sunset: sunset}, "public_key_file"},
		"RS256 garbage":       {policy.Legacy{Algorithm: "RS256", PublicKeyFile: garbage, Sunset: sunset}, "garbage.pem"},
		"RS256 small key":     {policy.Legacy{Algorithm: "RS256", PublicKeyFile: writePEM(t, &small.PublicKey), Sunset: sunset}, "1024 bits"},
		"bad guide": {policy.Legacy{Algorithm: "HS256", SecretEnv: "LEGACY_JWT_SECRET", Sunset: sunset,
			MigrationGuide: "ftp://x"}, "migration_guide"},
	} {
		v, err := legacy.New(tc.cfg, getenv, nil)
		if err == nil || v != nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: New = %v, %v; want an error naming %q", name, v, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), secret) {
			t.Errorf("%s: error %q shows the secret", name, err)
		}
	}
}

func TestLeeway(t *testing.T) {
	t.Parallel()
	cfg := hsConfig()
	v, err := legacy.New(cfg, getenv, func() time.Time { return now }, legacy.WithLeeway(-1))
	if err != nil {
		t.Fatal(err)
	}
	tok := signHS(hsHeader, claims(map[string]any{"exp": now.Unix() - 1}), []byte(secret))
	if _, err := v.VerifyLegacy(t.Context(), tok); clerkgate.ErrorCode(err) != clerkgate.CodeTokenExpired {
		t.Errorf("no leeway, exp a second ago: %v", err)
	}
	v, _ = legacy.New(cfg, getenv, func() time.Time { return now }, legacy.WithLeeway(time.Minute))
	if _, err := v.VerifyLegacy(t.Context(), tok); err != nil {
		t.Errorf("a minute of leeway, exp a second ago: %v", err)
	}
}

func TestDeprecationHeaders(t *testing.T) {
	t.Parallel()
	v, _ := MustHS(t, nil)
	h := http.Header{}
	v.DeprecationHeaders(h)
	if got := h.Get("Deprecation"); got != "true" {
		t.Errorf("Deprecation = %q", got)
	}
	if got := h.Get("Sunset"); got != "Wed, 31 Mar 2027 00:00:00 GMT" {
		t.Errorf("Sunset = %q", got)
	}
	if got := h.Get("Link"); got != `<https://example.test/migration>; rel="deprecation", <https://example.test/migration>; rel="sunset"` {
		t.Errorf("Link = %q", got)
	}
	// Without a guide the Link names the default one (SPEC §8: legacy
	// responses always carry a Link); a guide is escaped for the header.
	v, _ = MustHS(t, func(l *policy.Legacy) { l.MigrationGuide = "" })
	h = http.Header{}
	v.DeprecationHeaders(h)
	if got, want := h.Get("Link"), "<"+legacy.DefaultMigrationGuide+`>; rel="deprecation", <`+legacy.DefaultMigrationGuide+`>; rel="sunset"`; got != want {
		t.Errorf("Link without a guide: %q, want %q", got, want)
	}
	v, _ = MustHS(t, func(l *policy.Legacy) { l.MigrationGuide = "https://example.test/a b>c" })
	h = http.Header{}
	v.DeprecationHeaders(h)
	if got := h.Get("Link"); strings.Contains(got, " b") || strings.Contains(got, "b>") {
		t.Errorf("Link with an unescaped guide: %q", got)
	}
	if !v.IsLoginPath("/auth/login") || !v.IsLoginPath("/auth/refresh") || v.IsLoginPath("/auth/me") {
		t.Errorf("login paths %v", v.LoginPaths())
	}
}

func TestSampler(t *testing.T) {
	t.Parallel()
	s := &legacy.Sampler{Every: time.Hour, Max: 3}
	at := now
	step := func(user string, d time.Duration) (bool, int) {
		at = at.Add(d)
		return s.Sample(user, at)
	}
	if rec, n := step("u1", 0); !rec || n != 0 {
		t.Fatalf("first use: %t %d", rec, n)
	}
	for range 5 {
		if rec, _ := step("u1", time.Minute); rec {
			t.Fatal("a use within the hour is recorded")
		}
	}
	if rec, _ := step("u2", 0); !rec {
		t.Fatal("another user's first use is not recorded")
	}
	if rec, n := step("u1", time.Hour); !rec || n != 5 {
		t.Fatalf("the first use of the next hour: %t, %d skipped; want true, 5", rec, n)
	}
	// Full: new users are still recorded.
	for _, u := range []string{"u3", "u4", "u5", "u6"} {
		if rec, _ := step(u, time.Second); !rec {
			t.Fatalf("%s on a full sampler is not recorded", u)
		}
	}
	var zero legacy.Sampler
	if rec, _ := zero.Sample("x", now); !rec {
		t.Fatal("the zero Sampler does not record a first use")
	}
	if rec, _ := zero.Sample("x", now.Add(59*time.Minute)); rec {
		t.Fatal("the zero Sampler records twice within an hour")
	}
}

func FuzzVerifyLegacy(f *testing.F) {
	f.Add(signHS(hsHeader, claims(nil), []byte(secret)))
	f.Add(signHS(hsHeader, `{"sub":1,"exp":1e999}`, []byte(secret)))
	f.Add("e30.e30.e30")
	cfg := hsConfig()
	v, err := legacy.New(cfg, getenv, func() time.Time { return now })
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, tok string) {
		user, err := v.VerifyLegacy(t.Context(), tok)
		if err == nil && user == "" {
			t.Fatal("no error and no user")
		}
		if err != nil {
			if code := clerkgate.ErrorCode(err); code == clerkgate.CodeInternal {
				t.Fatalf("internal error: %v", err)
			}
		}
		v.IsLegacy(tok)
	})
}

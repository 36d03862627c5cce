package clerkemu_test

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"math/big"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/clerk/clerk-sdk-go/v2"
	"github.com/clerk/clerk-sdk-go/v2/jwks"
	"github.com/clerk/clerk-sdk-go/v2/jwt"

	"github.com/clerkgate/clerkgate/clerkemu"
)

func TestJWKS(t *testing.T) {
	t.Parallel()
	e := newEnv(t, clerkemu.Options{})
	var set struct {
		Keys []map[string]string `json:"keys"`
	}
	e.do(t, "GET", "/v1/jwks", "").decode(t, &set)
	if len(set.Keys) != 1 {
		t.Fatalf("keys %v", set.Keys)
	}
	k := set.Keys[0]
	if k["kty"] != "RSA" || k["alg"] != "RS256" || k["use"] != "sig" || k["e"] != "AQAB" || k["kid"] != e.srv.KeyID() {
		t.Errorf("key %v", k)
	}
	n, err := base64.RawURLEncoding.DecodeString(k["n"])
	if err != nil || len(n) != 256 {
		t.Fatalf("n: %d bytes, %v", len(n), err)
	}
	block, _ := pem.Decode([]byte(e.srv.PublicKeyPEM()))
	if block == nil || block.Type != "PUBLIC KEY" {
		t.Fatalf("PEM %q", e.srv.PublicKeyPEM())
	}
	pub, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if rk := pub.(*rsa.PublicKey); rk.N.Cmp(new(big.Int).SetBytes(n)) != 0 || rk.E != 65537 {
		t.Error("PEM and JWKS disagree")
	}
	// The SDK parses the set into usable keys.
	sdkSet, err := e.jwks.Get(ctx(), &jwks.GetParams{})
	if err != nil || len(sdkSet.Keys) != 1 || sdkSet.Keys[0].Algorithm != "RS256" {
		t.Fatalf("sdk jwks: %v %+v", err, sdkSet)
	}
	if _, ok := sdkSet.Keys[0].Key.(*rsa.PublicKey); !ok {
		t.Errorf("sdk key %T", sdkSet.Keys[0].Key)
	}
}

func TestRotateKey(t *testing.T) {
	t.Parallel()
	e := newEnv(t, clerkemu.Options{})
	u, _ := e.srv.CreateUser(clerkemu.UserParams{})
	s, _ := e.srv.CreateSession(u.ID, "")
	oldKid := e.srv.KeyID()
	oldTok, _ := e.srv.SessionToken(s.ID, time.Hour)

	kid, err := e.srv.RotateKey(true)
	if err != nil {
		t.Fatal(err)
	}
	if kid == oldKid || e.srv.KeyID() != kid {
		t.Fatalf("kid %s, old %s, current %s", kid, oldKid, e.srv.KeyID())
	}
	if got := kids(t, e); !reflect.DeepEqual(got, []string{kid, oldKid}) {
		t.Errorf("JWKS kids %v, want new then old", got)
	}
	newTok, _ := e.srv.SessionToken(s.ID, time.Hour)
	if h, _ := decodeJWT(t, newTok); h["kid"] != kid {
		t.Errorf("new token kid %v", h["kid"])
	}
	for _, tok := range []string{oldTok, newTok} {
		h, _ := decodeJWT(t, tok)
		if _, err := jwt.Verify(ctx(), &jwt.VerifyParams{Token: tok, JWK: e.fetchKey(t, h["kid"].(string))}); err != nil {
			t.Errorf("verify with kid %v: %v", h["kid"], err)
		}
	}
	// A key signed by the other key does not verify.
	if _, err := jwt.Verify(ctx(), &jwt.VerifyParams{Token: oldTok, JWK: e.fetchKey(t, kid)}); err == nil {
		t.Error("old token verified with the new key")
	}

	third, err := e.srv.RotateKey(false)
	if err != nil {
		t.Fatal(err)
	}
	if got := kids(t, e); !reflect.DeepEqual(got, []string{third}) {
		t.Errorf("JWKS kids %v after rotation without keepOld", got)
	}
}

func kids(t *testing.T, e *env) []string {
	t.Helper()
	set, err := e.jwks.Get(ctx(), &jwks.GetParams{})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, k := range set.Keys {
		out = append(out, k.KeyID)
	}
	return out
}

func TestSign(t *testing.T) {
	t.Parallel()
	e := newEnv(t, clerkemu.Options{})
	key, err := clerk.JSONWebKeyFromPEM(e.srv.PublicKeyPEM())
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().Unix()
	tests := []struct {
		name       string
		claims     map[string]any
		header     map[string]any
		wantHeader map[string]any
		verifies   bool
	}{
		{"valid claims", map[string]any{"sub": "user_1", "sid": "sess_1", "iss": e.srv.Issuer(), "iat": now, "exp": now + 60},
			nil, map[string]any{"alg": "RS256", "kid": e.srv.KeyID(), "typ": "JWT"}, true},
		{"expired", map[string]any{"sub": "user_1", "iss": e.srv.Issuer(), "iat": now - 120, "exp": now - 60},
			nil, map[string]any{"alg": "RS256", "kid": e.srv.KeyID(), "typ": "JWT"}, false},
		{"foreign issuer", map[string]any{"sub": "user_1", "iss": "https://evil.example", "exp": now + 60},
			nil, map[string]any{"alg": "RS256", "kid": e.srv.KeyID(), "typ": "JWT"}, false},
		{"header overrides", map[string]any{"sub": "user_1"},
			map[string]any{"kid": nil, "typ": "at+jwt", "jku": "https://evil.example/jwks"},
			map[string]any{"alg": "RS256", "typ": "at+jwt", "jku": "https://evil.example/jwks"}, false},
		{"alg none claimed", map[string]any{"sub": "user_1"}, map[string]any{"alg": "none"},
			map[string]any{"alg": "none", "kid": e.srv.KeyID(), "typ": "JWT"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok, err := e.srv.Sign(tt.claims, tt.header)
			if err != nil {
				t.Fatal(err)
			}
			h, c := decodeJWT(t, tok)
			if !reflect.DeepEqual(h, tt.wantHeader) {
				t.Errorf("header %v, want %v", h, tt.wantHeader)
			}
			if c["sub"] != tt.claims["sub"] {
				t.Errorf("claims %v", c)
			}
			_, err = jwt.Verify(ctx(), &jwt.VerifyParams{Token: tok, JWK: key})
			if (err == nil) != tt.verifies {
				t.Errorf("verify: %v, want success %v", err, tt.verifies)
			}
		})
	}
}

func TestNewValidatesOptions(t *testing.T) {
	t.Parallel()
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	for name, opts := range map[string]clerkemu.Options{
		"small key":    {SigningKey: small},
		"negative ttl": {TokenTTL: -time.Second, SigningKey: testKey()},
		"spaced key":   {SecretKey: "sk_test_a b", SigningKey: testKey()},
	} {
		if _, err := clerkemu.New(opts); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	e, err := clerkemu.New(clerkemu.Options{SigningKey: testKey()})
	if err != nil {
		t.Fatal(err)
	}
	if len(e.SecretKey()) < 40 || e.SecretKey()[:8] != "sk_test_" || e.Issuer() != "https://clerk.clerkgate.emulator" {
		t.Errorf("defaults: key %d chars, issuer %q", len(e.SecretKey()), e.Issuer())
	}
	e2, _ := clerkemu.New(clerkemu.Options{Name: "acme", SigningKey: testKey()})
	if e2.Issuer() != "https://clerk.acme.emulator" || e2.SecretKey() == e.SecretKey() {
		t.Errorf("issuer %q", e2.Issuer())
	}
}

func TestStart(t *testing.T) {
	t.Parallel()
	srv := clerkemu.Start(t, clerkemu.Options{SigningKey: testKey()})
	if !strings.HasPrefix(srv.URL, "http://127.0.0.1:") || srv.APIURL != srv.URL+"/v1" {
		t.Errorf("URL %q APIURL %q", srv.URL, srv.APIURL)
	}
	srv.Close()
	srv.Close() // twice is fine, and so is the cleanup's third time
	if _, err := http.Get(srv.APIURL + "/jwks"); err == nil {
		t.Error("server still answers after Close")
	}
}

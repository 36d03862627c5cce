package verify_test

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// testKey is an RSA key with a kid, for signing test tokens.
type testKey struct {
	kid  string
	priv *rsa.PrivateKey
}

var (
	keyPoolMu sync.Mutex
	keyPool   []*rsa.PrivateKey
)

// mustKey returns an RSA-2048 key; generated keys are reused across tests
// of the binary, in order, so that each test that asks for two gets two.
func mustKey(tb testing.TB, kid string, i int) *testKey {
	tb.Helper()
	keyPoolMu.Lock()
	defer keyPoolMu.Unlock()
	for len(keyPool) <= i {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			tb.Fatal(err)
		}
		keyPool = append(keyPool, k)
	}
	return &testKey{kid: kid, priv: keyPool[i]}
}

func (k *testKey) jwk(alg string) map[string]any {
	return map[string]any{
		"use": "sig", "kty": "RSA", "kid": k.kid, "alg": alg,
		"n": base64.RawURLEncoding.EncodeToString(k.priv.N.Bytes()),
		"e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(k.priv.E)).Bytes()),
	}
}

func (k *testKey) pem(tb testing.TB) string {
	tb.Helper()
	der, err := x509.MarshalPKIXPublicKey(&k.priv.PublicKey)
	if err != nil {
		tb.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

var b64 = base64.RawURLEncoding

// signRaw signs header and payload bytes as given (RS256 unless hash says).
func (k *testKey) signRaw(tb testing.TB, header, payload []byte, hash crypto.Hash) string {
	tb.Helper()
	signed := b64.EncodeToString(header) + "." + b64.EncodeToString(payload)
	h := hash.New()
	h.Write([]byte(signed))
	sig, err := rsa.SignPKCS1v15(rand.Reader, k.priv, hash, h.Sum(nil))
	if err != nil {
		tb.Fatal(err)
	}
	return signed + "." + b64.EncodeToString(sig)
}

// sign signs claims with the default RS256 header of the key.
func (k *testKey) sign(tb testing.TB, claims map[string]any) string {
	tb.Helper()
	hdr, _ := json.Marshal(map[string]any{"alg": "RS256", "kid": k.kid, "typ": "JWT"})
	pl, err := json.Marshal(claims)
	if err != nil {
		tb.Fatal(err)
	}
	return k.signRaw(tb, hdr, pl, crypto.SHA256)
}

const testIssuer = "https://clerk.example.com"

// goodClaims returns valid v2 claims at now.
func goodClaims(now time.Time) map[string]any {
	return map[string]any{
		"iss": testIssuer, "sub": "user_123", "sid": "sess_123",
		"exp": now.Add(time.Minute).Unix(), "iat": now.Unix(), "nbf": now.Add(-5 * time.Second).Unix(),
		"jti": "jti_1", "v": 2, "fva": []int{1, -1}, "azp": "https://app.example.com",
	}
}

// jwksServer serves a key set that a test may change, and counts requests.
type jwksServer struct {
	*httptest.Server
	hits  atomic.Int64
	mu    sync.Mutex
	keys  []map[string]any
	delay time.Duration
	code  int
	hang  chan struct{} // when not nil, requests block until it closes
}

func newJWKSServer(tb testing.TB, keys ...map[string]any) *jwksServer {
	tb.Helper()
	s := &jwksServer{keys: keys, code: http.StatusOK}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		s.mu.Lock()
		keys, delay, code, hang := s.keys, s.delay, s.code, s.hang
		s.mu.Unlock()
		if hang != nil {
			select {
			case <-hang:
			case <-r.Context().Done():
				return
			}
		}
		if delay > 0 {
			time.Sleep(delay)
		}
		if code != http.StatusOK {
			http.Error(w, "down", code)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"keys": keys})
	}))
	tb.Cleanup(func() {
		s.mu.Lock()
		if s.hang != nil {
			close(s.hang)
			s.hang = nil
		}
		s.mu.Unlock()
		s.Close()
	})
	return s
}

func (s *jwksServer) set(fn func(s *jwksServer)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fn(s)
}

// fakeClock is a settable clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock(t time.Time) *fakeClock { return &fakeClock{t: t} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

package verify

import (
	"crypto/aes"
	"crypto/cipher"
	"strings"
	"testing"
)

// The cache key of a token depends on every byte of it and on the cache's
// own random key; the SHA-256 fallback behaves the same way.
func TestTokenHasher(t *testing.T) {
	base := strings.Repeat("eyJhbGciOiJSUzI1NiJ9.", 40)
	tokens := []string{"", "a", "b", base, base + "x", "x" + base, base[:len(base)-1]}
	// A change of one byte anywhere, including inside a 16-byte block and
	// at its edges, gives another key.
	for _, i := range []int{0, 1, 15, 16, 17, len(base) / 2, len(base) - 1} {
		b := []byte(base)
		b[i] ^= 1
		tokens = append(tokens, string(b))
	}
	for name, h := range map[string]tokenHasher{"gmac": newTokenHasher(), "sha256": {}} {
		if name == "gmac" && h.gmac == nil {
			// Only where GCM with a chosen nonce is refused (FIPS 140-only mode).
			block, err := aes.NewCipher(make([]byte, 16))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := cipher.NewGCM(block); err == nil {
				t.Fatal("SHA-256 keys although GCM is available")
			}
		}
		seen := map[tokenHash]string{}
		for _, tok := range tokens {
			k := h.hash(tok)
			if prev, dup := seen[k]; dup {
				t.Errorf("%s: %q and %q share a key", name, prev, tok)
			}
			seen[k] = tok
			if h.hash(tok) != k {
				t.Errorf("%s: the key of %q changes", name, tok)
			}
		}
	}
	// Each cache has a key of its own (the SHA-256 fallback needs none: it
	// rests on SHA-256's collision resistance, as the cache did before).
	a, b := newTokenHasher(), newTokenHasher()
	if a.gmac != nil && a.hash(base) == b.hash(base) {
		t.Error("two caches key a token alike: the key is not their own")
	}
}

func BenchmarkTokenHash(b *testing.B) {
	tok := strings.Repeat("x", 850) // a Clerk session token's size
	for name, h := range map[string]tokenHasher{"gmac": newTokenHasher(), "sha256": {}} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				h.hash(tok)
			}
		})
	}
}

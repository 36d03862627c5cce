package verify

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"sync"
	"time"
	"unsafe"
)

// tokenHash keys the verified-token cache: tokens themselves are never kept.
type tokenHash [16]byte

// tokenHasher makes the cache keys: a GMAC (AES-GCM over the token as
// additional data, with nothing to encrypt) under a key drawn at random for
// this cache, a third of SHA-256's cost on every request's path.
//
// Why a keyed universal hash is enough here: for two different tokens, the
// keys collide with probability at most about 2^-122 over the random key
// (GHASH is a polynomial of degree ≤ the number of blocks in a secret
// point), and the keys never leave the process. A collision with a token
// the attacker knows gains nothing (that token already grants the same),
// and one with a cached token the attacker does not know has to be guessed
// blind. The fixed nonce would be a misuse for encryption, which this is
// not: nothing is encrypted and no tag is ever shown.
type tokenHasher struct {
	gmac  cipher.AEAD // nil: SHA-256, where GCM with a chosen nonce is refused (FIPS 140-only mode)
	nonce [12]byte
}

func newTokenHasher() tokenHasher {
	var key [16]byte
	rand.Read(key[:]) // never fails (crypto/rand since Go 1.24)
	block, err := aes.NewCipher(key[:])
	if err != nil {
		return tokenHasher{}
	}
	gmac, err := cipher.NewGCM(block)
	if err != nil {
		return tokenHasher{}
	}
	return tokenHasher{gmac: gmac}
}

func (t *tokenHasher) hash(token string) (h tokenHash) {
	// The token is only read: hash its bytes in place instead of copying.
	b := unsafe.Slice(unsafe.StringData(token), len(token))
	if t.gmac == nil {
		sum := sha256.Sum256(b)
		copy(h[:], sum[:])
		return h
	}
	t.gmac.Seal(h[:0], t.nonce[:], nil, b)
	return h
}

// cacheEntry is a verified token: its claims, the key that verified it and
// the moment it expires (exp plus leeway).
type cacheEntry struct {
	claims  *Claims
	key     *rsaKey
	expires time.Time
}

const cacheShards = 64

// tokenCache is a bounded, sharded map of verified tokens. When a shard is
// full, an insert first drops an expired entry among a few it looks at, and
// otherwise an arbitrary one (Go's map order is random), which bounds memory
// at a constant cost per insert.
type tokenCache struct {
	hasher   tokenHasher
	perShard int
	shards   [cacheShards]cacheShard
}

type cacheShard struct {
	mu sync.RWMutex
	m  map[tokenHash]cacheEntry
	_  [40]byte // keep shards on separate cache lines
}

func newTokenCache(size int) *tokenCache {
	if size <= 0 {
		return nil
	}
	c := &tokenCache{hasher: newTokenHasher(), perShard: max(1, (size+cacheShards-1)/cacheShards)}
	for i := range c.shards {
		c.shards[i].m = make(map[tokenHash]cacheEntry)
	}
	return c
}

// key is token's key in this cache.
func (c *tokenCache) key(token string) tokenHash { return c.hasher.hash(token) }

func (c *tokenCache) shard(h tokenHash) *cacheShard { return &c.shards[h[0]%cacheShards] }

func (c *tokenCache) get(h tokenHash) (cacheEntry, bool) {
	s := c.shard(h)
	s.mu.RLock()
	e, ok := s.m[h]
	s.mu.RUnlock()
	return e, ok
}

func (c *tokenCache) put(h tokenHash, e cacheEntry, now time.Time) {
	s := c.shard(h)
	s.mu.Lock()
	if _, ok := s.m[h]; !ok && len(s.m) >= c.perShard {
		s.evictOne(now)
	}
	s.m[h] = e
	s.mu.Unlock()
}

// evictOne removes one entry, preferring an expired one. Called with mu held.
func (s *cacheShard) evictOne(now time.Time) {
	const look = 8
	n := 0
	var victim tokenHash
	for h, e := range s.m {
		if !now.Before(e.expires) || e.key.retired.Load() {
			delete(s.m, h)
			return
		}
		if n == 0 {
			victim = h
		}
		if n++; n >= look {
			break
		}
	}
	delete(s.m, victim)
}

func (c *tokenCache) remove(h tokenHash) {
	s := c.shard(h)
	s.mu.Lock()
	delete(s.m, h)
	s.mu.Unlock()
}

// len returns the number of entries, for tests and metrics.
func (c *tokenCache) len() int {
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.RLock()
		n += len(s.m)
		s.mu.RUnlock()
	}
	return n
}

package verify

import (
	"crypto"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Defaults of Options, as SPEC §2 gives them.
const (
	DefaultLeeway         = 5 * time.Second
	DefaultJWKSMinRefresh = 30 * time.Second
	DefaultJWKSRefresh    = 15 * time.Minute
	DefaultJWKSMaxStale   = 24 * time.Hour
	DefaultJWKSTimeout    = 2 * time.Second
	DefaultCacheSize      = 100_000
	// MaxTokenSize is the largest token accepted, in bytes.
	MaxTokenSize = 8 << 10
)

// Options configures a Verifier. The zero value of every field but the key
// source works: set either JWTKey (no network) or JWKSURL.
type Options struct {
	// JWTKey is the instance's public key (CLERK_JWT_KEY): a PEM block or the
	// bare base64 body of one. With it no network call is ever made and a
	// token's kid may be anything or absent.
	JWTKey string
	// JWKSURL is the key set to fetch, such as CLERK_API_URL + "/v1/jwks"
	// (which needs SecretKey) or a Frontend API's "/.well-known/jwks.json".
	JWKSURL string
	// SecretKey, when set, is sent as a Bearer token on key-set requests.
	SecretKey string
	// HTTPClient fetches the key set; nil means a client of its own. Each
	// fetch is bounded by JWKSTimeout whatever the client's own timeout.
	HTTPClient *http.Client

	// Issuer is the exact iss expected (CLERK_ISSUER). When empty, iss must
	// have a Clerk shape: https://clerk.<domain> or https://<x>.clerk.accounts.dev.
	Issuer string
	// AuthorizedParties, when not empty, lists the origins allowed in azp;
	// a token without azp is accepted.
	AuthorizedParties []string
	// Algorithms lists the accepted algorithms among RS256, RS384 and RS512;
	// empty means RS256 only.
	Algorithms []string
	// Leeway is the clock skew allowed on exp, nbf and iat. Zero means
	// DefaultLeeway; a negative value means none.
	Leeway time.Duration

	// JWKSMinRefresh is the least time between two refreshes caused by an
	// unknown kid (zero: DefaultJWKSMinRefresh).
	JWKSMinRefresh time.Duration
	// JWKSRefresh is the background refresh period (zero: DefaultJWKSRefresh).
	JWKSRefresh time.Duration
	// JWKSMaxStale is how long keys stay usable after the last successful
	// fetch while fetches fail (zero: DefaultJWKSMaxStale).
	JWKSMaxStale time.Duration
	// JWKSTimeout bounds each key-set fetch (zero: DefaultJWKSTimeout).
	JWKSTimeout time.Duration

	// CacheSize bounds the verified-token cache (zero: DefaultCacheSize;
	// negative: no cache).
	CacheSize int
	// KeepRawClaims keeps each token's payload in Claims.Raw, for custom
	// claims. It roughly doubles the memory of the verified-token cache.
	KeepRawClaims bool
	// DenyList, when set, is asked on every verification, cached or not.
	DenyList DenyList
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// OnJWKSFetch, when set, is called after every key-set fetch. It must
	// return quickly; it is called from the fetching goroutine.
	OnJWKSFetch func(JWKSFetch)
}

// JWKSFetch describes one key-set fetch, for metrics and logs.
type JWKSFetch struct {
	Reason   string        // "initial", "background", "unknown_kid", "manual"
	Keys     int           // usable keys in the set after the fetch
	Duration time.Duration // how long the fetch took
	Err      error         // nil on success; never contains a secret
}

// Result returns "ok" or a short failure word, for metric labels.
func (f JWKSFetch) Result() string {
	if f.Err == nil {
		return "ok"
	}
	if r := Reason(f.Err); r != "" {
		return r
	}
	return "error"
}

var algHashes = map[string]crypto.Hash{
	"RS256": crypto.SHA256,
	"RS384": crypto.SHA384,
	"RS512": crypto.SHA512,
}

// config is Options with defaults applied and values checked.
type config struct {
	Options
	algs   map[string]crypto.Hash
	leeway time.Duration
	parts  map[string]struct{}
}

func newConfig(o Options) (*config, error) {
	c := &config{Options: o, algs: map[string]crypto.Hash{}}
	var problems []string
	if o.JWTKey == "" && o.JWKSURL == "" {
		problems = append(problems, "one of JWTKey or JWKSURL is required")
	}
	if o.JWKSURL != "" {
		u, err := url.Parse(o.JWKSURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			problems = append(problems, "JWKSURL is not an http(s) URL")
		}
	}
	algs := o.Algorithms
	if len(algs) == 0 {
		algs = []string{"RS256"}
	}
	for _, a := range algs {
		a = strings.TrimSpace(a)
		h, ok := algHashes[a]
		if !ok {
			problems = append(problems, fmt.Sprintf("algorithm %q is not one of RS256, RS384, RS512", a))
			continue
		}
		c.algs[a] = h
	}
	switch {
	case o.Leeway == 0:
		c.leeway = DefaultLeeway
	case o.Leeway > 0:
		c.leeway = o.Leeway
	}
	durations := []struct {
		name string
		v    *time.Duration
		def  time.Duration
	}{
		{"JWKSMinRefresh", &c.JWKSMinRefresh, DefaultJWKSMinRefresh},
		{"JWKSRefresh", &c.JWKSRefresh, DefaultJWKSRefresh},
		{"JWKSMaxStale", &c.JWKSMaxStale, DefaultJWKSMaxStale},
		{"JWKSTimeout", &c.JWKSTimeout, DefaultJWKSTimeout},
	}
	for _, d := range durations {
		switch {
		case *d.v == 0:
			*d.v = d.def
		case *d.v < 0:
			problems = append(problems, d.name+" is negative")
		}
	}
	if c.CacheSize == 0 {
		c.CacheSize = DefaultCacheSize
	}
	if len(o.AuthorizedParties) > 0 {
		c.parts = make(map[string]struct{}, len(o.AuthorizedParties))
		for _, p := range o.AuthorizedParties {
			if p = strings.TrimSpace(p); p != "" {
				c.parts[p] = struct{}{}
			}
		}
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{}
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("verify: invalid options: %s", strings.Join(problems, "; "))
	}
	return c, nil
}

package verify

import (
	"context"
	"crypto"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"net/url"
	"strings"
	"sync/atomic"
	"time"
)

// Verifier checks Clerk session tokens. It is safe for concurrent use.
type Verifier struct {
	cfg    *config
	static *rsaKey      // the key of Options.JWTKey, or nil
	remote *remoteKeys  // the key set of Options.JWKSURL, or nil
	cache  *tokenCache  // nil when disabled
	hits   atomic.Int64 // cache hits
	misses atomic.Int64 // cache misses

	strings interner // shared strings of cached claims
}

// New returns a Verifier for opts. It makes no network call: the first key
// set fetch happens in Start, or at the first verification.
func New(opts Options) (*Verifier, error) {
	cfg, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	v := &Verifier{cfg: cfg, cache: newTokenCache(cfg.CacheSize)}
	if cfg.JWTKey != "" {
		pub, err := ParsePublicKey(cfg.JWTKey)
		if err != nil {
			return nil, err
		}
		v.static = &rsaKey{pub: pub}
	} else {
		v.remote = newRemoteKeys(cfg)
	}
	return v, nil
}

// Policy holds the per-route choices a caller makes on a verification.
type Policy struct {
	// AllowPending accepts sessions whose status is pending (sts=pending).
	AllowPending bool
}

// Verify checks token as a Clerk session token and returns its claims. It
// refuses pending sessions; see VerifyWith.
func (v *Verifier) Verify(ctx context.Context, token string) (*Claims, error) {
	return v.VerifyWith(ctx, token, Policy{})
}

// VerifyWith checks token under p. The returned *Claims may be shared with
// other callers: do not change it.
func (v *Verifier) VerifyWith(ctx context.Context, token string, p Policy) (*Claims, error) {
	if len(token) > MaxTokenSize {
		return nil, invalid("too_large")
	}
	if token == "" {
		return nil, invalid("empty")
	}
	now := v.cfg.Now()
	var h tokenHash
	if v.cache != nil {
		h = v.cache.key(token)
		if e, ok := v.cache.get(h); ok {
			switch {
			case !now.Before(e.expires):
				v.cache.remove(h)
				v.hits.Add(1)
				return nil, &Error{Code: ErrTokenExpired.Code, Reason: "expired"}
			case e.key.retired.Load():
				v.cache.remove(h) // verify again: the key left the key set
			case v.remote != nil && !v.remote.usable(now):
				v.hits.Add(1)
				return nil, &Error{Code: ErrUnavailable.Code, Reason: "keys_stale"}
			default:
				v.hits.Add(1)
				return v.admit(e.claims, p)
			}
		}
		v.misses.Add(1)
	}
	pc, key, err := v.verifyToken(ctx, token, now)
	if err != nil {
		return nil, err
	}
	if v.cache == nil {
		return v.admit(&pc.Claims, p)
	}
	// The cached claims in an allocation of their own (not inside pc), with
	// their repeating strings shared: a cached token's memory is its own.
	c := new(Claims)
	*c = pc.Claims
	v.strings.internClaims(c)
	v.cache.put(h, cacheEntry{claims: c, key: key, expires: v.expires(pc)}, now)
	return v.admit(c, p)
}

// admit applies the checks that depend on the moment or the caller rather
// than on the token: pending sessions and the deny list.
func (v *Verifier) admit(c *Claims, p Policy) (*Claims, error) {
	if dl := v.cfg.DenyList; dl != nil && dl.Denied(c.SessionID, c.Subject) {
		return nil, &Error{Code: ErrSessionRevoked.Code, Reason: "denied"}
	}
	if c.Pending() && !p.AllowPending {
		return nil, &Error{Code: ErrSessionPending.Code, Reason: "pending"}
	}
	return c, nil
}

// expires is when a verified token stops being accepted: exp plus leeway.
func (v *Verifier) expires(pc *parsedClaims) time.Time {
	return pc.Expiry.Add(v.cfg.leeway)
}

// headerNames are the header members decoded into header.
var headerNames = newNameRules("alg", "kid", "typ", "crit")

// header is a token's JOSE header.
type header struct {
	Alg  string          `json:"alg"`
	Kid  string          `json:"kid"`
	Typ  *string         `json:"typ"`
	Crit json.RawMessage `json:"crit"`
}

// verifyToken does the full check of a token that is not in the cache.
func (v *Verifier) verifyToken(ctx context.Context, token string, now time.Time) (*parsedClaims, *rsaKey, error) {
	h64, rest, ok := strings.Cut(token, ".")
	if !ok {
		return nil, nil, invalid("malformed")
	}
	p64, s64, ok := strings.Cut(rest, ".")
	if !ok || strings.IndexByte(s64, '.') >= 0 {
		return nil, nil, invalid("malformed")
	}
	hb, err := decodeSegment(h64)
	if err != nil {
		return nil, nil, err
	}
	if err := checkJSONObject(hb, headerNames); err != nil {
		return nil, nil, err
	}
	var hdr header
	if json.Unmarshal(hb, &hdr) != nil {
		return nil, nil, invalid("bad_header")
	}
	hash, ok := v.cfg.algs[hdr.Alg]
	if !ok {
		return nil, nil, invalid("alg_not_allowed")
	}
	if hdr.Typ != nil && !strings.EqualFold(*hdr.Typ, "JWT") {
		return nil, nil, invalid("bad_typ")
	}
	if len(hdr.Crit) > 0 {
		return nil, nil, invalid("crit")
	}
	pb, err := decodeSegment(p64)
	if err != nil {
		return nil, nil, err
	}
	pc, err := parseClaims(pb, v.cfg.KeepRawClaims)
	if err != nil {
		return nil, nil, err
	}
	sig, err := decodeSegment(s64)
	if err != nil {
		return nil, nil, err
	}
	key, err := v.key(ctx, hdr)
	if err != nil {
		return nil, nil, err
	}
	if err := checkSignature(key.pub, hash, token[:len(h64)+1+len(p64)], sig); err != nil {
		return nil, nil, err
	}
	if err := v.checkClaims(pc, now); err != nil {
		return nil, nil, err
	}
	return pc, key, nil
}

// key finds the verification key of a token by its kid alone.
func (v *Verifier) key(ctx context.Context, hdr header) (*rsaKey, error) {
	if v.static != nil {
		return v.static, nil
	}
	if hdr.Kid == "" {
		return nil, invalid("missing_kid")
	}
	k, err := v.remote.lookup(ctx, hdr.Kid)
	if err != nil {
		return nil, err
	}
	if k.alg != hdr.Alg {
		return nil, invalid("alg_key_mismatch")
	}
	return k, nil
}

func checkSignature(pub *rsa.PublicKey, hash crypto.Hash, signed string, sig []byte) error {
	if len(sig) != pub.Size() {
		return invalid("bad_signature")
	}
	hh := hash.New()
	hh.Write([]byte(signed))
	if rsa.VerifyPKCS1v15(pub, hash, hh.Sum(nil), sig) != nil {
		return invalid("bad_signature")
	}
	return nil
}

// checkClaims checks what a valid signature does not: identity claims
// first, then the times.
func (v *Verifier) checkClaims(pc *parsedClaims, now time.Time) error {
	if !v.issuerOK(pc.Issuer) {
		return invalid("bad_issuer")
	}
	if v.cfg.parts != nil && pc.AuthorizedParty != "" {
		if _, ok := v.cfg.parts[pc.AuthorizedParty]; !ok {
			return invalid("bad_azp")
		}
	}
	nowSec := float64(now.UnixNano()) / 1e9
	lee := v.cfg.leeway.Seconds()
	if pc.exp.sec+lee <= nowSec {
		return &Error{Code: ErrTokenExpired.Code, Reason: "expired"}
	}
	if pc.nbf.set && pc.nbf.sec-lee > nowSec {
		return &Error{Code: ErrTokenNotYetValid.Code, Reason: "nbf"}
	}
	if pc.iat.set && pc.iat.sec-lee > nowSec {
		return &Error{Code: ErrTokenNotYetValid.Code, Reason: "iat"}
	}
	return nil
}

func (v *Verifier) issuerOK(iss string) bool {
	if v.cfg.Issuer != "" {
		return iss == v.cfg.Issuer
	}
	return ClerkIssuer(iss)
}

// ClerkIssuer reports whether iss has the shape of a Clerk Frontend API URL:
// https://clerk.<domain> or https://<name>.clerk.accounts.dev, with no user,
// path, query or fragment.
func ClerkIssuer(iss string) bool {
	if !strings.HasPrefix(iss, "https://") {
		return false
	}
	u, err := url.Parse(iss)
	if err != nil || u.Scheme != "https" || u.User != nil || u.RawQuery != "" || u.Fragment != "" ||
		u.Opaque != "" || (u.Path != "" && u.Path != "/") || u.Port() != "" {
		return false
	}
	host := u.Hostname()
	if host == "" || strings.HasSuffix(host, ".") || strings.Contains(host, "..") {
		return false
	}
	if rest, ok := strings.CutPrefix(host, "clerk."); ok {
		return strings.Contains(rest, ".") // clerk.<domain>.<tld>, never clerk.<tld>
	}
	name, ok := strings.CutSuffix(host, ".clerk.accounts.dev")
	return ok && name != "" && !strings.Contains(name, ".")
}

// decodeSegment decodes one base64url segment, refusing anything but the
// canonical form: no padding, no '+' or '/', no whitespace, no stray bits.
func decodeSegment(s string) ([]byte, error) {
	if s == "" {
		return nil, invalid("bad_base64")
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return nil, invalid("bad_base64")
		}
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(s)
	if err != nil {
		return nil, invalid("bad_base64")
	}
	return b, nil
}

// Start fetches the key set now and then refreshes it every JWKSRefresh
// (sooner after a failure) until ctx ends. Requests that arrive before the
// first fetch ends share it. With a static key Start does nothing.
func (v *Verifier) Start(ctx context.Context) {
	if v.remote == nil {
		return
	}
	v.remote.start("initial", v.cfg.Now(), 0)
	go v.refreshLoop(ctx)
}

func (v *Verifier) refreshLoop(ctx context.Context) {
	r := v.remote
	for {
		wait := v.cfg.JWKSRefresh
		r.mu.Lock()
		failed := r.lastErr != nil
		r.mu.Unlock()
		if failed {
			wait = min(wait, v.cfg.JWKSMinRefresh)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		if call := r.start("background", v.cfg.Now(), 0); call != nil {
			select {
			case <-call.done:
			case <-ctx.Done():
				return
			}
		}
	}
}

// Refresh fetches the key set now (joining a fetch in flight) and returns
// its error. It ignores the unknown-kid window; use it for start-up checks
// or a rotation signal, not per request.
func (v *Verifier) Refresh(ctx context.Context) error {
	if v.remote == nil {
		return nil
	}
	call := v.remote.start("manual", v.cfg.Now(), 0)
	return v.remote.wait(ctx, call)
}

// KeysStatus describes the verification keys, for readiness and metrics.
type KeysStatus struct {
	Source    string    // "static" (CLERK_JWT_KEY) or "jwks"
	Keys      int       // usable keys
	FetchedAt time.Time // last successful fetch; zero for static or never
	Usable    bool      // tokens can be verified now
	LastError string    // the latest fetch error, if the latest fetch failed
}

// Keys returns the state of the verification keys.
func (v *Verifier) Keys() KeysStatus {
	if v.static != nil {
		return KeysStatus{Source: "static", Keys: 1, Usable: true}
	}
	return v.remote.status()
}

// Stats counts cache use since New.
type Stats struct {
	CacheHits, CacheMisses int64
	CacheEntries           int
}

// Stats returns the cache counters.
func (v *Verifier) Stats() Stats {
	s := Stats{CacheHits: v.hits.Load(), CacheMisses: v.misses.Load()}
	if v.cache != nil {
		s.CacheEntries = v.cache.len()
	}
	return s
}

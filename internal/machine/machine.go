// Package machine verifies Clerk machine credentials, API keys (ak_...),
// M2M tokens (mt_...) and OAuth access tokens (oat_...), through the
// Backend API verify endpoints, with a cache in front.
//
// A [Verifier] dispatches on the credential's prefix and keeps each result
// until the credential expires or for at most Options.MaxCache (60 s by
// default), whichever comes first. A credential Clerk refuses is remembered
// for a few seconds (Options.NegativeCache), so that a flood of one bad key
// does not become a flood of calls to Clerk, and concurrent misses for the
// same credential share one call. [Verifier.Revoke] and [Verifier.Forget]
// end cached results at once (revocation webhooks call them), and an answer
// that says a credential is revoked ends whatever was cached for it.
//
// The cache is keyed by the SHA-256 digest of the credential: the
// credential itself is never stored, logged or put in an error.
package machine

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/clerkgate/clerkgate"
	"github.com/clerkgate/clerkgate/internal/clerkapi"
)

// Credential kinds (Machine.Kind).
const (
	KindAPIKey     = clerkapi.KindAPIKey     // "api_key", ak_...
	KindM2MToken   = clerkapi.KindM2MToken   // "m2m_token", mt_...
	KindOAuthToken = clerkapi.KindOAuthToken // "oauth_token", oat_...
)

// Defaults of Options.
const (
	DefaultMaxCache      = 60 * time.Second
	DefaultNegativeCache = 5 * time.Second
	DefaultSize          = 10_000
)

// ErrNotMachineToken is the cause of the error VerifyMachine returns for a
// token that is no machine credential (it starts with none of ak_, mt_,
// oat_): the caller may try it as something else.
var ErrNotMachineToken = errors.New("not a machine credential")

// Client verifies machine credentials with Clerk; *clerkapi.Client is one.
// Its errors follow clerkapi's: CodeTokenInvalid or CodeTokenExpired for a
// credential Clerk refuses (final: cached briefly), anything else for a
// failure to ask (not cached). A Verify method may return the credential
// along with an error when Clerk named it but said it is revoked.
type Client interface {
	VerifyAPIKey(ctx context.Context, secret string) (*clerkapi.MachineCredential, error)
	VerifyM2MToken(ctx context.Context, token string) (*clerkapi.MachineCredential, error)
	VerifyOAuthAccessToken(ctx context.Context, token string) (*clerkapi.MachineCredential, error)
}

var _ Client = (*clerkapi.Client)(nil)

// Options configures a Verifier. Only Client is required.
type Options struct {
	// Client asks Clerk.
	Client Client
	// Now is the clock of the cache; nil means time.Now.
	Now func() time.Time
	// MaxCache is the longest a result is kept; 0 means DefaultMaxCache.
	// A credential that expires sooner is kept until it expires.
	MaxCache time.Duration
	// NegativeCache is how long a credential Clerk refused is refused
	// without asking again; 0 means DefaultNegativeCache (capped by
	// MaxCache), a negative value turns it off.
	NegativeCache time.Duration
	// Size bounds the number of cached results; 0 means DefaultSize. When
	// it is reached, expired results go first, then arbitrary ones.
	Size int
	// OnCacheLookup, when set, is told of every lookup of the cache.
	OnCacheLookup func(hit bool)
}

// Machine is a verified machine credential: what a request authenticated
// by one may do. Its fields are those of internal/httpapi's Machine, in
// the same order, so that either converts to the other (see [Adapter]).
type Machine struct {
	// Subject is who the credential acts for: a user_, org_ or mch_ id.
	Subject string
	// Scopes are the credential's scopes (for M2M tokens: the machines it
	// may reach). Never nil.
	Scopes []string
	// Kind is KindAPIKey, KindM2MToken or KindOAuthToken.
	Kind string
}

// clone returns a copy that shares nothing with m.
func (m *Machine) clone() *Machine {
	c := *m
	c.Scopes = slices.Clone(m.Scopes)
	return &c
}

// Stats are a Verifier's counters since it was made.
type Stats struct {
	// Hits are verifications answered from the cache, refusals included.
	Hits int64
	// Misses are verifications that waited for Clerk, alone or sharing a
	// call.
	Misses int64
	// Calls are the calls made to Clerk.
	Calls int64
	// Entries is the number of cached results now.
	Entries int
}

// entry is one cached result. m is nil for a refusal, whose error is err.
type entry struct {
	m     *Machine
	err   error
	kind  string
	id    string // Clerk's id of the credential, when known
	until time.Time
}

// Verifier verifies machine credentials with a cache. It is safe for
// concurrent use.
type Verifier struct {
	client   Client
	now      func() time.Time
	maxCache time.Duration
	negCache time.Duration
	size     int
	group    singleflight.Group

	mu      sync.Mutex
	entries map[[sha256.Size]byte]*entry
	// gen counts the revocations: a call that started before one does not
	// cache what it found.
	gen uint64

	hits, misses, calls atomic.Int64
	onLookup            func(hit bool) // Options.OnCacheLookup
}

// New returns a Verifier configured by o.
func New(o Options) (*Verifier, error) {
	if o.Client == nil {
		return nil, errors.New("machine: the client is missing")
	}
	if o.MaxCache < 0 || o.Size < 0 {
		return nil, errors.New("machine: MaxCache and Size must not be negative")
	}
	v := &Verifier{client: o.Client, now: o.Now, maxCache: o.MaxCache, negCache: o.NegativeCache, size: o.Size, onLookup: o.OnCacheLookup,
		entries: make(map[[sha256.Size]byte]*entry)}
	if v.now == nil {
		v.now = time.Now
	}
	if v.maxCache == 0 {
		v.maxCache = DefaultMaxCache
	}
	if v.negCache == 0 {
		v.negCache = DefaultNegativeCache
	}
	v.negCache = min(v.negCache, v.maxCache)
	if v.size == 0 {
		v.size = DefaultSize
	}
	return v, nil
}

// KindOf returns the kind of machine credential token is by its prefix,
// or "" when it is none.
func KindOf(token string) string {
	switch {
	case strings.HasPrefix(token, "ak_"):
		return KindAPIKey
	case strings.HasPrefix(token, "mt_"):
		return KindM2MToken
	case strings.HasPrefix(token, "oat_"):
		return KindOAuthToken
	}
	return ""
}

// VerifyMachine verifies token, a machine credential, from the cache or
// with Clerk. Errors are *clerkgate.Error: CodeTokenInvalid for a token
// that is no machine credential (its cause is ErrNotMachineToken) or one
// Clerk does not accept (unknown, revoked), CodeTokenExpired for an
// expired one, and CodeUnavailable (or CodeRateLimited) when Clerk cannot
// tell, which is never cached. A canceled ctx ends the wait, not a call
// other requests share.
func (v *Verifier) VerifyMachine(ctx context.Context, token string) (*Machine, error) {
	kind := KindOf(token)
	if kind == "" {
		return nil, &clerkgate.Error{Code: clerkgate.CodeTokenInvalid, Message: "not a machine credential",
			Err: ErrNotMachineToken}
	}
	if len(token) > clerkapi.MaxMachineTokenLength {
		return nil, &clerkgate.Error{Code: clerkgate.CodeTokenInvalid, Message: "invalid machine credential",
			Err: errors.New("machine: credential too long")}
	}
	key := sha256.Sum256([]byte(token))
	e, ok := v.lookup(key, v.now())
	if v.onLookup != nil {
		v.onLookup(ok)
	}
	if ok {
		v.hits.Add(1)
		if e.m == nil {
			return nil, e.err
		}
		return e.m.clone(), nil
	}
	v.misses.Add(1)
	ch := v.group.DoChan(string(key[:]), func() (any, error) {
		return v.fill(context.WithoutCancel(ctx), key, kind, token)
	})
	select {
	case res := <-ch:
		if res.Err != nil {
			return nil, res.Err
		}
		return res.Val.(*Machine).clone(), nil
	case <-ctx.Done():
		return nil, &clerkgate.Error{Code: clerkgate.CodeUnavailable, Message: "machine credential verification canceled",
			Err: fmt.Errorf("machine: %w", ctx.Err())}
	}
}

// lookup returns the cached result for key, if one is still valid at now.
// Entries are never modified once stored, so e may be read unlocked.
func (v *Verifier) lookup(key [sha256.Size]byte, now time.Time) (e *entry, ok bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	e, ok = v.entries[key]
	if ok && !now.Before(e.until) {
		delete(v.entries, key)
		return nil, false
	}
	return e, ok
}

// fill asks Clerk about token, caches the answer and returns it; the
// Machine it returns is shared by the callers waiting for it.
func (v *Verifier) fill(ctx context.Context, key [sha256.Size]byte, kind, token string) (*Machine, error) {
	// A call that ended between the caller's lookup and this flight has
	// cached its result: use it rather than ask again.
	v.mu.Lock()
	if e, ok := v.entries[key]; ok && v.now().Before(e.until) {
		v.mu.Unlock()
		return e.m, e.err
	}
	gen := v.gen
	v.mu.Unlock()

	v.calls.Add(1)
	var cred *clerkapi.MachineCredential
	var err error
	switch kind {
	case KindAPIKey:
		cred, err = v.client.VerifyAPIKey(ctx, token)
	case KindM2MToken:
		cred, err = v.client.VerifyM2MToken(ctx, token)
	default:
		cred, err = v.client.VerifyOAuthAccessToken(ctx, token)
	}
	now := v.now()
	if err == nil {
		err = check(cred, now)
	}
	e := v.entryFor(kind, cred, err, now)

	v.mu.Lock()
	defer v.mu.Unlock()
	revokedSince := v.gen != gen
	if cred != nil && cred.ID != "" && (cred.Revoked || err != nil) {
		v.forgetLocked("", cred.ID) // a revoked answer ends every entry of the credential
	}
	// A refusal stays true whatever was revoked meanwhile; a success found
	// before a revocation must not outlive it.
	if e != nil && (e.m == nil || !revokedSince) {
		v.storeLocked(key, e, now)
	}
	if err != nil {
		return nil, err
	}
	return e.m, nil
}

// check rejects a successful answer that cannot be used: no subject, or a
// credential that has expired by the cache's clock.
func check(cred *clerkapi.MachineCredential, now time.Time) error {
	switch {
	case cred == nil || cred.Subject == "":
		return &clerkgate.Error{Code: clerkgate.CodeUnavailable, Message: "Clerk gave an unusable answer",
			Err: errors.New("machine: a verified credential without a subject")}
	case cred.Revoked:
		return &clerkgate.Error{Code: clerkgate.CodeTokenInvalid, Message: "machine credential revoked",
			Err: fmt.Errorf("machine: credential %s revoked", cred.ID)}
	case !cred.ExpiresAt.IsZero() && !cred.ExpiresAt.After(now):
		return &clerkgate.Error{Code: clerkgate.CodeTokenExpired, Message: "machine credential expired",
			Err: fmt.Errorf("machine: credential %s expired at %s", cred.ID, cred.ExpiresAt.Format(time.RFC3339))}
	}
	return nil
}

// entryFor returns the cache entry for a verification's outcome, or nil
// when it must not be cached (Clerk could not tell).
func (v *Verifier) entryFor(kind string, cred *clerkapi.MachineCredential, err error, now time.Time) *entry {
	var id string
	if cred != nil {
		id = cred.ID
	}
	if err != nil {
		switch clerkgate.ErrorCode(err) {
		case clerkgate.CodeTokenInvalid, clerkgate.CodeTokenExpired:
		default:
			return nil
		}
		if v.negCache <= 0 {
			return nil
		}
		return &entry{err: err, kind: kind, id: id, until: now.Add(v.negCache)}
	}
	until := now.Add(v.maxCache)
	if !cred.ExpiresAt.IsZero() && cred.ExpiresAt.Before(until) {
		until = cred.ExpiresAt
	}
	scopes := slices.Clone(cred.Scopes)
	if scopes == nil {
		scopes = []string{}
	}
	return &entry{m: &Machine{Subject: cred.Subject, Scopes: scopes, Kind: kind}, kind: kind, id: id, until: until}
}

// storeLocked caches e under key, making room if the cache is full: the
// expired entries go first, then arbitrary ones. v.mu is held.
func (v *Verifier) storeLocked(key [sha256.Size]byte, e *entry, now time.Time) {
	if _, ok := v.entries[key]; !ok && len(v.entries) >= v.size {
		for k, old := range v.entries {
			if !now.Before(old.until) {
				delete(v.entries, k)
			}
		}
		for k := range v.entries {
			if len(v.entries) < v.size {
				break
			}
			delete(v.entries, k) // map order: an arbitrary victim
		}
	}
	v.entries[key] = e
}

// Revoke ends at once the cached results for tokenOrID: a credential
// itself, or Clerk's id of one (ak_..., mt_..., oat_...). It returns how
// many results it ended; a verification under way when it is called does
// not cache what it finds.
func (v *Verifier) Revoke(tokenOrID string) int {
	key := sha256.Sum256([]byte(tokenOrID))
	v.mu.Lock()
	defer v.mu.Unlock()
	n := 0
	if _, ok := v.entries[key]; ok {
		delete(v.entries, key)
		n++
	}
	return n + v.forgetLocked("", tokenOrID)
}

// Forget ends at once the cached results of the credential whose Clerk id
// is id, of the given kind ("" for any): what a revocation webhook knows.
// It returns how many results it ended; a verification under way when it
// is called does not cache what it finds.
func (v *Verifier) Forget(kind, id string) int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.forgetLocked(kind, id)
}

// forgetLocked deletes the entries of the credential id (of kind, unless
// "") and counts a revocation. v.mu is held.
func (v *Verifier) forgetLocked(kind, id string) int {
	v.gen++
	if id == "" {
		return 0
	}
	n := 0
	for k, e := range v.entries {
		if e.id == id && (kind == "" || e.kind == kind) {
			delete(v.entries, k)
			n++
		}
	}
	return n
}

// Stats returns the Verifier's counters.
func (v *Verifier) Stats() Stats {
	v.mu.Lock()
	n := len(v.entries)
	v.mu.Unlock()
	return Stats{Hits: v.hits.Load(), Misses: v.misses.Load(), Calls: v.calls.Load(), Entries: n}
}

// Adapter makes a Verifier answer another package's machine type T, such
// as internal/httpapi's Machine. Convert builds a T from a Machine; for a
// struct type with Machine's fields in Machine's order (struct tags aside)
// it is a plain conversion:
//
//	var mv httpapi.MachineVerifier = machine.Adapter[httpapi.Machine]{Verifier: v,
//		Convert: func(m machine.Machine) httpapi.Machine { return httpapi.Machine(m) }}
type Adapter[T any] struct {
	Verifier *Verifier
	Convert  func(Machine) T
}

// VerifyMachine calls the Verifier's VerifyMachine and converts its answer.
func (a Adapter[T]) VerifyMachine(ctx context.Context, token string) (*T, error) {
	m, err := a.Verifier.VerifyMachine(ctx, token)
	if err != nil {
		return nil, err
	}
	t := a.Convert(*m)
	return &t, nil
}

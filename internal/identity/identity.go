// Package identity turns a verified session token into the caller: the local
// user (from an in-process cache, the store, or just in time from Clerk's
// Backend API), the application role and the permissions.
package identity

import (
	"context"
	"errors"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/clerkgate/clerkgate"
	"github.com/clerkgate/clerkgate/internal/policy"
	"github.com/clerkgate/clerkgate/verify"
)

// Fetcher gets one user from Clerk's Backend API. A user Clerk does not know
// is an error with clerkgate.CodeNotFound.
type Fetcher interface {
	FetchUser(ctx context.Context, clerkUserID string) (*clerkgate.User, error)
}

// FetcherFunc adapts a function to Fetcher.
type FetcherFunc func(ctx context.Context, clerkUserID string) (*clerkgate.User, error)

// FetchUser implements Fetcher.
func (f FetcherFunc) FetchUser(ctx context.Context, id string) (*clerkgate.User, error) {
	return f(ctx, id)
}

// Options configures a Service.
type Options struct {
	Store  clerkgate.UserStore
	Clerk  Fetcher        // nil: users unknown locally stay pending
	Policy *policy.Policy // nil: policy.Default()
	// PolicyFunc, when set, is asked for the current policy instead of
	// Policy (a policy that reloads).
	PolicyFunc func() *policy.Policy
	// Memberships, when set, reads a user's stored organization memberships
	// (tombstones included): a membership changed in Clerk after a token was
	// issued overrides the token's organization role, so a member removed
	// from an organization loses its role before the next token refresh.
	Memberships func(ctx context.Context, clerkUserID string) ([]clerkgate.Membership, error)
	// Save, when set, stores a user fetched just in time instead of
	// Store.SaveClerkUser, so that a legacy user is linked rather than
	// duplicated.
	Save func(ctx context.Context, u *clerkgate.User) (*clerkgate.User, error)
	// CacheTTL bounds how long a cached user is trusted without the store
	// (other instances' writes arrive through the store). 0 means 30 s.
	CacheTTL time.Duration
	// CacheSize bounds the user cache. 0 means 100,000.
	CacheSize int
	// RetryPending is the least time between two Backend API attempts for a
	// user whose profile is pending. 0 means 30 s.
	RetryPending time.Duration
	// FetchTimeout bounds a just-in-time fetch. 0 means 5 s.
	FetchTimeout time.Duration
	Now          func() time.Time
	// OnCacheLookup, when set, is told of every lookup of the user cache
	// on the request path.
	OnCacheLookup func(hit bool)
}

// Identity is the authenticated caller.
type Identity struct {
	User   *clerkgate.User // the local user; shared, read-only
	Claims *verify.Claims  // shared, read-only
	// Org is the active organization as it stands: the token's, with the
	// role of a membership changed since the token was issued, or nil when
	// that membership ended.
	Org         *verify.Org
	Role        string
	Permissions []string
	// ProfilePending is set when the user is not stored yet and Clerk could
	// not be asked: the identity comes from the token alone.
	ProfilePending bool
}

// Service resolves identities. It is safe for concurrent use.
type Service struct {
	o      Options
	policy func() *policy.Policy
	cache  *userCache
	flight singleflight.Group
}

// New returns a Service for o.
func New(o Options) (*Service, error) {
	if o.Store == nil {
		return nil, errors.New("identity: a store is required")
	}
	if o.Policy == nil {
		o.Policy = policy.Default()
	}
	if o.PolicyFunc == nil {
		fixed := o.Policy
		o.PolicyFunc = func() *policy.Policy { return fixed }
	}
	if o.CacheTTL == 0 {
		o.CacheTTL = 30 * time.Second
	}
	if o.CacheSize == 0 {
		o.CacheSize = 100_000
	}
	if o.RetryPending == 0 {
		o.RetryPending = 30 * time.Second
	}
	if o.FetchTimeout == 0 {
		o.FetchTimeout = 5 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Service{o: o, policy: o.PolicyFunc, cache: newUserCache(o.CacheSize)}, nil
}

var errRevoked = &verify.Error{Code: clerkgate.CodeSessionRevoked, Reason: "user_gone"}

// Resolve returns the identity of verified claims. A user deleted or banned
// in the local store, or unknown to Clerk, is session_revoked.
func (s *Service) Resolve(ctx context.Context, c *verify.Claims) (*Identity, error) {
	id := new(Identity)
	if err := s.ResolveInto(ctx, c, id); err != nil {
		return nil, err
	}
	return id, nil
}

// ResolveInto is Resolve into storage of the caller's (the request path
// keeps it in its per-request state: one allocation fewer). id is
// overwritten; on error its contents are unspecified.
func (s *Service) ResolveInto(ctx context.Context, c *verify.Claims, id *Identity) error {
	now := s.o.Now()
	e, ok := s.cache.get(c.Subject, now)
	if s.o.OnCacheLookup != nil {
		s.o.OnCacheLookup(ok)
	}
	if !ok {
		var err error
		if e, err = s.load(ctx, c.Subject); err != nil {
			return err
		}
	} else if e.pending && !now.Before(e.retryAt) {
		s.retryPending(c.Subject, now)
	}
	if e.user.Deleted() || e.user.Banned {
		return errRevoked
	}
	*id = Identity{User: e.user, Claims: c, ProfilePending: e.pending, Org: effectiveOrg(c, e)}
	var orgRole string
	var orgPerms []string
	if id.Org != nil {
		orgRole, orgPerms = id.Org.Role, id.Org.Permissions
	}
	pol := s.policy()
	id.Role = pol.ResolveRoleFrom(e.metadataRole, orgRole)
	id.Permissions = pol.PermissionsFor(id.Role, orgPerms)
	return nil
}

// load reads the user from the store, or fetches it from Clerk, once for
// all concurrent callers.
func (s *Service) load(ctx context.Context, clerkUserID string) (*entry, error) {
	v, err, _ := s.flight.Do(clerkUserID, func() (any, error) {
		// Shared by every waiter: the first caller's cancellation must not
		// fail the others.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*s.o.FetchTimeout)
		defer cancel()
		now := s.o.Now()
		if e, ok := s.cache.get(clerkUserID, now); ok {
			return e, nil
		}
		gen := s.cache.generation(clerkUserID)
		u, err := s.o.Store.UserByClerkID(ctx, clerkUserID)
		switch {
		case err == nil && !placeholder(u):
			e := s.entryOf(u, false, now, s.readMemberships(ctx, clerkUserID))
			s.cache.putIfSame(clerkUserID, e, gen)
			return e, nil
		case err == nil || clerkgate.ErrorCode(err) == clerkgate.CodeNotFound:
			return s.fetch(ctx, clerkUserID, now)
		default:
			return nil, &clerkgate.Error{Code: clerkgate.CodeUnavailable, Message: "user store unavailable", Err: err}
		}
	})
	if err != nil {
		return nil, err
	}
	return v.(*entry), nil
}

// effectiveOrg is the token's active organization corrected by a stored
// membership change newer than the token: an ended membership removes it;
// another role replaces the token's, and the token's permissions, which
// were those of the old role, are dropped.
func effectiveOrg(c *verify.Claims, e *entry) *verify.Org {
	if c.Org == nil {
		return nil
	}
	m, ok := e.memberships[c.Org.ID]
	if !ok || c.IssuedAt.IsZero() || m.ClerkUpdatedAt <= c.IssuedAt.UnixMilli() {
		return c.Org
	}
	if m.Deleted {
		return nil
	}
	if m.Role == c.Org.Role {
		return c.Org
	}
	return &verify.Org{ID: c.Org.ID, Slug: c.Org.Slug, Role: m.Role}
}

// save stores a user fetched just in time.
func (s *Service) save(ctx context.Context, u *clerkgate.User) (*clerkgate.User, error) {
	if s.o.Save != nil {
		return s.o.Save(ctx, u)
	}
	stored, _, err := s.o.Store.SaveClerkUser(ctx, u)
	return stored, err
}

// placeholder reports whether u was stored from a token alone, while Clerk
// was unreachable: any real Clerk version replaces it.
func placeholder(u *clerkgate.User) bool { return u.ClerkUpdatedAt == 0 && !u.Deleted() }

// fetch asks Clerk for the user and stores it; when Clerk cannot answer it
// stores a placeholder so the user has a stable local id, and marks the
// profile pending.
func (s *Service) fetch(ctx context.Context, clerkUserID string, now time.Time) (*entry, error) {
	if s.o.Clerk != nil {
		fctx, cancel := context.WithTimeout(ctx, s.o.FetchTimeout)
		u, err := s.o.Clerk.FetchUser(fctx, clerkUserID)
		cancel()
		switch {
		case err == nil:
			u.Role = s.policy().StoredRole(u.PublicMetadata)
			stored, err := s.save(ctx, u)
			if err != nil {
				return nil, &clerkgate.Error{Code: clerkgate.CodeUnavailable, Message: "user store unavailable", Err: err}
			}
			return s.rememberWith(stored, false, now, s.readMemberships(ctx, clerkUserID)), nil
		case clerkgate.ErrorCode(err) == clerkgate.CodeNotFound:
			return nil, errRevoked
		}
	}
	ph := &clerkgate.User{ClerkUserID: clerkUserID, Role: s.policy().Roles.Default}
	stored, _, err := s.o.Store.SaveClerkUser(ctx, ph)
	if err != nil {
		stored = ph // the request still succeeds on the token's identity
	}
	return s.remember(stored, placeholder(stored), now), nil
}

// retryPending tries Clerk again for a pending user, in the background.
func (s *Service) retryPending(clerkUserID string, now time.Time) {
	if !s.cache.claimRetry(clerkUserID, now, s.o.RetryPending) {
		return
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), s.o.FetchTimeout)
		defer cancel()
		s.flight.Do(clerkUserID, func() (any, error) {
			return s.fetch(ctx, clerkUserID, s.o.Now())
		})
	}()
}

func (s *Service) remember(u *clerkgate.User, pending bool, now time.Time) *entry {
	return s.rememberWith(u, pending, now, nil)
}

// rememberWith caches u with its memberships; nil memberships keep those
// already cached. The entry is complete before it is shared.
func (s *Service) rememberWith(u *clerkgate.User, pending bool, now time.Time, ms map[string]clerkgate.Membership) *entry {
	e := s.entryOf(u, pending, now, ms)
	s.cache.put(u.ClerkUserID, e)
	return e
}

// entryOf is the cache entry of u; nil memberships keep those already
// cached.
func (s *Service) entryOf(u *clerkgate.User, pending bool, now time.Time, ms map[string]clerkgate.Membership) *entry {
	e := &entry{
		user:         u,
		metadataRole: s.policy().MetadataRole(u.PublicMetadata),
		pending:      pending,
		expires:      now.Add(s.o.CacheTTL),
		retryAt:      now.Add(s.o.RetryPending),
	}
	e.memberships = ms
	if ms == nil {
		if old, ok := s.cache.get(u.ClerkUserID, now); ok {
			e.memberships = old.memberships
		}
	}
	return e
}

// readMemberships reads the user's memberships by organization (best
// effort: the token's organization claims stand when the store cannot say).
func (s *Service) readMemberships(ctx context.Context, clerkUserID string) map[string]clerkgate.Membership {
	if s.o.Memberships == nil {
		return nil
	}
	ms, err := s.o.Memberships(ctx, clerkUserID)
	if err != nil || len(ms) == 0 {
		return nil
	}
	out := make(map[string]clerkgate.Membership, len(ms))
	for _, m := range ms {
		out[m.OrgID] = m
	}
	return out
}

// MembershipChanged records a membership change (a webhook) so the next
// request of that user sees it.
func (s *Service) MembershipChanged(m clerkgate.Membership) {
	now := s.o.Now()
	old, ok := s.cache.get(m.ClerkUserID, now)
	if !ok {
		return // the next request loads it from the store
	}
	next := *old
	next.memberships = make(map[string]clerkgate.Membership, len(old.memberships)+1)
	for k, v := range old.memberships {
		next.memberships[k] = v
	}
	if cur, ok := next.memberships[m.OrgID]; !ok || cur.ClerkUpdatedAt <= m.ClerkUpdatedAt {
		next.memberships[m.OrgID] = m
	}
	s.cache.put(m.ClerkUserID, &next)
}

// Updated records a user written by someone else (a webhook, a reconcile
// run, an admin action) so the next request sees it.
func (s *Service) Updated(u *clerkgate.User) {
	if u.ClerkUserID == "" {
		return
	}
	s.remember(u, placeholder(u), s.o.Now())
}

// Forget drops a user from the cache; the next request reads the store.
// A read of the store that began before Forget is not cached: it may have
// missed the change that Forget stands for (another instance's write).
func (s *Service) Forget(clerkUserID string) { s.cache.remove(clerkUserID) }

// Reset empties the cache, after a policy reload for one.
func (s *Service) Reset() { s.cache.reset() }

// entry is a cached user with what the request path derives from it.
type entry struct {
	user         *clerkgate.User
	metadataRole string
	memberships  map[string]clerkgate.Membership // by organization id; never changed once cached
	pending      bool
	expires      time.Time
	retryAt      time.Time
}

// userCache is a bounded map of users by Clerk id.
type userCache struct {
	mu   sync.RWMutex
	max  int
	m    map[string]*entry
	busy map[string]time.Time // pending users with a retry claimed
	// gens count the changes (put, remove, reset) of the users whose id
	// hashes to each slot, so that a load from the store that raced with a
	// change does not cache what it read before the change.
	gens [genSlots]uint64
}

const genSlots = 256

func genSlot(id string) int {
	h := uint32(2166136261) // FNV-1a
	for i := 0; i < len(id); i++ {
		h = (h ^ uint32(id[i])) * 16777619
	}
	return int(h % genSlots)
}

// generation is the change count of id's slot, to hand to putIfSame.
func (c *userCache) generation(id string) uint64 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.gens[genSlot(id)]
}

// putIfSame caches e unless id's slot changed since gen was read.
func (c *userCache) putIfSame(id string, e *entry, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gens[genSlot(id)] == gen {
		c.putLocked(id, e)
	}
}

func newUserCache(max int) *userCache {
	return &userCache{max: max, m: make(map[string]*entry), busy: make(map[string]time.Time)}
}

func (c *userCache) get(id string, now time.Time) (*entry, bool) {
	c.mu.RLock()
	e, ok := c.m[id]
	c.mu.RUnlock()
	if !ok || !now.Before(e.expires) {
		return nil, false
	}
	return e, true
}

func (c *userCache) put(id string, e *entry) {
	c.mu.Lock()
	c.gens[genSlot(id)]++
	c.putLocked(id, e)
	c.mu.Unlock()
}

func (c *userCache) putLocked(id string, e *entry) {
	if _, ok := c.m[id]; !ok && len(c.m) >= c.max {
		for k := range c.m { // drop an arbitrary entry
			delete(c.m, k)
			break
		}
	}
	c.m[id] = e
}

func (c *userCache) reset() {
	c.mu.Lock()
	clear(c.m)
	for i := range c.gens {
		c.gens[i]++
	}
	c.mu.Unlock()
}

func (c *userCache) remove(id string) {
	c.mu.Lock()
	c.gens[genSlot(id)]++
	delete(c.m, id)
	c.mu.Unlock()
}

// claimRetry returns true for one caller per retry period of a user.
func (c *userCache) claimRetry(id string, now time.Time, every time.Duration) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t, ok := c.busy[id]; ok && now.Sub(t) < every {
		return false
	}
	if len(c.busy) > 10_000 {
		clear(c.busy)
	}
	c.busy[id] = now
	return true
}

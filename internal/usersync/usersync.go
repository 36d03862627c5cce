// Package usersync keeps the local user store equal to Clerk: it applies
// Clerk webhook events (idempotently, in any order) and reconcile runs that
// page through the Backend API.
package usersync

import (
	"context"
	"time"

	"github.com/clerkgate/clerkgate"
	"github.com/clerkgate/clerkgate/internal/policy"
	"github.com/clerkgate/clerkgate/internal/security"
)

// Store is what synchronisation needs of the local store.
type Store interface {
	clerkgate.UserStore
	clerkgate.LinkStore
	clerkgate.MembershipStore
	clerkgate.DenialStore
	clerkgate.WebhookStore
	clerkgate.UserEventStore
}

// Denier is the in-process deny list that the verifier reads on every
// request (verify.MemoryDenyList implements it).
type Denier interface {
	DenySession(sessionID string, until time.Time)
	DenyUser(userID string)
	AllowUser(userID string)
}

// Options configures a Syncer. Store and Policy are required.
type Options struct {
	Store  Store
	Policy *policy.Policy
	// PolicyFunc, when set, is asked for the current policy instead of
	// Policy (a policy that reloads).
	PolicyFunc func() *policy.Policy
	Denier     Denier             // nil: denials are stored only
	Security   *security.Recorder // nil: no security events
	// Fetch, when set, reads a user from Clerk's Backend API. Two versions
	// of a user can carry the same updated_at (Clerk counts milliseconds);
	// when such a tie carries other data than the stored row, Clerk is
	// asked for the current user, which settles it.
	Fetch func(ctx context.Context, clerkUserID string) (*clerkgate.User, error)
	// OnUser is told of every user row written, so that caches follow.
	OnUser func(*clerkgate.User)
	// OnMembership is told of every membership change stored.
	OnMembership func(clerkgate.Membership)
	// Observe counts one webhook event by type and result (processed,
	// duplicate, stale, ignored, failed, rejected).
	Observe func(eventType, result string)
	// ObserveLag records how long after Clerk's change a user change
	// reached the store.
	ObserveLag func(time.Duration)
	// DenialTTL is how long a session denial lasts at least; 0 means 30
	// days, longer than any session token Clerk's frontend uses (60 s).
	DenialTTL time.Duration
	Now       func() time.Time
}

// Syncer applies Clerk's view of users to the local store.
type Syncer struct {
	o Options
}

// New returns a Syncer.
func New(o Options) *Syncer {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.DenialTTL == 0 {
		o.DenialTTL = 30 * 24 * time.Hour
	}
	if o.PolicyFunc == nil {
		fixed := o.Policy
		o.PolicyFunc = func() *policy.Policy { return fixed }
	}
	if o.OnUser == nil {
		o.OnUser = func(*clerkgate.User) {}
	}
	if o.OnMembership == nil {
		o.OnMembership = func(clerkgate.Membership) {}
	}
	if o.Observe == nil {
		o.Observe = func(string, string) {}
	}
	return &Syncer{o: o}
}

// saveUser stores a Clerk user with its role, tells the caches, keeps the
// in-process deny list in step with bans, and reports whether it changed
// and the stored row.
func (s *Syncer) saveUser(ctx context.Context, u *clerkgate.User) (*clerkgate.User, bool, error) {
	u.Role = s.o.PolicyFunc().StoredRole(u.PublicMetadata)
	stored, changed, err := s.o.Store.SaveClerkUser(ctx, u)
	if err != nil {
		return nil, false, err
	}
	s.stored(stored, changed)
	return stored, changed, nil
}

// stored tells the caches of a user row written (changed or not), and
// keeps the in-process deny list in step with bans and deletions.
func (s *Syncer) stored(u *clerkgate.User, changed bool) {
	s.o.OnUser(u)
	if s.o.Denier != nil && changed {
		switch {
		case u.Deleted() || u.Banned:
			s.o.Denier.DenyUser(u.ClerkUserID)
		default:
			s.o.Denier.AllowUser(u.ClerkUserID)
		}
	}
}

// tombstoneOf is the tombstone of a user deleted now: no personal data,
// the row (and its id) kept, winning over any older event.
func (s *Syncer) tombstoneOf(clerkUserID string) *clerkgate.User {
	now := s.o.Now()
	return &clerkgate.User{ClerkUserID: clerkUserID, DeletedAt: now, ClerkUpdatedAt: now.UnixMilli()}
}

// tombstone stores the tombstone of a user.
func (s *Syncer) tombstone(ctx context.Context, clerkUserID string) (*clerkgate.User, bool, error) {
	return s.saveUser(ctx, s.tombstoneOf(clerkUserID))
}

// StoreUser stores a user that Clerk just returned (after an admin change),
// with its role, as a webhook would.
func (s *Syncer) StoreUser(ctx context.Context, u *clerkgate.User) (*clerkgate.User, bool, error) {
	return s.saveUser(ctx, u)
}

// DeleteUser tombstones a user deleted in Clerk, as user.deleted would.
func (s *Syncer) DeleteUser(ctx context.Context, clerkUserID string) (*clerkgate.User, error) {
	u, _, err := s.tombstone(ctx, clerkUserID)
	return u, err
}

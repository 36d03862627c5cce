package usersync

import (
	"context"

	"github.com/clerkgate/clerkgate"
)

// linkNew gives a Clerk user that the store has no row for (the caller saw
// it absent) the local user it is, if there is one (linkCandidate: by
// external_id, the local id import-legacy gives Clerk, else by verified
// primary email), as a reconcile run would: legacy users keep their local
// id whether a webhook or a run sees them first. It reports whether it
// linked; false means the caller stores u as usual (also when a row with
// u's Clerk id appeared in the meantime, or someone else linked the
// candidate: LinkClerkUser then conflicts, and the save updates that row).
func (s *Syncer) linkNew(ctx context.Context, u *clerkgate.User) (bool, error) {
	if u.Deleted() {
		return false, nil
	}
	local, err := s.linkCandidate(ctx, u)
	if err != nil || local == nil {
		return false, err
	}
	u.Role = s.o.PolicyFunc().StoredRole(u.PublicMetadata)
	linked, err := s.o.Store.LinkClerkUser(ctx, local.ID, u)
	switch {
	case clerkgate.ErrorCode(err) == clerkgate.CodeConflict:
		return false, nil
	case err != nil:
		return false, err
	}
	s.o.OnUser(linked)
	if s.o.Denier != nil && linked.Banned {
		s.o.Denier.DenyUser(linked.ClerkUserID)
	}
	return true, nil
}

// StoreSeenUser stores a Clerk user that the service meets outside a
// webhook, such as the just-in-time fetch when a token arrives before its
// user.created: a legacy user it is gets linked and keeps its local id, as
// a webhook or a reconcile run would do.
func (s *Syncer) StoreSeenUser(ctx context.Context, u *clerkgate.User) (*clerkgate.User, error) {
	linked, err := s.linkNew(ctx, u)
	if err != nil {
		return nil, err
	}
	if linked {
		return s.o.Store.UserByClerkID(ctx, u.ClerkUserID)
	}
	stored, _, err := s.saveUser(ctx, u)
	return stored, err
}

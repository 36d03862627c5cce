package usersync

import (
	"context"

	"github.com/clerkgate/clerkgate"
)

// linkNew gives a Clerk user that is not stored yet the local user it is,
// if there is one (linkCandidate: by external_id, the local id
// import-legacy gives Clerk, else by verified primary email), as a
// reconcile run would: legacy users keep their local id whether a webhook
// or a run sees them first. It reports whether it linked; false means the
// caller stores u as usual (also when someone else linked the candidate in
// the meantime: the row then has u's Clerk id and the save updates it).
func (s *Syncer) linkNew(ctx context.Context, u *clerkgate.User) (bool, error) {
	if u.Deleted() {
		return false, nil
	}
	_, err := s.o.Store.UserByClerkID(ctx, u.ClerkUserID)
	if clerkgate.ErrorCode(err) != clerkgate.CodeNotFound {
		return false, err // stored already (nil), or the store failed
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

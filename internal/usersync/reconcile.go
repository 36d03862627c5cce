package usersync

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"time"

	"github.com/clerkgate/clerkgate"
)

// Clerk is what a reconcile run needs of the Backend API.
type Clerk interface {
	// ListUsersAfter returns up to limit users in creation order, after the
	// user afterID ("" for the first page).
	ListUsersAfter(ctx context.Context, limit int, afterID string) ([]*clerkgate.User, error)
	// GetUser returns one user; a user Clerk does not know is CodeNotFound.
	GetUser(ctx context.Context, clerkUserID string) (*clerkgate.User, error)
}

// Counts are the outcome of a reconcile run: what it changed, or would
// change in a dry run.
type Counts struct {
	Created   int `json:"created"`
	Updated   int `json:"updated"`
	Linked    int `json:"linked"`
	Deleted   int `json:"deleted"`
	Unchanged int `json:"unchanged"`
	Seen      int `json:"seen"` // Clerk users read
}

// String is the one-line summary "created=1 updated=2 ...".
func (c Counts) String() string {
	return fmt.Sprintf("created=%d updated=%d linked=%d deleted=%d unchanged=%d seen=%d",
		c.Created, c.Updated, c.Linked, c.Deleted, c.Unchanged, c.Seen)
}

// ReconcileOptions tunes a run.
type ReconcileOptions struct {
	DryRun   bool
	PageSize int // 1..500; 0 means 500
	// Progress, when set, is called after every page with the counts so far.
	Progress func(Counts)
	// OnChange, when set, is told of every change the run makes, or with
	// DryRun would make, as it counts it.
	OnChange func(Change)
}

// Change is one change of a reconcile run: Action is "create", "update",
// "link" or "delete"; ClerkUserID is the Clerk user; LocalID is the local
// user's id where one exists already (update, link, delete). No personal
// data: ids only.
type Change struct {
	Action      string
	ClerkUserID string
	LocalID     string
}

// Reconcile makes the local store equal to Clerk: it pages through every
// Clerk user and stores it (a newer stored version wins, so webhooks may
// arrive meanwhile), links local users without a Clerk id by external_id
// (their local id) or verified email, and tombstones live local users that
// Clerk no longer has. A deletion is confirmed with Clerk user by user
// first, so a user created while the run pages is never taken for gone.
// Every step is idempotent: an interrupted run is finished by running it
// again. It holds only the set of Clerk ids in memory, never the users.
func (s *Syncer) Reconcile(ctx context.Context, clerk Clerk, o ReconcileOptions) (Counts, error) {
	if o.PageSize <= 0 || o.PageSize > 500 {
		o.PageSize = 500
	}
	var c Counts
	seen := make(map[string]struct{})
	after := ""
	for {
		users, err := clerk.ListUsersAfter(ctx, o.PageSize, after)
		if err != nil {
			return c, fmt.Errorf("listing Clerk users: %w", err)
		}
		for _, u := range users {
			seen[u.ClerkUserID] = struct{}{}
			c.Seen++
			if err := s.reconcileUser(ctx, u, o, &c); err != nil {
				return c, err
			}
		}
		if o.Progress != nil {
			o.Progress(c)
		}
		if len(users) < o.PageSize {
			break
		}
		after = users[len(users)-1].ClerkUserID
	}
	if err := s.reconcileGone(ctx, clerk, seen, o, &c); err != nil {
		return c, err
	}
	if o.Progress != nil {
		o.Progress(c)
	}
	return c, nil
}

// reconcileUser stores, links or creates one Clerk user.
func (s *Syncer) reconcileUser(ctx context.Context, u *clerkgate.User, o ReconcileOptions, c *Counts) error {
	dry := o.DryRun
	report := func(action, localID string) {
		if o.OnChange != nil {
			o.OnChange(Change{Action: action, ClerkUserID: u.ClerkUserID, LocalID: localID})
		}
	}
	existing, err := s.o.Store.UserByClerkID(ctx, u.ClerkUserID)
	switch {
	case err == nil:
		if !newer(u, existing) {
			c.Unchanged++
			return nil
		}
		if dry {
			c.Updated++
			report("update", existing.ID)
			return nil
		}
		if _, changed, err := s.saveUser(ctx, u); err != nil {
			return err
		} else if changed {
			c.Updated++
			report("update", existing.ID)
		} else {
			c.Unchanged++
		}
		return nil
	case clerkgate.ErrorCode(err) != clerkgate.CodeNotFound:
		return err
	}
	local, err := s.linkCandidate(ctx, u)
	if err != nil {
		return err
	}
	if local != nil {
		c.Linked++
		report("link", local.ID)
		if dry {
			return nil
		}
		u.Role = s.o.PolicyFunc().StoredRole(u.PublicMetadata)
		linked, err := s.o.Store.LinkClerkUser(ctx, local.ID, u)
		if err != nil {
			return fmt.Errorf("linking a local user: %w", err)
		}
		s.o.OnUser(linked)
		return nil
	}
	c.Created++
	report("create", "")
	if dry {
		return nil
	}
	_, _, err = s.saveUser(ctx, u)
	return err
}

// newer reports whether Clerk's u differs from the stored row in a way a
// save would write: a newer version, or the same version with other data.
func newer(u, stored *clerkgate.User) bool {
	if stored.Deleted() {
		return false
	}
	if u.ClerkUpdatedAt != stored.ClerkUpdatedAt {
		return u.ClerkUpdatedAt > stored.ClerkUpdatedAt
	}
	return differs(u, stored)
}

// differs reports whether u carries other data than stored.
func differs(u, stored *clerkgate.User) bool {
	return u.Email != stored.Email || u.FirstName != stored.FirstName || u.LastName != stored.LastName ||
		u.ImageURL != stored.ImageURL || u.Banned != stored.Banned || u.ExternalID != stored.ExternalID ||
		!sameJSON(u.PublicMetadata, stored.PublicMetadata)
}

// sameJSON reports whether two JSON texts hold the same value. A store may
// give metadata back in a form of its own: PostgreSQL's jsonb has its own
// spacing and key order.
func sameJSON(a, b json.RawMessage) bool {
	if bytes.Equal(a, b) {
		return true
	}
	if len(a) == 0 || len(b) == 0 {
		return false
	}
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}

// linkCandidate finds the local user without a Clerk id that u is: by
// external_id (the local id import-legacy gives Clerk), else by verified
// primary email. nil when there is none.
func (s *Syncer) linkCandidate(ctx context.Context, u *clerkgate.User) (*clerkgate.User, error) {
	if u.ExternalID != "" {
		local, err := s.o.Store.UserByID(ctx, u.ExternalID)
		switch {
		case err == nil && local.ClerkUserID == "" && !local.Deleted():
			return local, nil
		case err != nil && clerkgate.ErrorCode(err) != clerkgate.CodeNotFound:
			return nil, err
		}
	}
	if u.Email == "" || !u.EmailVerified {
		return nil, nil
	}
	local, err := s.o.Store.UnlinkedUserByEmail(ctx, u.Email)
	switch clerkgate.ErrorCode(err) {
	case "":
		return local, nil
	case clerkgate.CodeNotFound, clerkgate.CodeConflict:
		return nil, nil // none, or ambiguous: never guess
	}
	return nil, err
}

// reconcileGone tombstones live local users with a Clerk id that the run
// did not see, once Clerk confirms they are gone.
func (s *Syncer) reconcileGone(ctx context.Context, clerk Clerk, seen map[string]struct{}, o ReconcileOptions, c *Counts) error {
	q := clerkgate.UserQuery{Limit: 200}
	for {
		page, next, err := s.o.Store.ListUsers(ctx, q)
		if err != nil {
			return fmt.Errorf("listing local users: %w", err)
		}
		for _, u := range page {
			if u.ClerkUserID == "" || u.Deleted() {
				continue
			}
			if _, ok := seen[u.ClerkUserID]; ok {
				continue
			}
			_, err := clerk.GetUser(ctx, u.ClerkUserID)
			switch clerkgate.ErrorCode(err) {
			case "":
				continue // created while the run paged
			case clerkgate.CodeNotFound:
			default:
				return fmt.Errorf("confirming a deletion with Clerk: %w", err)
			}
			c.Deleted++
			if o.OnChange != nil {
				o.OnChange(Change{Action: "delete", ClerkUserID: u.ClerkUserID, LocalID: u.ID})
			}
			if o.DryRun {
				continue
			}
			if _, _, err := s.tombstone(ctx, u.ClerkUserID); err != nil {
				return err
			}
			s.o.Security.Record(ctx, clerkgate.SecurityEvent{Kind: clerkgate.EventUserDeleted, UserID: u.ID},
				map[string]any{"clerk_user_id": u.ClerkUserID, "source": "reconcile"})
		}
		if next == "" {
			return nil
		}
		q.Cursor = next
	}
}

// Run is one reconcile run started through the admin API.
type Run struct {
	ID         string    `json:"id"`
	Status     string    `json:"status"` // running, succeeded, failed
	DryRun     bool      `json:"dry_run"`
	Counts     Counts    `json:"counts"`
	Error      string    `json:"error,omitempty"`
	StartedAt  time.Time `json:"started_at"`
	FinishedAt time.Time `json:"finished_at,omitzero"`
}

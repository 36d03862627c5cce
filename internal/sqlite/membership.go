package sqlite

import (
	"context"
	"database/sql"
	"errors"

	clerkgate "github.com/clerkgate/clerkgate"
	"github.com/clerkgate/clerkgate/internal/storecheck"
)

// saveMembership inserts a membership or overwrites the stored one under
// the conditions of clerkgate.MembershipStore.SaveMembership, in one
// statement: the WHERE of the upsert skips older versions, a live version
// equal to a stored tombstone's, and overwrites that would change nothing;
// RETURNING yields a row only when the row changed.
const saveMembership = `INSERT INTO org_memberships (org_id, clerk_user_id, org_slug, role, clerk_updated_at, deleted, updated_at)
VALUES (?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (org_id, clerk_user_id) DO UPDATE SET
	org_slug         = excluded.org_slug,
	role             = excluded.role,
	clerk_updated_at = excluded.clerk_updated_at,
	deleted          = excluded.deleted,
	updated_at       = excluded.updated_at
WHERE (org_memberships.clerk_updated_at < excluded.clerk_updated_at
		OR (org_memberships.clerk_updated_at = excluded.clerk_updated_at
			AND (excluded.deleted = 1 OR org_memberships.deleted = 0)))
	AND (org_memberships.org_slug IS NOT excluded.org_slug
		OR org_memberships.role IS NOT excluded.role
		OR org_memberships.clerk_updated_at IS NOT excluded.clerk_updated_at
		OR org_memberships.deleted IS NOT excluded.deleted)
RETURNING 1`

// SaveMembership implements clerkgate.MembershipStore.SaveMembership.
func (s *Store) SaveMembership(ctx context.Context, m clerkgate.Membership) (bool, error) {
	if err := storecheck.Membership(m); err != nil {
		return false, err
	}
	st, err := s.stmt(ctx, &s.saveMembership, s.w, saveMembership)
	if err != nil {
		return false, mapError("save membership", err)
	}
	var one int
	err = st.QueryRowContext(ctx, m.OrgID, m.ClerkUserID, m.OrgSlug, m.Role, m.ClerkUpdatedAt, m.Deleted, s.now().UnixMilli()).Scan(&one)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return false, nil
	case err != nil:
		return false, mapError("save membership", err)
	}
	return true, nil
}

// Memberships implements clerkgate.MembershipStore.Memberships, ordered by
// organization id.
func (s *Store) Memberships(ctx context.Context, clerkUserID string, includeDeleted bool) ([]clerkgate.Membership, error) {
	if clerkUserID == "" || !storecheck.Text(clerkUserID) {
		return nil, nil
	}
	rows, err := s.r.QueryContext(ctx, `SELECT org_id, org_slug, role, clerk_updated_at, deleted FROM org_memberships
		WHERE clerk_user_id = ? AND (deleted = 0 OR ?) ORDER BY org_id`, clerkUserID, includeDeleted)
	if err != nil {
		return nil, mapError("memberships", err)
	}
	defer rows.Close()
	var out []clerkgate.Membership
	for rows.Next() {
		m := clerkgate.Membership{ClerkUserID: clerkUserID}
		if err := rows.Scan(&m.OrgID, &m.OrgSlug, &m.Role, &m.ClerkUpdatedAt, &m.Deleted); err != nil {
			return nil, mapError("memberships", err)
		}
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, mapError("memberships", err)
	}
	return out, nil
}

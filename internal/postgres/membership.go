package postgres

import (
	"context"
	"errors"

	clerkgate "github.com/clerkgate/clerkgate"
	"github.com/clerkgate/clerkgate/internal/storecheck"
	"github.com/jackc/pgx/v5"
)

// saveMembership inserts a membership or overwrites the stored one under
// the conditions of clerkgate.MembershipStore.SaveMembership, in one
// statement: the WHERE of the upsert skips older versions, a live version
// equal to a stored tombstone's, and overwrites that would change nothing;
// RETURNING yields a row only when the row changed. ON CONFLICT locks the
// existing row, so concurrent saves are applied one after the other, each
// against the latest version.
const saveMembership = `INSERT INTO org_memberships AS m (org_id, clerk_user_id, org_slug, role, clerk_updated_at, deleted, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (org_id, clerk_user_id) DO UPDATE SET
	org_slug         = EXCLUDED.org_slug,
	role             = EXCLUDED.role,
	clerk_updated_at = EXCLUDED.clerk_updated_at,
	deleted          = EXCLUDED.deleted,
	updated_at       = EXCLUDED.updated_at
WHERE (m.clerk_updated_at < EXCLUDED.clerk_updated_at
		OR (m.clerk_updated_at = EXCLUDED.clerk_updated_at AND (EXCLUDED.deleted OR NOT m.deleted)))
	AND (m.org_slug, m.role, m.clerk_updated_at, m.deleted)
		IS DISTINCT FROM (EXCLUDED.org_slug, EXCLUDED.role, EXCLUDED.clerk_updated_at, EXCLUDED.deleted)
RETURNING true`

// SaveMembership implements clerkgate.MembershipStore.SaveMembership.
func (s *Store) SaveMembership(ctx context.Context, m clerkgate.Membership) (bool, error) {
	if err := storecheck.Membership(m); err != nil {
		return false, err
	}
	var changed bool
	err := s.pool.QueryRow(ctx, saveMembership,
		m.OrgID, m.ClerkUserID, m.OrgSlug, m.Role, m.ClerkUpdatedAt, m.Deleted, millis(s.now())).Scan(&changed)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return false, nil
	case err != nil:
		return false, mapError("save membership", err)
	}
	return changed, nil
}

// Memberships implements clerkgate.MembershipStore.Memberships, ordered by
// organization id.
func (s *Store) Memberships(ctx context.Context, clerkUserID string, includeDeleted bool) ([]clerkgate.Membership, error) {
	if clerkUserID == "" || !storecheck.Text(clerkUserID) {
		return nil, nil
	}
	rows, err := s.pool.Query(ctx, `SELECT org_id, org_slug, role, clerk_updated_at, deleted FROM org_memberships
		WHERE clerk_user_id = $1 AND (NOT deleted OR $2) ORDER BY org_id`, clerkUserID, includeDeleted)
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

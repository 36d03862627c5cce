package postgres

import (
	"context"
	"errors"

	clerkgate "github.com/clerkgate/clerkgate"
	"github.com/clerkgate/clerkgate/internal/storecheck"
	"github.com/jackc/pgx/v5"
)

// createLocalUser inserts a user without a Clerk id.
const createLocalUser = `INSERT INTO users (` + userColumns + `, password_digest)
VALUES ($1, NULL, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 0, $12, $13, $14, $15)
RETURNING ` + userColumns

// unlinkedByEmail finds the live users without a Clerk id by email; two
// rows are enough to tell that there are several.
const unlinkedByEmail = `SELECT ` + userColumns + ` FROM users
WHERE lower(email) = lower($1) AND clerk_user_id IS NULL AND deleted_at IS NULL
ORDER BY created_at, id LIMIT 2`

// linkUser gives a live user without a Clerk id the Clerk identity and
// fields of a Clerk user, in one statement whose WHERE is the condition.
// Of two concurrent links of one user, the second waits for the first's
// row lock, then re-checks the WHERE against the committed row and finds
// clerk_user_id set. The legacy password digest is erased: Clerk holds the
// password from now on.
const linkUser = `UPDATE users SET
	clerk_user_id    = $1,
	email            = $2,
	email_verified   = $3,
	first_name       = $4,
	last_name        = $5,
	image_url        = $6,
	role             = $7,
	public_metadata  = $8,
	external_id      = $9,
	banned           = $10,
	last_sign_in_at  = $11,
	clerk_updated_at = $12,
	updated_at       = $13,
	deleted_at       = $14,
	password_digest  = ''
WHERE id = $15 AND clerk_user_id IS NULL AND deleted_at IS NULL
RETURNING ` + userColumns

// CreateLocalUser implements clerkgate.LinkStore.CreateLocalUser.
func (s *Store) CreateLocalUser(ctx context.Context, u *clerkgate.User) (*clerkgate.User, error) {
	if err := storecheck.LocalUser(u); err != nil {
		return nil, err
	}
	now := millis(s.now())
	id := u.ID
	if id == "" {
		id = clerkgate.NewUserID(now)
	}
	created := u.CreatedAt
	if created.IsZero() {
		created = now
	}
	row := s.pool.QueryRow(ctx, createLocalUser,
		id, u.Email, u.EmailVerified, u.FirstName, u.LastName, u.ImageURL, u.Role,
		metadata(u.PublicMetadata), nullString(u.ExternalID), u.Banned, nullTime(u.LastSignInAt),
		millis(created), now, nullTime(u.DeletedAt), u.PasswordDigest)
	stored, err := scanUser(row)
	if err != nil {
		return nil, mapError("create local user", err)
	}
	return stored, nil
}

// UnlinkedUserByEmail implements clerkgate.LinkStore.UnlinkedUserByEmail.
// Case is ignored as the database's lower() does it (for every letter in a
// UTF-8 database with a Unicode locale, for ASCII letters at least). An
// empty email matches nobody.
func (s *Store) UnlinkedUserByEmail(ctx context.Context, email string) (*clerkgate.User, error) {
	if email == "" || !storecheck.Text(email) {
		return nil, storecheck.UserNotFound()
	}
	rows, err := s.pool.Query(ctx, unlinkedByEmail, email)
	if err != nil {
		return nil, mapError("unlinked user by email", err)
	}
	defer rows.Close()
	var found []*clerkgate.User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, mapError("unlinked user by email", err)
		}
		found = append(found, u)
	}
	if err := rows.Err(); err != nil {
		return nil, mapError("unlinked user by email", err)
	}
	return storecheck.OneUnlinked(found)
}

// LinkClerkUser implements clerkgate.LinkStore.LinkClerkUser in one
// conditional UPDATE; when it changes nothing, the row is read to tell a
// missing user from one that cannot be linked.
func (s *Store) LinkClerkUser(ctx context.Context, localID string, u *clerkgate.User) (*clerkgate.User, error) {
	if err := storecheck.User(u); err != nil {
		return nil, err
	}
	if localID == "" || !storecheck.Text(localID) {
		return nil, storecheck.UserNotFound()
	}
	now := millis(s.now())
	row := s.pool.QueryRow(ctx, linkUser,
		u.ClerkUserID, u.Email, u.EmailVerified, u.FirstName, u.LastName, u.ImageURL, u.Role,
		metadata(u.PublicMetadata), nullString(u.ExternalID), u.Banned, nullTime(u.LastSignInAt),
		u.ClerkUpdatedAt, now, nullTime(u.DeletedAt), localID)
	stored, err := scanUser(row)
	switch {
	case err == nil:
		return stored, nil
	case !errors.Is(err, pgx.ErrNoRows):
		return nil, mapConflict("link user", "the Clerk user is linked to another user", err)
	}
	if _, err := s.UserByID(ctx, localID); err != nil {
		return nil, err
	}
	return nil, storecheck.Conflict("the user is linked already or deleted")
}

// metadata is the value of a public_metadata column: NULL for none.
func metadata(m []byte) any {
	if len(m) == 0 {
		return nil
	}
	return string(m)
}

package sqlite

import (
	"context"
	"database/sql"
	"errors"

	clerkgate "github.com/clerkgate/clerkgate"
	"github.com/clerkgate/clerkgate/internal/storecheck"
)

// createLocalUser inserts a user without a Clerk id.
const createLocalUser = `INSERT INTO users (` + userColumns + `, password_digest)
VALUES (?, NULL, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?)
RETURNING ` + userColumns

// unlinkedByEmail finds the live users without a Clerk id by email; two
// rows are enough to tell that there are several.
const unlinkedByEmail = `SELECT ` + userColumns + ` FROM users
WHERE lower(email) = lower(?) AND clerk_user_id IS NULL AND deleted_at IS NULL
ORDER BY created_at, id LIMIT 2`

// linkUser gives a live user without a Clerk id the Clerk identity and
// fields of a Clerk user, in one statement whose WHERE is the condition:
// of two links of one user, the second finds clerk_user_id set. The legacy
// password digest is erased: Clerk holds the password from now on.
const linkUser = `UPDATE users SET
	clerk_user_id    = ?,
	email            = ?,
	email_verified   = ?,
	first_name       = ?,
	last_name        = ?,
	image_url        = ?,
	role             = ?,
	public_metadata  = ?,
	external_id      = ?,
	banned           = ?,
	last_sign_in_at  = ?,
	clerk_updated_at = ?,
	updated_at       = ?,
	deleted_at       = ?,
	password_digest  = ''
WHERE id = ? AND clerk_user_id IS NULL AND deleted_at IS NULL
RETURNING ` + userColumns

// CreateLocalUser implements clerkgate.LinkStore.CreateLocalUser.
func (s *Store) CreateLocalUser(ctx context.Context, u *clerkgate.User) (*clerkgate.User, error) {
	if err := storecheck.LocalUser(u); err != nil {
		return nil, err
	}
	now := s.now()
	id := u.ID
	if id == "" {
		id = clerkgate.NewUserID(now)
	}
	created := u.CreatedAt
	if created.IsZero() {
		created = now
	}
	row := s.w.QueryRowContext(ctx, createLocalUser,
		id, u.Email, u.EmailVerified, u.FirstName, u.LastName, u.ImageURL, u.Role,
		metadata(u.PublicMetadata), nullString(u.ExternalID), u.Banned, nullMillis(u.LastSignInAt),
		created.UnixMilli(), now.UnixMilli(), nullMillis(u.DeletedAt), u.PasswordDigest)
	stored, err := scanUser(row)
	if err != nil {
		return nil, mapError("create local user", err)
	}
	return stored, nil
}

// UnlinkedUserByEmail implements clerkgate.LinkStore.UnlinkedUserByEmail.
// Case is ignored for ASCII letters (SQLite's lower). An empty email
// matches nobody.
func (s *Store) UnlinkedUserByEmail(ctx context.Context, email string) (*clerkgate.User, error) {
	if email == "" || !storecheck.Text(email) {
		return nil, storecheck.UserNotFound()
	}
	rows, err := s.r.QueryContext(ctx, unlinkedByEmail, email)
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
	now := s.now()
	row := s.w.QueryRowContext(ctx, linkUser,
		u.ClerkUserID, u.Email, u.EmailVerified, u.FirstName, u.LastName, u.ImageURL, u.Role,
		metadata(u.PublicMetadata), nullString(u.ExternalID), u.Banned, nullMillis(u.LastSignInAt),
		u.ClerkUpdatedAt, now.UnixMilli(), nullMillis(u.DeletedAt), localID)
	stored, err := scanUser(row)
	switch {
	case err == nil:
		return stored, nil
	case !errors.Is(err, sql.ErrNoRows):
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

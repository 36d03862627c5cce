package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	clerkgate "github.com/clerkgate/clerkgate"
	"github.com/clerkgate/clerkgate/internal/storecheck"
	"github.com/jackc/pgx/v5"
)

// userColumns are the columns of users in the order scanUser reads them.
const userColumns = `id, clerk_user_id, email, email_verified, first_name, last_name, image_url, role,
	public_metadata, external_id, banned, last_sign_in_at, clerk_updated_at, created_at, updated_at, deleted_at`

// upsertUser inserts a user or overwrites the row with its Clerk id under
// the conditions of clerkgate.UserStore.SaveClerkUser, in one statement.
const upsertUser = `INSERT INTO users AS u (` + userColumns + `)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
` + onConflictUser

// onConflictUser is the conflict clause of upsertUser: its WHERE skips
// tombstones, older versions and overwrites that would change nothing.
// ON CONFLICT locks the existing row (also when the WHERE leaves it
// alone), so concurrent saves of one user are applied one after the
// other, each against the latest version.
const onConflictUser = `ON CONFLICT (clerk_user_id) DO UPDATE SET
	email            = EXCLUDED.email,
	email_verified   = EXCLUDED.email_verified,
	first_name       = EXCLUDED.first_name,
	last_name        = EXCLUDED.last_name,
	image_url        = EXCLUDED.image_url,
	role             = EXCLUDED.role,
	public_metadata  = EXCLUDED.public_metadata,
	external_id      = EXCLUDED.external_id,
	banned           = EXCLUDED.banned,
	last_sign_in_at  = EXCLUDED.last_sign_in_at,
	clerk_updated_at = GREATEST(u.clerk_updated_at, EXCLUDED.clerk_updated_at),
	updated_at       = EXCLUDED.updated_at,
	deleted_at       = EXCLUDED.deleted_at
WHERE u.deleted_at IS NULL
	AND (EXCLUDED.deleted_at IS NOT NULL OR u.clerk_updated_at <= EXCLUDED.clerk_updated_at)
	AND (u.email, u.email_verified, u.first_name, u.last_name, u.image_url, u.role, u.public_metadata,
		u.external_id, u.banned, u.last_sign_in_at, u.clerk_updated_at, u.deleted_at)
	IS DISTINCT FROM
		(EXCLUDED.email, EXCLUDED.email_verified, EXCLUDED.first_name, EXCLUDED.last_name, EXCLUDED.image_url,
		EXCLUDED.role, EXCLUDED.public_metadata, EXCLUDED.external_id, EXCLUDED.banned, EXCLUDED.last_sign_in_at,
		EXCLUDED.clerk_updated_at, EXCLUDED.deleted_at)`

// saveUser is upsertUser for SaveClerkUser: RETURNING yields the row only
// when it changed.
const saveUser = upsertUser + `
RETURNING ` + userColumns

// UserByID returns the user with local id id, tombstones included.
func (s *Store) UserByID(ctx context.Context, id string) (*clerkgate.User, error) {
	if !storecheck.Text(id) {
		return nil, storecheck.UserNotFound()
	}
	row := s.pool.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE id = $1`, id)
	return getUser(row, "user by id")
}

// UserByClerkID returns the user with Clerk id clerkUserID, tombstones
// included.
func (s *Store) UserByClerkID(ctx context.Context, clerkUserID string) (*clerkgate.User, error) {
	if !storecheck.Text(clerkUserID) {
		return nil, storecheck.UserNotFound()
	}
	row := s.pool.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE clerk_user_id = $1`, clerkUserID)
	return getUser(row, "user by clerk id")
}

// SaveClerkUser implements clerkgate.UserStore.SaveClerkUser in one upsert
// statement; when it changes nothing, the row as stored is read afterwards
// (a new statement, so it sees a row a concurrent save has just committed).
func (s *Store) SaveClerkUser(ctx context.Context, u *clerkgate.User) (*clerkgate.User, bool, error) {
	if err := storecheck.User(u); err != nil {
		return nil, false, err
	}
	row := s.pool.QueryRow(ctx, saveUser, s.userArgs(u)...)
	stored, err := scanUser(row)
	switch {
	case err == nil:
		return stored, true, nil
	case !errors.Is(err, pgx.ErrNoRows):
		return nil, false, mapError("save user", err)
	}
	// The row exists and was left alone; rows are never removed, so it is
	// still there.
	stored, err = s.UserByClerkID(ctx, u.ClerkUserID)
	if err != nil {
		return nil, false, err
	}
	return stored, false, nil
}

// userArgs are the 16 arguments of upsertUser for u: a new row gets u.ID
// if set, else NewUserID, and u.CreatedAt if set, else now; UpdatedAt is
// now.
func (s *Store) userArgs(u *clerkgate.User, extra ...any) []any {
	now := s.now().UTC().Truncate(time.Millisecond)
	id := u.ID
	if id == "" {
		id = clerkgate.NewUserID(now)
	}
	created := u.CreatedAt
	if created.IsZero() {
		created = now
	}
	return append([]any{
		id, u.ClerkUserID, u.Email, u.EmailVerified, u.FirstName, u.LastName, u.ImageURL, u.Role,
		metadata(u.PublicMetadata), nullString(u.ExternalID), u.Banned, nullTime(u.LastSignInAt), u.ClerkUpdatedAt,
		millis(created), now, nullTime(u.DeletedAt),
	}, extra...)
}

// getUser scans one user or answers CodeNotFound.
func getUser(row pgx.Row, op string) (*clerkgate.User, error) {
	u, err := scanUser(row)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return nil, storecheck.UserNotFound()
	case err != nil:
		return nil, mapError(op, err)
	}
	return u, nil
}

// scanUser reads the columns of userColumns.
func scanUser(row pgx.Row, extra ...any) (*clerkgate.User, error) {
	var (
		u                   clerkgate.User
		clerkID, externalID *string
		meta                []byte
		lastSignIn, deleted *time.Time
	)
	dest := []any{&u.ID, &clerkID, &u.Email, &u.EmailVerified, &u.FirstName, &u.LastName, &u.ImageURL, &u.Role,
		&meta, &externalID, &u.Banned, &lastSignIn, &u.ClerkUpdatedAt, &u.CreatedAt, &u.UpdatedAt, &deleted}
	err := row.Scan(append(dest, extra...)...)
	if err != nil {
		return nil, err
	}
	if clerkID != nil {
		u.ClerkUserID = *clerkID
	}
	if externalID != nil {
		u.ExternalID = *externalID
	}
	if meta != nil {
		u.PublicMetadata = json.RawMessage(meta)
	}
	u.CreatedAt, u.UpdatedAt = u.CreatedAt.UTC(), u.UpdatedAt.UTC()
	if lastSignIn != nil {
		u.LastSignInAt = lastSignIn.UTC()
	}
	if deleted != nil {
		u.DeletedAt = deleted.UTC()
	}
	return &u, nil
}

// nullString is s, or NULL for "".
func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// millis is t in UTC truncated to the millisecond, the precision of the
// store (timestamptz has microseconds; SQLite and Clerk have milliseconds).
func millis(t time.Time) time.Time { return t.UTC().Truncate(time.Millisecond) }

// nullTime is millis(t), or NULL for the zero time.
func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return millis(t)
}

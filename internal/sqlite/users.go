package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"time"

	clerkgate "github.com/clerkgate/clerkgate"
	"github.com/clerkgate/clerkgate/internal/storecheck"
)

// userColumns are the columns of users in the order scanUser reads them.
const userColumns = `id, clerk_user_id, email, email_verified, first_name, last_name, image_url, role,
	public_metadata, external_id, banned, last_sign_in_at, clerk_updated_at, created_at, updated_at, deleted_at`

// upsertUser inserts a user or overwrites the row with its Clerk id under
// the conditions of clerkgate.UserStore.SaveClerkUser, in one statement: the
// WHERE of the upsert skips tombstones, older versions and overwrites that
// would change nothing.
const upsertUser = `INSERT INTO users (` + userColumns + `)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (clerk_user_id) DO UPDATE SET
	email            = excluded.email,
	email_verified   = excluded.email_verified,
	first_name       = excluded.first_name,
	last_name        = excluded.last_name,
	image_url        = excluded.image_url,
	role             = excluded.role,
	public_metadata  = excluded.public_metadata,
	external_id      = excluded.external_id,
	banned           = excluded.banned,
	last_sign_in_at  = excluded.last_sign_in_at,
	clerk_updated_at = max(users.clerk_updated_at, excluded.clerk_updated_at),
	updated_at       = excluded.updated_at,
	deleted_at       = excluded.deleted_at
WHERE users.deleted_at IS NULL
	AND (excluded.deleted_at IS NOT NULL OR users.clerk_updated_at <= excluded.clerk_updated_at)
	AND (users.email IS NOT excluded.email
		OR users.email_verified IS NOT excluded.email_verified
		OR users.first_name IS NOT excluded.first_name
		OR users.last_name IS NOT excluded.last_name
		OR users.image_url IS NOT excluded.image_url
		OR users.role IS NOT excluded.role
		OR users.public_metadata IS NOT excluded.public_metadata
		OR users.external_id IS NOT excluded.external_id
		OR users.banned IS NOT excluded.banned
		OR users.last_sign_in_at IS NOT excluded.last_sign_in_at
		OR users.clerk_updated_at IS NOT excluded.clerk_updated_at
		OR users.deleted_at IS NOT excluded.deleted_at)`

// saveUser is upsertUser for SaveClerkUser: RETURNING yields the row only
// when it changed.
const saveUser = upsertUser + `
RETURNING ` + userColumns

// UserByID returns the user with local id id, tombstones included.
func (s *Store) UserByID(ctx context.Context, id string) (*clerkgate.User, error) {
	if !storecheck.Text(id) {
		return nil, storecheck.UserNotFound()
	}
	st, err := s.stmt(ctx, &s.byID, s.r, `SELECT `+userColumns+` FROM users WHERE id = ?`)
	if err != nil {
		return nil, mapError("user by id", err)
	}
	return getUser(st.QueryRowContext(ctx, id), "user by id")
}

// UserByClerkID returns the user with Clerk id clerkUserID, tombstones
// included.
func (s *Store) UserByClerkID(ctx context.Context, clerkUserID string) (*clerkgate.User, error) {
	if !storecheck.Text(clerkUserID) {
		return nil, storecheck.UserNotFound()
	}
	st, err := s.stmt(ctx, &s.byClerkID, s.r, `SELECT `+userColumns+` FROM users WHERE clerk_user_id = ?`)
	if err != nil {
		return nil, mapError("user by clerk id", err)
	}
	return getUser(st.QueryRowContext(ctx, clerkUserID), "user by clerk id")
}

// SaveClerkUser implements clerkgate.UserStore.SaveClerkUser in one upsert
// statement; when it changes nothing, the row as stored is read afterwards.
func (s *Store) SaveClerkUser(ctx context.Context, u *clerkgate.User) (*clerkgate.User, bool, error) {
	if err := storecheck.User(u); err != nil {
		return nil, false, err
	}
	st, err := s.stmt(ctx, &s.save, s.w, saveUser)
	if err != nil {
		return nil, false, mapError("save user", err)
	}
	stored, err := scanUser(st.QueryRowContext(ctx, s.userArgs(u)...))
	switch {
	case err == nil:
		return stored, true, nil
	case !errors.Is(err, sql.ErrNoRows):
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
	now := s.now()
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
		metadata(u.PublicMetadata), nullString(u.ExternalID), u.Banned, nullMillis(u.LastSignInAt), u.ClerkUpdatedAt,
		created.UnixMilli(), now.UnixMilli(), nullMillis(u.DeletedAt),
	}, extra...)
}

// getUser scans one user or answers CodeNotFound.
func getUser(row *sql.Row, op string) (*clerkgate.User, error) {
	u, err := scanUser(row)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, storecheck.UserNotFound()
	case err != nil:
		return nil, mapError(op, err)
	}
	return u, nil
}

// scanUser reads the columns of userColumns, then those of extra (the
// password digest, for one).
func scanUser(row interface{ Scan(...any) error }, extra ...any) (*clerkgate.User, error) {
	var (
		u                          clerkgate.User
		clerkID, externalID        sql.NullString
		meta                       []byte
		lastSignIn, deleted        sql.NullInt64
		clerkUpdated, created, upd int64
	)
	dest := []any{&u.ID, &clerkID, &u.Email, &u.EmailVerified, &u.FirstName, &u.LastName, &u.ImageURL, &u.Role,
		&meta, &externalID, &u.Banned, &lastSignIn, &clerkUpdated, &created, &upd, &deleted}
	err := row.Scan(append(dest, extra...)...)
	if err != nil {
		return nil, err
	}
	u.ClerkUserID, u.ExternalID = clerkID.String, externalID.String
	if meta != nil {
		u.PublicMetadata = json.RawMessage(meta)
	}
	u.ClerkUpdatedAt = clerkUpdated
	u.CreatedAt, u.UpdatedAt = fromMillis(created), fromMillis(upd)
	if lastSignIn.Valid {
		u.LastSignInAt = fromMillis(lastSignIn.Int64)
	}
	if deleted.Valid {
		u.DeletedAt = fromMillis(deleted.Int64)
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

// nullMillis is t in Unix milliseconds, or NULL for the zero time.
func nullMillis(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixMilli()
}

// fromMillis is the UTC time of Unix milliseconds ms.
func fromMillis(ms int64) time.Time { return time.UnixMilli(ms).UTC() }

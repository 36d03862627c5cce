package sqlite

import (
	"context"
	"database/sql"
	"strings"
	"time"

	clerkgate "github.com/clerkgate/clerkgate"
	"github.com/clerkgate/clerkgate/internal/storecheck"
)

// extends is the condition, in the upsert of denySession, under which a new
// denial of a stored session lasts longer than the stored one: the stored
// one ends, and the new one never ends or ends later.
const extends = `(session_denials.until IS NOT NULL
		AND (excluded.until IS NULL OR excluded.until > session_denials.until))`

// denySession inserts a denial or, for a session denied already, extends
// it: the later until wins (NULL, for ever, over any), with its reason, and
// created_at moves forward to the extension's. A Clerk user id fills an
// empty one. Nothing else changes.
const denySession = `INSERT INTO session_denials (session_id, clerk_user_id, reason, until, created_at)
VALUES (?, ?, ?, ?, ?)
ON CONFLICT (session_id) DO UPDATE SET
	until         = CASE WHEN ` + extends + ` THEN excluded.until ELSE session_denials.until END,
	reason        = CASE WHEN ` + extends + ` THEN excluded.reason ELSE session_denials.reason END,
	created_at    = CASE WHEN ` + extends + ` THEN max(session_denials.created_at, excluded.created_at)
		ELSE session_denials.created_at END,
	clerk_user_id = CASE WHEN session_denials.clerk_user_id = '' THEN excluded.clerk_user_id
		ELSE session_denials.clerk_user_id END
WHERE ` + extends + `
	OR (session_denials.clerk_user_id = '' AND excluded.clerk_user_id <> '')`

// DenySession implements clerkgate.DenialStore.DenySession. A zero
// CreatedAt is now.
func (s *Store) DenySession(ctx context.Context, d clerkgate.SessionDenial) error {
	if err := storecheck.Denial(d); err != nil {
		return err
	}
	created := d.CreatedAt
	if created.IsZero() {
		created = s.now()
	}
	st, err := s.stmt(ctx, &s.deny, s.w, denySession)
	if err != nil {
		return mapError("deny session", err)
	}
	if _, err := st.ExecContext(ctx, d.SessionID, d.ClerkUserID, d.Reason, nullMillis(d.Until), created.UnixMilli()); err != nil {
		return mapError("deny session", err)
	}
	return nil
}

// SessionDenials implements clerkgate.DenialStore.SessionDenials: denials
// whose until is NULL or after now and whose created_at is at or after
// since, ordered by created_at, then session id.
func (s *Store) SessionDenials(ctx context.Context, now, since time.Time) ([]clerkgate.SessionDenial, error) {
	where := []string{"(until IS NULL OR until > ?)"}
	args := []any{now.UnixMilli()}
	if !since.IsZero() {
		where = append(where, "created_at >= ?")
		args = append(args, since.UnixMilli())
	}
	rows, err := s.r.QueryContext(ctx, `SELECT session_id, clerk_user_id, reason, until, created_at FROM session_denials
		WHERE `+strings.Join(where, " AND ")+` ORDER BY created_at, session_id`, args...)
	if err != nil {
		return nil, mapError("session denials", err)
	}
	defer rows.Close()
	var out []clerkgate.SessionDenial
	for rows.Next() {
		var (
			d       clerkgate.SessionDenial
			until   sql.NullInt64
			created int64
		)
		if err := rows.Scan(&d.SessionID, &d.ClerkUserID, &d.Reason, &until, &created); err != nil {
			return nil, mapError("session denials", err)
		}
		if until.Valid {
			d.Until = fromMillis(until.Int64)
		}
		d.CreatedAt = fromMillis(created)
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, mapError("session denials", err)
	}
	return out, nil
}

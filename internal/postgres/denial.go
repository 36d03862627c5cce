package postgres

import (
	"context"
	"strconv"
	"strings"
	"time"

	clerkgate "github.com/clerkgate/clerkgate"
	"github.com/clerkgate/clerkgate/internal/storecheck"
)

// extends is the condition, in the upsert of denySession, under which a new
// denial of a stored session lasts longer than the stored one: the stored
// one ends, and the new one never ends or ends later.
const extends = `(d.until IS NOT NULL AND (EXCLUDED.until IS NULL OR EXCLUDED.until > d.until))`

// denySession inserts a denial or, for a session denied already, extends
// it: the later until wins (NULL, for ever, over any), with its reason, and
// created_at moves forward to the extension's. A Clerk user id fills an
// empty one. Nothing else changes. ON CONFLICT locks the row, so concurrent
// denials of one session are applied one after the other.
const denySession = `INSERT INTO session_denials AS d (session_id, clerk_user_id, reason, until, created_at)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (session_id) DO UPDATE SET
	until         = CASE WHEN ` + extends + ` THEN EXCLUDED.until ELSE d.until END,
	reason        = CASE WHEN ` + extends + ` THEN EXCLUDED.reason ELSE d.reason END,
	created_at    = CASE WHEN ` + extends + ` THEN GREATEST(d.created_at, EXCLUDED.created_at) ELSE d.created_at END,
	clerk_user_id = CASE WHEN d.clerk_user_id = '' THEN EXCLUDED.clerk_user_id ELSE d.clerk_user_id END
WHERE ` + extends + ` OR (d.clerk_user_id = '' AND EXCLUDED.clerk_user_id <> '')`

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
	_, err := s.pool.Exec(ctx, denySession, d.SessionID, d.ClerkUserID, d.Reason, nullTime(d.Until), millis(created))
	if err != nil {
		return mapError("deny session", err)
	}
	return nil
}

// SessionDenials implements clerkgate.DenialStore.SessionDenials: denials
// whose until is NULL or after now and whose created_at is at or after
// since, ordered by created_at, then session id.
func (s *Store) SessionDenials(ctx context.Context, now, since time.Time) ([]clerkgate.SessionDenial, error) {
	where := []string{"(until IS NULL OR until > $1)"}
	args := []any{millis(now)}
	if !since.IsZero() {
		args = append(args, millis(since))
		where = append(where, "created_at >= $"+strconv.Itoa(len(args)))
	}
	rows, err := s.pool.Query(ctx, `SELECT session_id, clerk_user_id, reason, until, created_at FROM session_denials
		WHERE `+strings.Join(where, " AND ")+` ORDER BY created_at, session_id`, args...)
	if err != nil {
		return nil, mapError("session denials", err)
	}
	defer rows.Close()
	var out []clerkgate.SessionDenial
	for rows.Next() {
		var (
			d     clerkgate.SessionDenial
			until *time.Time
		)
		if err := rows.Scan(&d.SessionID, &d.ClerkUserID, &d.Reason, &until, &d.CreatedAt); err != nil {
			return nil, mapError("session denials", err)
		}
		if until != nil {
			d.Until = until.UTC()
		}
		d.CreatedAt = d.CreatedAt.UTC()
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, mapError("session denials", err)
	}
	return out, nil
}

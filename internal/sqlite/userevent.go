package sqlite

import (
	"context"
	"database/sql"
	"errors"

	clerkgate "github.com/clerkgate/clerkgate"
	"github.com/clerkgate/clerkgate/internal/storecheck"
)

var _ clerkgate.UserEventStore = (*Store)(nil)

// saveUserEvent is saveUser that, with its 17th argument true, also leaves
// alone a live row of the same version whose content differs (a tie): the
// WHERE of upsertUser has already excluded rows with the same content.
const saveUserEvent = upsertUser + `
	AND NOT (? AND users.deleted_at IS NULL AND excluded.deleted_at IS NULL
		AND users.clerk_updated_at = excluded.clerk_updated_at)
RETURNING ` + userColumns

// SaveClerkUserEvent implements clerkgate.UserEventStore in one IMMEDIATE
// transaction on the writer connection, so one commit per event: the
// record first (a duplicate stops there), then, with ReportAbsent, whether
// the user has a row, then the upsert. When the upsert changes nothing the
// row is read in the transaction; when ReportTie is set and the row is
// live at the user's version, a second upsert without the tie condition
// follows: if it writes, the first was left alone for a tie (the test is
// the upsert's own, so the two cannot disagree on what "other content"
// means), and the transaction is rolled back, as for a duplicate or an
// absent user.
func (s *Store) SaveClerkUserEvent(ctx context.Context, ev clerkgate.UserEvent) (clerkgate.UserEventResult, error) {
	var res clerkgate.UserEventResult
	if err := storecheck.User(ev.User); err != nil {
		return res, err
	}
	if err := storecheck.WebhookRecord(ev.Record); err != nil {
		return res, err
	}
	r := ev.Record
	processed := r.ProcessedAt
	if processed.IsZero() {
		processed = s.now()
	}
	recordSt, err := s.stmt(ctx, &s.saveWebhook, s.w, insertWebhookRecord)
	if err != nil {
		return res, mapError("save user event", err)
	}
	prevSt, err := s.stmt(ctx, &s.userExists, s.w, `SELECT role, banned FROM users WHERE clerk_user_id = ?`)
	if err != nil {
		return res, mapError("save user event", err)
	}
	saveSt, err := s.stmt(ctx, &s.saveUserEvent, s.w, saveUserEvent)
	if err != nil {
		return res, mapError("save user event", err)
	}
	plainSt, err := s.stmt(ctx, &s.save, s.w, saveUser)
	if err != nil {
		return res, mapError("save user event", err)
	}
	userSt, err := s.stmt(ctx, &s.userW, s.w, `SELECT `+userColumns+` FROM users WHERE clerk_user_id = ?`)
	if err != nil {
		return res, mapError("save user event", err)
	}
	// Every statement is prepared before the transaction takes the one
	// writer connection.
	tx, err := s.w.BeginTx(ctx, nil) // BEGIN IMMEDIATE: the write lock now
	if err != nil {
		return res, mapError("save user event", err)
	}
	defer tx.Rollback() // after Commit, a no-op

	rec, err := tx.StmtContext(ctx, recordSt).ExecContext(ctx, r.MessageID, r.EventType, r.BodySHA256, processed.UnixMilli())
	if err != nil {
		return res, mapError("save user event", err)
	}
	if n, err := rec.RowsAffected(); err != nil {
		return res, mapError("save user event", err)
	} else if n == 0 {
		res.Duplicate = true
		return res, nil
	}
	// The row as it is, if any: whether the user is absent, and what the
	// change changes (a ban, a role).
	var prev clerkgate.UserPrevious
	exists := true
	switch err := tx.StmtContext(ctx, prevSt).QueryRowContext(ctx, ev.User.ClerkUserID).Scan(&prev.Role, &prev.Banned); {
	case errors.Is(err, sql.ErrNoRows):
		exists = false
	case err != nil:
		return res, mapError("save user event", err)
	}
	if ev.ReportAbsent && !exists {
		res.Absent = true
		return res, nil
	}
	stored, err := scanUser(tx.StmtContext(ctx, saveSt).QueryRowContext(ctx, s.userArgs(ev.User, ev.ReportTie)...))
	switch {
	case err == nil:
		res.User, res.Changed = stored, true
		if exists {
			res.Previous = &prev
		}
	case !errors.Is(err, sql.ErrNoRows):
		return res, mapError("save user event", err)
	default:
		// The row exists (rows are never removed) and was left alone: a
		// tombstone, a newer version, the same content, or a tie.
		row := tx.StmtContext(ctx, userSt).QueryRowContext(ctx, ev.User.ClerkUserID)
		if stored, err = getUser(row, "save user event"); err != nil {
			return res, err
		}
		if ev.ReportTie && !stored.Deleted() && !ev.User.Deleted() && stored.ClerkUpdatedAt == ev.User.ClerkUpdatedAt {
			// The same content or a tie: the upsert without the tie
			// condition writes only for a tie.
			_, err := scanUser(tx.StmtContext(ctx, plainSt).QueryRowContext(ctx, s.userArgs(ev.User)...))
			switch {
			case err == nil:
				res.Tie = true
				return res, nil
			case !errors.Is(err, sql.ErrNoRows):
				return res, mapError("save user event", err)
			}
		}
		res.User = stored
	}
	if err := tx.Commit(); err != nil {
		return clerkgate.UserEventResult{}, mapError("save user event", err)
	}
	return res, nil
}

package postgres

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"time"

	clerkgate "github.com/clerkgate/clerkgate"
	"github.com/clerkgate/clerkgate/internal/cursor"
	"github.com/clerkgate/clerkgate/internal/storecheck"
)

// purgeBatch is how many security events one statement of
// PurgeSecurityEvents deletes by default: short transactions, however large
// the purge.
const purgeBatch = 1000

// securityEventColumns are the columns of security_events in the order
// SecurityEvents reads them.
const securityEventColumns = `id, kind, at, ip, user_id, request_id, detail`

// SaveSecurityEvent implements clerkgate.SecurityEventStore.SaveSecurityEvent.
// A zero At is now; an empty ID is clerkgate.NewSecurityEventID(At). An ID taken
// already is CodeConflict; an empty Kind, text that is not UTF-8 or has NUL
// characters, or a Detail that is not valid JSON (or holds \u0000, which
// jsonb cannot) is CodeInvalidRequest.
func (s *Store) SaveSecurityEvent(ctx context.Context, e clerkgate.SecurityEvent) error {
	if err := storecheck.SecurityEvent(e); err != nil {
		return err
	}
	at := e.At
	if at.IsZero() {
		at = s.now()
	}
	at = millis(at)
	id := e.ID
	if id == "" {
		id = clerkgate.NewSecurityEventID(at)
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO security_events (`+securityEventColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		id, e.Kind, at, e.IP, e.UserID, e.RequestID, metadata(e.Detail))
	if err != nil {
		return mapConflict("save security event", "a security event with the same id already exists", err)
	}
	return nil
}

// SecurityEvents implements clerkgate.SecurityEventStore.SecurityEvents
// with keyset pagination over (at, id), newest first. Kind is exact; Since
// is inclusive. A Limit outside 0..200 or a cursor the store did not issue
// is CodeInvalidRequest.
func (s *Store) SecurityEvents(ctx context.Context, q clerkgate.SecurityEventQuery) ([]clerkgate.SecurityEvent, string, error) {
	limit, err := storecheck.Limit(q.Limit)
	if err != nil {
		return nil, "", err
	}
	if !storecheck.Text(q.Kind) {
		return nil, "", storecheck.Invalid("kind must be UTF-8 text without NUL characters")
	}
	var (
		where []string
		args  []any
	)
	arg := func(v any) string { // the placeholder of a new argument v
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	if q.Kind != "" {
		where = append(where, "kind = "+arg(q.Kind))
	}
	if !q.Since.IsZero() {
		where = append(where, "at >= "+arg(millis(q.Since)))
	}
	if q.Cursor != "" {
		at, id, ok := cursor.Decode(q.Cursor)
		if !ok {
			return nil, "", storecheck.Invalid("invalid cursor")
		}
		where = append(where, "(at, id) < ("+arg(time.UnixMilli(at).UTC())+", "+arg(id)+")")
	}
	query := `SELECT ` + securityEventColumns + ` FROM security_events`
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	query += " ORDER BY at DESC, id DESC LIMIT " + arg(limit+1)

	rows, err := s.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, "", mapError("security events", err)
	}
	defer rows.Close()
	events := make([]clerkgate.SecurityEvent, 0, min(limit+1, 64))
	for rows.Next() {
		var (
			e      clerkgate.SecurityEvent
			detail []byte
		)
		if err := rows.Scan(&e.ID, &e.Kind, &e.At, &e.IP, &e.UserID, &e.RequestID, &detail); err != nil {
			return nil, "", mapError("security events", err)
		}
		e.At = e.At.UTC()
		if detail != nil {
			e.Detail = json.RawMessage(detail)
		}
		events = append(events, e)
	}
	if err := rows.Err(); err != nil {
		return nil, "", mapError("security events", err)
	}
	if len(events) <= limit {
		return events, "", nil
	}
	events = events[:limit]
	last := events[limit-1]
	return events, cursor.Encode(last.At.UnixMilli(), last.ID), nil
}

// PurgeSecurityEvents implements clerkgate.SecurityEventStore.PurgeSecurityEvents
// in batches of s.purgeBatch rows, each its own transaction.
func (s *Store) PurgeSecurityEvents(ctx context.Context, before time.Time) (int64, error) {
	var total int64
	for {
		tag, err := s.pool.Exec(ctx, `DELETE FROM security_events WHERE id IN
			(SELECT id FROM security_events WHERE at < $1 LIMIT $2)`, millis(before), s.purgeBatch)
		if err != nil {
			return total, mapError("purge security events", err)
		}
		n := tag.RowsAffected()
		total += n
		if n < int64(s.purgeBatch) {
			return total, nil
		}
	}
}

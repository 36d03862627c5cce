package sqlite

import (
	"context"
	"database/sql"
	"errors"

	clerkgate "github.com/clerkgate/clerkgate"
	"github.com/clerkgate/clerkgate/internal/storecheck"
)

// WebhookRecord implements clerkgate.WebhookStore.WebhookRecord.
func (s *Store) WebhookRecord(ctx context.Context, messageID string) (*clerkgate.WebhookRecord, error) {
	if messageID == "" || !storecheck.Text(messageID) {
		return nil, errWebhookNotFound()
	}
	st, err := s.stmt(ctx, &s.webhook, s.r, `SELECT event_type, body_sha256, processed_at FROM webhook_messages WHERE message_id = ?`)
	if err != nil {
		return nil, mapError("webhook record", err)
	}
	r := clerkgate.WebhookRecord{MessageID: messageID}
	var processed int64
	err = st.QueryRowContext(ctx, messageID).Scan(&r.EventType, &r.BodySHA256, &processed)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, errWebhookNotFound()
	case err != nil:
		return nil, mapError("webhook record", err)
	}
	r.ProcessedAt = fromMillis(processed)
	return &r, nil
}

// errWebhookNotFound is the answer for a message never processed.
func errWebhookNotFound() error { return storecheck.NotFound("webhook message not found") }

// insertWebhookRecord records a message unless its id is there.
const insertWebhookRecord = `INSERT INTO webhook_messages (message_id, event_type, body_sha256, processed_at)
	VALUES (?, ?, ?, ?) ON CONFLICT (message_id) DO NOTHING`

// SaveWebhookRecord implements clerkgate.WebhookStore.SaveWebhookRecord
// with an insert that does nothing when the id is there. A zero
// ProcessedAt is now.
func (s *Store) SaveWebhookRecord(ctx context.Context, r clerkgate.WebhookRecord) (bool, error) {
	if err := storecheck.WebhookRecord(r); err != nil {
		return false, err
	}
	processed := r.ProcessedAt
	if processed.IsZero() {
		processed = s.now()
	}
	st, err := s.stmt(ctx, &s.saveWebhook, s.w, insertWebhookRecord)
	if err != nil {
		return false, mapError("save webhook record", err)
	}
	res, err := st.ExecContext(ctx, r.MessageID, r.EventType, r.BodySHA256, processed.UnixMilli())
	if err != nil {
		return false, mapError("save webhook record", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, mapError("save webhook record", err)
	}
	return n == 1, nil
}

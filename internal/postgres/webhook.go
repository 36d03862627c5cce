package postgres

import (
	"context"
	"errors"

	clerkgate "github.com/clerkgate/clerkgate"
	"github.com/clerkgate/clerkgate/internal/storecheck"
	"github.com/jackc/pgx/v5"
)

// WebhookRecord implements clerkgate.WebhookStore.WebhookRecord.
func (s *Store) WebhookRecord(ctx context.Context, messageID string) (*clerkgate.WebhookRecord, error) {
	if messageID == "" || !storecheck.Text(messageID) {
		return nil, errWebhookNotFound()
	}
	r := clerkgate.WebhookRecord{MessageID: messageID}
	err := s.pool.QueryRow(ctx, `SELECT event_type, body_sha256, processed_at FROM webhook_messages WHERE message_id = $1`,
		messageID).Scan(&r.EventType, &r.BodySHA256, &r.ProcessedAt)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return nil, errWebhookNotFound()
	case err != nil:
		return nil, mapError("webhook record", err)
	}
	r.ProcessedAt = r.ProcessedAt.UTC()
	return &r, nil
}

// errWebhookNotFound is the answer for a message never processed.
func errWebhookNotFound() error { return storecheck.NotFound("webhook message not found") }

// SaveWebhookRecord implements clerkgate.WebhookStore.SaveWebhookRecord
// with an insert that does nothing when the id is there, whichever
// instance wrote it. A zero ProcessedAt is now.
func (s *Store) SaveWebhookRecord(ctx context.Context, r clerkgate.WebhookRecord) (bool, error) {
	if err := storecheck.WebhookRecord(r); err != nil {
		return false, err
	}
	processed := r.ProcessedAt
	if processed.IsZero() {
		processed = s.now()
	}
	tag, err := s.pool.Exec(ctx, `INSERT INTO webhook_messages (message_id, event_type, body_sha256, processed_at)
		VALUES ($1, $2, $3, $4) ON CONFLICT (message_id) DO NOTHING`,
		r.MessageID, r.EventType, r.BodySHA256, millis(processed))
	if err != nil {
		return false, mapError("save webhook record", err)
	}
	return tag.RowsAffected() == 1, nil
}

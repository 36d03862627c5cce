// Package security records security events (SPEC §11): each one is a
// structured log line, a stored row and a metric, and none carries a token,
// a secret or a webhook body.
package security

import (
	"context"
	"encoding/json"
	"log/slog"
	"time"

	"github.com/clerkgate/clerkgate"
)

// Recorder records security events. Its zero value is not usable: call New.
type Recorder struct {
	store   clerkgate.SecurityEventStore // nil: log and count only
	log     *slog.Logger
	count   func(kind string) // nil: no metric
	now     func() time.Time
	timeout time.Duration
}

// New returns a Recorder. store and count may be nil.
func New(store clerkgate.SecurityEventStore, log *slog.Logger, count func(kind string)) *Recorder {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Recorder{store: store, log: log, count: count, now: time.Now, timeout: 2 * time.Second}
}

// Record logs, counts and stores e. Storing is best effort: a store failure
// is logged and never fails the request that caused the event. detail is
// marshalled into the event's Detail; it must hold no secret.
func (r *Recorder) Record(ctx context.Context, e clerkgate.SecurityEvent, detail map[string]any) {
	if r == nil {
		return
	}
	if e.At.IsZero() {
		e.At = r.now()
	}
	if detail != nil && e.Detail == nil {
		e.Detail, _ = json.Marshal(detail)
	}
	attrs := []slog.Attr{
		slog.String("kind", e.Kind),
		slog.String("ip", e.IP),
		slog.String("user_id", e.UserID),
		slog.String("request_id", e.RequestID),
	}
	if len(e.Detail) > 0 {
		attrs = append(attrs, slog.Any("detail", json.RawMessage(e.Detail)))
	}
	r.log.LogAttrs(ctx, slog.LevelWarn, "security event", attrs...)
	if r.count != nil {
		r.count(e.Kind)
	}
	if r.store == nil {
		return
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.timeout)
	defer cancel()
	if err := r.store.SaveSecurityEvent(sctx, e); err != nil {
		r.log.LogAttrs(ctx, slog.LevelError, "storing a security event failed",
			slog.String("kind", e.Kind), slog.String("error", err.Error()))
	}
}

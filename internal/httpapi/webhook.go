package httpapi

import (
	"errors"
	"io"
	"log/slog"
	"net/http"

	"github.com/clerkgate/clerkgate"
	"github.com/clerkgate/clerkgate/internal/usersync"
	"github.com/clerkgate/clerkgate/verify"
)

// MaxWebhookBytes bounds a webhook body (SPEC §3).
const MaxWebhookBytes = 512 << 10

// handleWebhook receives Clerk's Svix-signed events: the signature is
// checked over the raw bytes before anything parses them, and the answer
// is 2xx only once the change is durably stored.
func (s *server) handleWebhook(w http.ResponseWriter, r *http.Request) {
	if s.webhook == nil || s.syncer == nil {
		writeProblem(w, r, &clerkgate.Error{Code: clerkgate.CodeWebhookNotConfigured,
			Message: "webhooks are not configured: set CLERK_WEBHOOK_SIGNING_SECRET"})
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxWebhookBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeProblemStatus(w, r, clerkgate.CodeInvalidRequest, http.StatusRequestEntityTooLarge,
				"the webhook body is larger than 512 KiB")
			return
		}
		writeProblem(w, r, &clerkgate.Error{Code: clerkgate.CodeInvalidRequest, Message: "the webhook body could not be read"})
		return
	}
	msgID, err := s.webhook.Verify(r.Header, body)
	if err != nil {
		s.security.Record(r.Context(), clerkgate.SecurityEvent{
			Kind: clerkgate.EventWebhookSignatureInvalid, IP: remoteIP(r), RequestID: requestID(r),
		}, map[string]any{"reason": verify.Reason(err)})
		if s.metrics != nil {
			s.metrics.ObserveWebhook("none", usersync.ResultRejected)
		}
		writeProblem(w, r, &clerkgate.Error{Code: clerkgate.CodeWebhookSignatureInvalid,
			Message: "the webhook signature does not verify (" + verify.Reason(err) + ")"})
		return
	}
	out, err := s.syncer.HandleWebhook(r.Context(), usersync.Message{
		ID: msgID, Body: body, IP: remoteIP(r), RequestID: requestID(r),
	})
	level := slog.LevelInfo
	if err != nil {
		level = slog.LevelWarn
	}
	s.log.LogAttrs(r.Context(), level, "webhook",
		slog.String("request_id", requestID(r)),
		slog.String("svix_id", msgID),
		slog.String("type", out.Type),
		slog.String("result", out.Result),
		slog.Bool("replay", out.Replay),
		slog.String("error", errText(err)))
	if err != nil {
		writeProblem(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": out.Result})
}

// errText is a client-safe text of err for logs, "" for nil.
func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

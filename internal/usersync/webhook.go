package usersync

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/clerk/clerk-sdk-go/v2"

	"github.com/clerkgate/clerkgate"
	"github.com/clerkgate/clerkgate/internal/clerkapi"
)

// Results of a webhook message, as metrics label them.
const (
	ResultProcessed = "processed"
	ResultDuplicate = "duplicate"
	ResultStale     = "stale"
	ResultIgnored   = "ignored"
	ResultFailed    = "failed"
	ResultRejected  = "rejected"
)

// Message is one verified webhook delivery.
type Message struct {
	ID        string // svix-id: the idempotency key
	Body      []byte // the raw, verified body
	IP        string // sender, for security events
	RequestID string
}

// Outcome is what became of a message.
type Outcome struct {
	Type   string // the event type, "" when the body had none
	Result string // one of the Result constants
	Replay bool   // the id was processed before with another body
}

// envelope is a Clerk webhook event.
type envelope struct {
	Type   string          `json:"type"`
	Object string          `json:"object"`
	Data   json.RawMessage `json:"data"`
}

func invalidEvent(msg string) error {
	return &clerkgate.Error{Code: clerkgate.CodeInvalidRequest, Message: msg}
}

func unavailable(err error) error {
	return &clerkgate.Error{Code: clerkgate.CodeUnavailable, Message: "the user store is unavailable; retry later", Err: err}
}

// HandleWebhook applies one verified message. It returns an error with
// CodeInvalidRequest for an event that cannot be used (stored nowhere) and
// CodeUnavailable when the store failed (the sender must retry); a nil error
// means the change is durably stored, or was already, or needs none.
func (s *Syncer) HandleWebhook(ctx context.Context, m Message) (Outcome, error) {
	out, err := s.handle(ctx, m)
	switch {
	case err == nil:
	case clerkgate.ErrorCode(err) == clerkgate.CodeInvalidRequest:
		out.Result = ResultRejected
	default:
		out.Result = ResultFailed
	}
	s.o.Observe(metricType(out.Type), out.Result)
	return out, err
}

func (s *Syncer) handle(ctx context.Context, m Message) (Outcome, error) {
	digest := sha256.Sum256(m.Body)
	// Parsed first only so that a store failure is counted under the
	// event's type; a known id wins over a body that does not parse.
	var env envelope
	parseErr := json.Unmarshal(m.Body, &env)
	// A message id seen before changes nothing, whatever its body; another
	// body under a known id is a replay.
	rec, err := s.o.Store.WebhookRecord(ctx, m.ID)
	switch {
	case err == nil:
		out := Outcome{Type: rec.EventType, Result: ResultDuplicate}
		if !bytes.Equal(rec.BodySHA256, digest[:]) {
			out.Replay = true
			s.o.Security.Record(ctx, clerkgate.SecurityEvent{Kind: clerkgate.EventWebhookReplay, IP: m.IP, RequestID: m.RequestID},
				map[string]any{"svix_id": m.ID, "type": rec.EventType})
		}
		return out, nil
	case clerkgate.ErrorCode(err) != clerkgate.CodeNotFound:
		return Outcome{Type: env.Type}, unavailable(err)
	}
	if parseErr != nil {
		return Outcome{}, invalidEvent("the event is not a JSON object of the Clerk event shape")
	}
	out := Outcome{Type: env.Type}
	if env.Type == "" {
		return out, invalidEvent("the event has no type")
	}
	if len(env.Data) == 0 || bytes.Equal(env.Data, []byte("null")) || env.Data[0] != '{' {
		return out, invalidEvent("the event has no data object")
	}
	if out.Result, err = s.apply(ctx, env, m); err != nil {
		return out, err
	}
	// The change is stored; remember the message. If this fails the sender
	// retries and the change applies again, which changes nothing.
	if _, err := s.o.Store.SaveWebhookRecord(ctx, clerkgate.WebhookRecord{
		MessageID: m.ID, EventType: env.Type, BodySHA256: digest[:], ProcessedAt: s.o.Now(),
	}); err != nil {
		// A type the store cannot hold (a NUL inside an unknown type) is
		// the sender's fault: answering "retry later" would make Svix
		// retry it for days.
		return out, storeError(err)
	}
	return out, nil
}

// apply makes the change of one event.
func (s *Syncer) apply(ctx context.Context, env envelope, m Message) (string, error) {
	switch env.Type {
	case "user.created", "user.updated":
		return s.applyUser(ctx, env.Data)
	case "user.deleted":
		return s.applyUserDeleted(ctx, env.Data, m)
	case "session.revoked", "session.ended", "session.removed":
		return s.applySessionEnd(ctx, env)
	case "organizationMembership.created", "organizationMembership.updated", "organizationMembership.deleted":
		return s.applyMembership(ctx, env)
	}
	return ResultIgnored, nil
}

func (s *Syncer) applyUser(ctx context.Context, data json.RawMessage) (string, error) {
	var cu clerk.User
	if err := json.Unmarshal(data, &cu); err != nil {
		return "", invalidEvent("the user in the event has fields of the wrong type")
	}
	if !strings.HasPrefix(cu.ID, "user_") || cu.UpdatedAt <= 0 || cu.CreatedAt <= 0 {
		return "", invalidEvent("the user in the event lacks id, created_at or updated_at")
	}
	u, err := s.settleTie(ctx, clerkapi.ConvertUser(&cu))
	if err != nil {
		return "", err
	}
	if u == nil {
		return ResultStale, nil
	}
	if linked, err := s.linkNew(ctx, u); err != nil {
		return "", storeError(err)
	} else if linked {
		return ResultProcessed, nil
	}
	stored, changed, err := s.saveUser(ctx, u)
	if err != nil {
		return "", storeError(err)
	}
	if !changed && (stored.Deleted() || stored.ClerkUpdatedAt > u.ClerkUpdatedAt) {
		return ResultStale, nil
	}
	if s.o.ObserveLag != nil {
		s.o.ObserveLag(s.o.Now().Sub(time.UnixMilli(u.ClerkUpdatedAt)))
	}
	return ResultProcessed, nil
}

// settleTie returns the user to store for an event's u. When the stored
// row has the same version but other data, the event cannot say which of
// the two is Clerk's latest, so Clerk is asked: its answer is stored (it is
// as new or newer), or, when Clerk says the user is gone, nothing is (nil;
// the user.deleted event follows). Without a Backend API, or when Clerk
// cannot be reached, the event's data is stored as before; reconcile runs
// settle it later.
func (s *Syncer) settleTie(ctx context.Context, u *clerkgate.User) (*clerkgate.User, error) {
	if s.o.Fetch == nil {
		return u, nil
	}
	stored, err := s.o.Store.UserByClerkID(ctx, u.ClerkUserID)
	switch {
	case clerkgate.ErrorCode(err) == clerkgate.CodeNotFound:
		return u, nil
	case err != nil:
		return nil, unavailable(err)
	case stored.ClerkUpdatedAt != u.ClerkUpdatedAt || stored.Deleted() || !differs(u, stored):
		return u, nil
	}
	current, err := s.o.Fetch(ctx, u.ClerkUserID)
	switch {
	case err == nil && current.ClerkUpdatedAt >= u.ClerkUpdatedAt:
		return current, nil
	case clerkgate.ErrorCode(err) == clerkgate.CodeNotFound:
		return nil, nil
	}
	return u, nil
}

func (s *Syncer) applyUserDeleted(ctx context.Context, data json.RawMessage, m Message) (string, error) {
	var d struct {
		ID      string `json:"id"`
		Deleted *bool  `json:"deleted"`
	}
	if err := json.Unmarshal(data, &d); err != nil || !strings.HasPrefix(d.ID, "user_") {
		return "", invalidEvent("the deleted user in the event lacks an id")
	}
	stored, changed, err := s.tombstone(ctx, d.ID)
	if err != nil {
		return "", storeError(err)
	}
	if !changed {
		return ResultDuplicate, nil
	}
	s.o.Security.Record(ctx, clerkgate.SecurityEvent{Kind: clerkgate.EventUserDeleted, UserID: stored.ID, IP: m.IP, RequestID: m.RequestID},
		map[string]any{"clerk_user_id": d.ID, "source": "webhook"})
	return ResultProcessed, nil
}

func (s *Syncer) applySessionEnd(ctx context.Context, env envelope) (string, error) {
	var d struct {
		ID       string `json:"id"`
		UserID   string `json:"user_id"`
		ExpireAt int64  `json:"expire_at"`
	}
	if err := json.Unmarshal(env.Data, &d); err != nil || !strings.HasPrefix(d.ID, "sess_") {
		return "", invalidEvent("the session in the event lacks an id")
	}
	now := s.o.Now()
	until := now.Add(s.o.DenialTTL)
	if exp := time.UnixMilli(d.ExpireAt).Add(time.Hour); d.ExpireAt > 0 && exp.After(until) {
		until = exp
	}
	if err := s.DenySession(ctx, clerkgate.SessionDenial{SessionID: d.ID, ClerkUserID: d.UserID, Reason: env.Type, Until: until}); err != nil {
		return "", err
	}
	return ResultProcessed, nil
}

// DenySession denies a session durably and at once in this process.
func (s *Syncer) DenySession(ctx context.Context, d clerkgate.SessionDenial) error {
	if d.CreatedAt.IsZero() {
		d.CreatedAt = s.o.Now()
	}
	if err := s.o.Store.DenySession(ctx, d); err != nil {
		return storeError(err)
	}
	if s.o.Denier != nil {
		s.o.Denier.DenySession(d.SessionID, d.Until)
	}
	return nil
}

func (s *Syncer) applyMembership(ctx context.Context, env envelope) (string, error) {
	var d struct {
		Organization struct {
			ID   string `json:"id"`
			Slug string `json:"slug"`
		} `json:"organization"`
		PublicUserData struct {
			UserID string `json:"user_id"`
		} `json:"public_user_data"`
		Role      string `json:"role"`
		UpdatedAt int64  `json:"updated_at"`
	}
	if err := json.Unmarshal(env.Data, &d); err != nil || d.Organization.ID == "" || d.PublicUserData.UserID == "" {
		return "", invalidEvent("the membership in the event lacks its organization or user")
	}
	m := clerkgate.Membership{
		OrgID: d.Organization.ID, OrgSlug: d.Organization.Slug, ClerkUserID: d.PublicUserData.UserID,
		Role: d.Role, ClerkUpdatedAt: d.UpdatedAt, Deleted: env.Type == "organizationMembership.deleted",
	}
	if m.Deleted && m.ClerkUpdatedAt == 0 {
		m.ClerkUpdatedAt = s.o.Now().UnixMilli()
	}
	changed, err := s.o.Store.SaveMembership(ctx, m)
	if err != nil {
		return "", storeError(err)
	}
	if !changed {
		return ResultStale, nil
	}
	s.o.OnMembership(m)
	return ResultProcessed, nil
}

// storeError keeps a store's invalid-request answers (the event carried
// something the store refuses, such as a NUL byte) and makes everything
// else unavailable, so the sender retries.
func storeError(err error) error {
	if clerkgate.ErrorCode(err) == clerkgate.CodeInvalidRequest {
		var e *clerkgate.Error
		if errors.As(err, &e) {
			return invalidEvent("the event carries a value the store refuses: " + e.Message)
		}
		return invalidEvent("the event carries a value the store refuses")
	}
	return unavailable(err)
}

// knownTypes are the event types used as metric labels; others are "other",
// so a sender cannot grow the label set without bound.
var knownTypes = map[string]bool{}

func init() {
	for _, t := range []string{
		"user.created", "user.updated", "user.deleted",
		"session.created", "session.ended", "session.removed", "session.revoked", "session.pending",
		"organization.created", "organization.updated", "organization.deleted",
		"organizationMembership.created", "organizationMembership.updated", "organizationMembership.deleted",
		"organizationInvitation.created", "organizationInvitation.accepted", "organizationInvitation.revoked",
		"email.created", "sms.created", "role.created", "role.updated", "role.deleted",
		"permission.created", "permission.updated", "permission.deleted",
		"waitlistEntry.created", "waitlistEntry.updated", "subscription.created", "subscription.updated",
	} {
		knownTypes[t] = true
	}
}

func metricType(t string) string {
	switch {
	case t == "":
		return "none"
	case knownTypes[t]:
		return t
	}
	return "other"
}

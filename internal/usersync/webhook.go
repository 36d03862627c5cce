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

// userEnvelope is a user.created or user.updated event decoded in one
// pass, the common case; envelope and then its data is two.
type userEnvelope struct {
	Type string      `json:"type"`
	Data *clerk.User `json:"data"`
}

// userChangeHint is in the body of most user.created and user.updated
// events (Clerk's JSON is compact): a hint of which decoding to try first,
// never a test of what the event is.
var userChangeHint = []byte(`"type":"user.`)

func (s *Syncer) handle(ctx context.Context, m Message) (Outcome, error) {
	digest := sha256.Sum256(m.Body)
	record := func(eventType string) clerkgate.WebhookRecord {
		return clerkgate.WebhookRecord{MessageID: m.ID, EventType: eventType, BodySHA256: digest[:], ProcessedAt: s.o.Now()}
	}
	if bytes.Contains(m.Body, userChangeHint) {
		var ue userEnvelope
		if json.Unmarshal(m.Body, &ue) == nil && (ue.Type == "user.created" || ue.Type == "user.updated") && ue.Data != nil {
			return s.handleUser(ctx, m, Outcome{Type: ue.Type}, ue.Data, record(ue.Type))
		}
		// Anything else, or a body that did not decode so, goes the
		// general way, which tells what is wrong with it.
	}
	var env envelope
	if err := json.Unmarshal(m.Body, &env); err != nil {
		return s.unusable(ctx, m, digest[:], Outcome{}, invalidEvent("the event is not a JSON object of the Clerk event shape"))
	}
	out := Outcome{Type: env.Type}
	if env.Type == "" {
		return s.unusable(ctx, m, digest[:], out, invalidEvent("the event has no type"))
	}
	if len(env.Data) == 0 || bytes.Equal(env.Data, []byte("null")) || env.Data[0] != '{' {
		return s.unusable(ctx, m, digest[:], out, invalidEvent("the event has no data object"))
	}
	rec := record(env.Type)
	switch env.Type {
	case "user.created", "user.updated":
		var cu clerk.User
		if err := json.Unmarshal(env.Data, &cu); err != nil {
			return s.unusable(ctx, m, digest[:], out, invalidEvent("the user in the event has fields of the wrong type"))
		}
		return s.handleUser(ctx, m, out, &cu, rec)
	case "user.deleted":
		return s.handleUserDeleted(ctx, m, out, env.Data, rec)
	}

	// Other events go to stores of their own, and some of their changes
	// are not harmless twice (a replay could deny another session), so a
	// message id seen before is looked up first: it changes nothing,
	// whatever its body.
	dup, err := s.lookup(ctx, m, digest[:])
	switch {
	case err != nil:
		return out, err
	case dup != nil:
		return *dup, nil
	}
	if out.Result, err = s.apply(ctx, env); err != nil {
		return out, err
	}
	// The change is stored; remember the message. If this fails the sender
	// retries and the change applies again, which changes nothing.
	if _, err := s.o.Store.SaveWebhookRecord(ctx, rec); err != nil {
		// A type the store cannot hold (a NUL inside an unknown type) is
		// the sender's fault: answering "retry later" would make Svix
		// retry it for days.
		return out, storeError(err)
	}
	return out, nil
}

// duplicate is the outcome of a message whose id is recorded already
// (known): it changes nothing, and another body under the id is a replay,
// a security event.
func (s *Syncer) duplicate(ctx context.Context, m Message, digest []byte, known *clerkgate.WebhookRecord) Outcome {
	out := Outcome{Type: known.EventType, Result: ResultDuplicate}
	if !bytes.Equal(known.BodySHA256, digest) {
		out.Replay = true
		s.o.Security.Record(ctx, clerkgate.SecurityEvent{Kind: clerkgate.EventWebhookReplay, IP: m.IP, RequestID: m.RequestID},
			map[string]any{"svix_id": m.ID, "type": known.EventType})
	}
	return out
}

// unusable answers a message whose event cannot be used (invalid, a
// CodeInvalidRequest error): a known message id still wins, as a duplicate
// whatever its body, since a processed message changes nothing; otherwise
// it is invalid. The lookup costs a read only on this rare path.
func (s *Syncer) unusable(ctx context.Context, m Message, digest []byte, out Outcome, invalid error) (Outcome, error) {
	dup, err := s.lookup(ctx, m, digest)
	switch {
	case err != nil:
		return out, err
	case dup != nil:
		return *dup, nil
	}
	return out, invalid
}

// lookup returns the outcome of a message whose id is recorded already
// (see duplicate), or nil for a new one.
func (s *Syncer) lookup(ctx context.Context, m Message, digest []byte) (*Outcome, error) {
	known, err := s.o.Store.WebhookRecord(ctx, m.ID)
	switch {
	case err == nil:
		dup := s.duplicate(ctx, m, digest, known)
		return &dup, nil
	case clerkgate.ErrorCode(err) == clerkgate.CodeNotFound:
		return nil, nil
	}
	return nil, unavailable(err)
}

// apply makes the change of an event other than a user's.
func (s *Syncer) apply(ctx context.Context, env envelope) (string, error) {
	switch env.Type {
	case "session.revoked", "session.ended", "session.removed":
		return s.applySessionEnd(ctx, env)
	case "organizationMembership.created", "organizationMembership.updated", "organizationMembership.deleted":
		return s.applyMembership(ctx, env)
	}
	return ResultIgnored, nil
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

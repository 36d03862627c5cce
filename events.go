package clerkgate

import (
	"context"
	"encoding/json"
	"time"
)

// Membership is a user's membership of a Clerk organization, kept so that
// roles that depend on organizations are right before the next token
// refresh.
type Membership struct {
	OrgID          string
	OrgSlug        string
	ClerkUserID    string
	Role           string // such as "org:admin"
	ClerkUpdatedAt int64  // Clerk's updated_at in ms; orders events
	Deleted        bool   // the membership ended (a tombstone)
}

// MembershipStore keeps organization memberships.
type MembershipStore interface {
	// SaveMembership stores m atomically unless the stored row for (OrgID,
	// ClerkUserID) is newer (ClerkUpdatedAt greater). A deletion is stored
	// as a tombstone with its version, so an older create arriving later
	// changes nothing, while a newer one revives the membership (Clerk
	// memberships can be re-created). Equal versions overwrite, except that
	// a live m never overwrites a tombstone of its version: at a tie the
	// deletion wins, whatever the order of arrival. It reports whether the
	// row changed (a replay changes nothing). An empty OrgID or
	// ClerkUserID is CodeInvalidRequest.
	SaveMembership(ctx context.Context, m Membership) (bool, error)
	// Memberships returns the live memberships of a user, ordered by
	// OrgID; none is an empty result, not an error. With includeDeleted
	// the tombstones of ended memberships come too (Deleted set), so a
	// caller can tell a membership that ended from one never seen.
	Memberships(ctx context.Context, clerkUserID string, includeDeleted bool) ([]Membership, error)
}

// SessionDenial refuses a Clerk session (logout, a revoked, ended or
// removed session, a ban) until Until, after which its tokens have expired
// anyway. A zero Until never ends.
type SessionDenial struct {
	SessionID   string
	ClerkUserID string // may be empty
	Reason      string // "logout", "session.revoked", ...
	Until       time.Time
	CreatedAt   time.Time
}

// DenialStore keeps session denials durably, so that a restart or another
// instance knows them.
type DenialStore interface {
	// DenySession stores d (a zero CreatedAt is now) atomically; denying a
	// session twice keeps the later Until, a zero Until (for ever) winning
	// over any. A denial that extends the stored one brings its Reason and
	// moves CreatedAt forward to its own (never back), so that readers
	// polling with since see the extension; one that does not changes
	// nothing but fill in an empty ClerkUserID. An empty SessionID is
	// CodeInvalidRequest.
	DenySession(ctx context.Context, d SessionDenial) error
	// SessionDenials returns the denials still in force at now (Until zero
	// or after now) and created at or after since (zero: all), oldest
	// first (by CreatedAt, then SessionID).
	SessionDenials(ctx context.Context, now, since time.Time) ([]SessionDenial, error)
}

// WebhookRecord is a processed webhook message: its Svix id (the
// idempotency key), its event type and a digest of its body, so that the
// same id with another body is recognised as a replay.
type WebhookRecord struct {
	MessageID   string
	EventType   string
	BodySHA256  []byte
	ProcessedAt time.Time
}

// WebhookStore remembers processed webhook messages.
type WebhookStore interface {
	// WebhookRecord returns the record of a message id, or an error with
	// CodeNotFound.
	WebhookRecord(ctx context.Context, messageID string) (*WebhookRecord, error)
	// SaveWebhookRecord stores r (a zero ProcessedAt is now) unless a
	// record with that id exists already, atomically: of concurrent saves
	// of one id exactly one reports true; the others report false (and no
	// error) and change nothing. An empty MessageID or a BodySHA256 that is
	// not 32 bytes is CodeInvalidRequest.
	SaveWebhookRecord(ctx context.Context, r WebhookRecord) (bool, error)
}

// Security event kinds (SPEC §11).
const (
	EventAuthFailed              = "auth_failed"
	EventTokenReplayAfterRevoke  = "token_replay_after_revoke"
	EventUnknownKidFlood         = "unknown_kid_flood"
	EventBruteForceSuspected     = "brute_force_suspected"
	EventWebhookSignatureInvalid = "webhook_signature_invalid"
	EventWebhookReplay           = "webhook_replay"
	EventRoleChanged             = "role_changed"
	EventUserBanned              = "user_banned"
	EventUserDeleted             = "user_deleted"
	EventAdminAction             = "admin_action"
	EventLegacyTokenUsed         = "legacy_token_used"
	EventHeaderSpoofing          = "header_spoofing"
)

// SecurityEvent is one security-relevant happening. Detail never holds a
// token, a secret or a webhook body.
type SecurityEvent struct {
	ID        string // set by the store when empty
	Kind      string
	At        time.Time
	IP        string
	UserID    string // local or Clerk user id, when known
	RequestID string
	Detail    json.RawMessage // a small JSON object
}

// SecurityEventQuery selects security events for listing.
type SecurityEventQuery struct {
	Kind   string    // exact; "" is every kind
	Since  time.Time // events at or after; zero is every time
	Limit  int       // 1..200; 0 means 50
	Cursor string    // opaque, from a previous page
}

// SecurityEventStore keeps security events for a retention period.
type SecurityEventStore interface {
	// SaveSecurityEvent stores e. A zero At is now; At is stored in UTC at
	// millisecond precision. An empty ID becomes "sev_" and a lowercase
	// ULID of At (as NewUserID makes for users), so ids sort by time; an
	// ID taken already is CodeConflict. An empty Kind, text that is not
	// UTF-8 or holds NUL, or a Detail that is not valid JSON is
	// CodeInvalidRequest.
	SaveSecurityEvent(ctx context.Context, e SecurityEvent) error
	// SecurityEvents returns a page of events, newest first (by At, then
	// ID), and the cursor of the next page ("" at the end). A Limit outside
	// 0..200 or a cursor the store did not issue is CodeInvalidRequest.
	SecurityEvents(ctx context.Context, q SecurityEventQuery) ([]SecurityEvent, string, error)
	// PurgeSecurityEvents deletes events older than before (At strictly
	// before) and reports how many.
	PurgeSecurityEvents(ctx context.Context, before time.Time) (int64, error)
}

package clerkgate

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"time"
)

// User is the local copy of a Clerk user: one row per person, kept equal to
// Clerk by webhooks and reconcile runs. ID is the application's own stable id
// (also for users who existed before Clerk); ClerkUserID is empty for legacy
// users not yet linked.
type User struct {
	ID             string
	ClerkUserID    string
	Email          string // primary email address
	EmailVerified  bool
	FirstName      string
	LastName       string
	ImageURL       string
	Role           string          // the resolved application role
	PublicMetadata json.RawMessage // Clerk public_metadata as JSON; nil when none
	ExternalID     string
	Banned         bool
	LastSignInAt   time.Time // zero when never
	ClerkUpdatedAt int64     // Clerk's updated_at in Unix milliseconds; orders events
	CreatedAt      time.Time
	UpdatedAt      time.Time
	DeletedAt      time.Time // zero unless deleted; a deleted row is a tombstone
	// PasswordDigest is the password hash a legacy user (one without a
	// Clerk id) had in the application's own login, kept only until
	// import-legacy hands it to Clerk. It never leaves the store otherwise:
	// CreateLocalUser stores it, ListUsers returns it only for a query
	// with Unlinked set, every other read leaves it empty, and
	// LinkClerkUser erases it. It is a secret: never log or show it.
	PasswordDigest string
}

// Deleted reports whether u is a tombstone.
func (u *User) Deleted() bool { return !u.DeletedAt.IsZero() }

// UserQuery selects users for listing.
type UserQuery struct {
	Query  string // substring of email, first or last name (case-insensitive)
	Role   string // exact role
	Limit  int    // 1..200; 0 means 50
	Cursor string // opaque, from a previous page
	// IncludeDeleted lists tombstones too.
	IncludeDeleted bool
	// Unlinked lists only users without a Clerk id (legacy users not yet
	// linked), each with its PasswordDigest: what import-legacy reads.
	Unlinked bool
}

// UserStore is the local user store. Implementations (SQLite, Postgres) hold
// no business rules beyond the atomic conditions named here; every method
// takes a context first. Errors carry the contract codes: CodeNotFound for a
// missing user, CodeConflict for a unique violation.
type UserStore interface {
	// UserByID returns the user with local id id.
	UserByID(ctx context.Context, id string) (*User, error)
	// UserByClerkID returns the user with Clerk id clerkUserID.
	UserByClerkID(ctx context.Context, clerkUserID string) (*User, error)
	// SaveClerkUser stores u (which must have a ClerkUserID) atomically: it
	// inserts it when no row has that Clerk id, and otherwise overwrites the
	// row unless the row is a tombstone or its ClerkUpdatedAt is newer than
	// u's (equal versions overwrite, so a replay is harmless;
	// UserEventStore.SaveClerkUserEvent can report such a tie instead). A
	// new row gets u.ID if set, else NewUserID, and u.CreatedAt if set,
	// else now; an overwrite keeps the row's ID and CreatedAt. UpdatedAt is
	// set to now whenever the row changes. It returns the row as stored and
	// whether it changed: an overwrite with the same content changes
	// nothing.
	//
	// A tombstone is written by saving a User with DeletedAt set and the
	// personal fields already erased by the caller. It overwrites a live row
	// whatever the versions (the stored ClerkUpdatedAt never goes down), and
	// once stored nothing overwrites it; a tombstone saved before the user
	// was ever seen is inserted, so a late user.created loses to it.
	//
	// A u.ID already taken by another row is CodeConflict, a missing
	// ClerkUserID or a PublicMetadata that is not valid JSON is
	// CodeInvalidRequest. Times are stored in UTC at millisecond precision.
	// u.PasswordDigest is ignored: Clerk users keep their password in Clerk.
	SaveClerkUser(ctx context.Context, u *User) (*User, bool, error)
	// ListUsers returns a page of users ordered by creation (CreatedAt, then
	// ID), and the cursor of the next page ("" at the end). A Limit outside
	// 0..200 or a cursor the store did not issue is CodeInvalidRequest.
	ListUsers(ctx context.Context, q UserQuery) ([]*User, string, error)
	// Ping checks that the store answers.
	Ping(ctx context.Context) error
}

// UserEvent is a change of a Clerk user together with the webhook message
// that carried it, as UserEventStore.SaveClerkUserEvent stores them.
type UserEvent struct {
	// User is the user to store, as SaveClerkUser takes it (a tombstone
	// too).
	User *User
	// Record is the message, as SaveWebhookRecord takes it.
	Record WebhookRecord
	// ReportAbsent: when no row has User's Clerk id (a tombstone is a
	// row), nothing is written and the result is Absent, so that the
	// caller can first look for a local user to link (one who existed
	// before Clerk). Without it such a User is inserted.
	ReportAbsent bool
	// ReportTie: when the row and User are both live and have the same
	// ClerkUpdatedAt but other content (any field an overwrite would
	// change, as SaveClerkUser compares them: two versions with one
	// updated_at, which no order tells apart), nothing is written and the
	// result is Tie, so that the caller can settle which is Clerk's
	// latest. Without it the tie overwrites, as in SaveClerkUser.
	ReportTie bool
}

// UserEventResult is what SaveClerkUserEvent did. At most one of
// Duplicate, Absent and Tie is set; when none is, the message is recorded
// and the user stored, in one transaction.
type UserEventResult struct {
	// Duplicate: a record of the message id exists already; nothing was
	// written.
	Duplicate bool
	// Absent: no row has the user's Clerk id (only with ReportAbsent);
	// nothing was written.
	Absent bool
	// Tie: the row has the user's version but other content (only with
	// ReportTie); nothing was written.
	Tie bool
	// User is the row as stored when the message was recorded (changed or
	// not), nil otherwise.
	User *User
	// Changed reports whether the row changed, as SaveClerkUser does.
	Changed bool
	// Previous is what the row held before the event, set when the event
	// changed a row that existed: enough to tell a ban or a role change.
	Previous *UserPrevious
}

// UserPrevious is part of a user's row as it was before a change.
type UserPrevious struct {
	Role   string
	Banned bool
}

// UserEventStore stores a user change and the record of the webhook
// message that carried it in one transaction, so that a message is recorded
// exactly when its change is stored: one commit per event, and no window in
// which a change is stored but its message not yet recorded.
type UserEventStore interface {
	// SaveClerkUserEvent records ev.Record and stores ev.User in one
	// transaction. A User or Record that SaveClerkUser or
	// SaveWebhookRecord would refuse is CodeInvalidRequest, checked first.
	// Then a record of ev.Record.MessageID that exists already wins over
	// everything else: nothing is written, whatever the user, and the
	// result is Duplicate (the caller reads the record to tell a retry
	// from a replay with another body). Otherwise the user is stored under
	// the rules of UserStore.SaveClerkUser (ordering by ClerkUpdatedAt,
	// tombstones, Changed, a ProcessedAt of zero being now), except where
	// ReportAbsent or ReportTie ask for a report instead, when neither the
	// user nor the record is written. The record is written whenever the
	// user is stored, changed or not: a stale or repeated version is
	// recorded too.
	//
	// Of concurrent saves of one message id at most one records it; the
	// others report Duplicate (or Absent or Tie, writing nothing either),
	// and only the one that records it has written its user. A User whose
	// ID belongs to another row is CodeConflict, and nothing is written.
	SaveClerkUserEvent(ctx context.Context, ev UserEvent) (UserEventResult, error)
}

// LinkStore links users that existed before Clerk (legacy users, with no
// Clerk id) to their Clerk identity: by verified email or by external_id
// (the local id that import-legacy gives Clerk).
type LinkStore interface {
	// CreateLocalUser inserts a user with no Clerk id (a legacy user) and
	// returns it as stored. A new row gets u.ID if set, else NewUserID, and
	// u.CreatedAt if set, else now; DeletedAt is stored as given (a deleted
	// legacy user is a tombstone from the start). u.ID taken already is
	// CodeConflict; a u with a ClerkUserID or a ClerkUpdatedAt, or fields
	// SaveClerkUser would refuse, is CodeInvalidRequest. u.PasswordDigest
	// is stored too; the user returned does not carry it.
	CreateLocalUser(ctx context.Context, u *User) (*User, error)
	// UnlinkedUserByEmail returns the live local user without a Clerk id
	// whose email equals email (case-insensitive, for ASCII letters at
	// least): CodeNotFound when there is none, CodeConflict when there are
	// several. An empty email matches nobody, not the users without one.
	UnlinkedUserByEmail(ctx context.Context, email string) (*User, error)
	// LinkClerkUser gives the local user localID, which must have no Clerk
	// id yet, the Clerk identity and fields of u (as SaveClerkUser would
	// store them), keeping its id and created_at (u.ID and u.CreatedAt are
	// ignored), atomically: of concurrent links of one user one wins.
	// CodeNotFound when there is no such user; CodeConflict when it is
	// linked already, is a tombstone, or when u's Clerk id belongs to
	// another row. A u without a ClerkUserID is CodeInvalidRequest. The
	// user's PasswordDigest is erased: from now on Clerk holds the
	// password.
	LinkClerkUser(ctx context.Context, localID string, u *User) (*User, error)
}

// crockford is the lowercase Crockford base32 alphabet of user ids.
const crockford = "0123456789abcdefghjkmnpqrstvwxyz"

// NewSecurityEventID returns a new security event id for an event at at:
// "sev_" and the lowercase ULID that NewUserID makes, so ids sort by time to
// the millisecond.
func NewSecurityEventID(at time.Time) string {
	return "sev_" + NewUserID(at)[len("usr_"):]
}

// NewUserID returns a new local user id: "usr_" and 26 lowercase Crockford
// base32 characters, 10 for now in Unix milliseconds and 16 for 80
// crypto-random bits (a lowercase ULID). Ids sort by creation time to the
// millisecond.
func NewUserID(now time.Time) string {
	var b [4 + 26]byte
	copy(b[:], "usr_")
	ms := uint64(now.UnixMilli()) & (1<<48 - 1)
	for i := 9; i >= 0; i-- {
		b[4+i] = crockford[ms&31]
		ms >>= 5
	}
	var r [10]byte
	rand.Read(r[:]) // never fails (crypto/rand since Go 1.24)
	hi := uint64(r[0])<<32 | uint64(r[1])<<24 | uint64(r[2])<<16 | uint64(r[3])<<8 | uint64(r[4])
	lo := uint64(r[5])<<32 | uint64(r[6])<<24 | uint64(r[7])<<16 | uint64(r[8])<<8 | uint64(r[9])
	for i := 7; i >= 0; i-- {
		b[14+i] = crockford[hi&31]
		b[22+i] = crockford[lo&31]
		hi >>= 5
		lo >>= 5
	}
	return string(b[:])
}

package postgres

import (
	"context"
	"errors"
	"time"

	clerkgate "github.com/clerkgate/clerkgate"
	"github.com/clerkgate/clerkgate/internal/storecheck"
	"github.com/jackc/pgx/v5/pgconn"
)

var _ clerkgate.UserEventStore = (*Store)(nil)

// changeUserEvent is the statement of the common case, an event that
// changes a user who is stored already: upsertUser (with the tie condition
// when $17 is true) on a row that exists, unless the message ($18..$21) is
// recorded already, and the record written with the change and only with
// it. A record that a concurrent save of the id committed after the
// snapshot is a unique violation, which undoes the change too. When it
// writes nothing, saveUserEvent tells why. It is the lean half of
// SaveClerkUserEvent: the executor sets up every node of a statement on
// each run, and saveUserEvent has many. A change of role or ban is left to
// saveUserEvent too: its locked row tells what they were, for the security
// events of such changes (reading the old row here as well cost the common
// case a sixth of its rate).
const changeUserEvent = `WITH up AS (
	INSERT INTO users AS u (` + userColumns + `)
	SELECT $1::text, $2::text, $3::text, $4::boolean, $5::text, $6::text, $7::text, $8::text, $9::jsonb,
		$10::text, $11::boolean, $12::timestamptz, $13::bigint, $14::timestamptz, $15::timestamptz, $16::timestamptz
	WHERE EXISTS (SELECT 1 FROM users WHERE clerk_user_id = $2::text)
		AND NOT EXISTS (SELECT 1 FROM webhook_messages WHERE message_id = $18::text)
	` + onConflictUser + `
		AND NOT ($17::boolean AND u.deleted_at IS NULL AND EXCLUDED.deleted_at IS NULL
			AND u.clerk_updated_at = EXCLUDED.clerk_updated_at)
		AND u.role = EXCLUDED.role AND u.banned = EXCLUDED.banned
	RETURNING ` + userColumns + `
), rec AS (
	INSERT INTO webhook_messages (message_id, event_type, body_sha256, processed_at)
	SELECT $18::text, $19::text, $20::bytea, $21::timestamptz FROM up
)
SELECT * FROM up`

// saveUserEvent is the whole of SaveClerkUserEvent in one statement (one
// round trip, one commit), run when changeUserEvent wrote nothing. Its
// arguments are those of
// upsertUser ($1..$16), then ReportTie ($17), ReportAbsent ($18) and the
// record ($19..$22). Step by step:
//
//   - cur locks the user's row, if there is one (FOR UPDATE waits for a
//     concurrent save and then reads the latest version, as the upsert's ON
//     CONFLICT would);
//   - verdict tells a duplicate (a record of the id in the snapshot), an
//     absent user and a tie (cur live at the user's version, its content
//     distinct from the user's, by the same comparison as the upsert's);
//   - proceed has a row unless what verdict found is to be reported;
//   - up is upsertUser on proceed's row, with the tie condition as well,
//     for a row that a concurrent insert added after cur looked;
//   - rec records the message when the user was dealt with: written (up)
//     or left alone as older, a tombstone or the same (cur). Not with ON
//     CONFLICT: a record that a concurrent save of the id committed after
//     the snapshot is a unique violation, which undoes the whole statement
//     and is reported as a duplicate.
//
// The result is one row: the verdict, whether the message was recorded,
// whether the row changed, and the row as stored (NULL when neither up nor
// cur has it). Not recorded and nothing to report means that a row
// appeared after cur looked and was left alone: the statement is run again.
const saveUserEvent = `WITH cur AS (
	SELECT ` + userColumns + ` FROM users WHERE clerk_user_id = $2::text FOR UPDATE
), verdict AS (
	SELECT EXISTS (SELECT 1 FROM webhook_messages WHERE message_id = $19::text) AS duplicate,
		NOT EXISTS (SELECT 1 FROM cur) AS absent,
		EXISTS (SELECT 1 FROM cur WHERE cur.deleted_at IS NULL AND $16::timestamptz IS NULL
			AND cur.clerk_updated_at = $13::bigint
			AND (cur.email, cur.email_verified, cur.first_name, cur.last_name, cur.image_url, cur.role,
				cur.public_metadata, cur.external_id, cur.banned, cur.last_sign_in_at)
			IS DISTINCT FROM
				($3::text, $4::boolean, $5::text, $6::text, $7::text, $8::text,
				$9::jsonb, $10::text, $11::boolean, $12::timestamptz)) AS tie
), proceed AS (
	SELECT FROM verdict WHERE NOT duplicate AND NOT ($18::boolean AND absent) AND NOT ($17::boolean AND tie)
), up AS (
	INSERT INTO users AS u (` + userColumns + `)
	SELECT $1::text, $2::text, $3::text, $4::boolean, $5::text, $6::text, $7::text, $8::text, $9::jsonb,
		$10::text, $11::boolean, $12::timestamptz, $13::bigint, $14::timestamptz, $15::timestamptz, $16::timestamptz
	FROM proceed
	` + onConflictUser + `
		AND NOT ($17::boolean AND u.deleted_at IS NULL AND EXCLUDED.deleted_at IS NULL
			AND u.clerk_updated_at = EXCLUDED.clerk_updated_at)
	RETURNING ` + userColumns + `
), rec AS (
	INSERT INTO webhook_messages (message_id, event_type, body_sha256, processed_at)
	SELECT $19::text, $20::text, $21::bytea, $22::timestamptz FROM proceed
	WHERE EXISTS (SELECT 1 FROM up) OR EXISTS (SELECT 1 FROM cur)
	RETURNING 1
), stored AS (
	SELECT true AS changed, * FROM up
	UNION ALL
	SELECT false, * FROM cur WHERE NOT EXISTS (SELECT 1 FROM up)
)
SELECT v.duplicate, v.absent, v.tie, EXISTS (SELECT 1 FROM rec), s.*,
	(SELECT role FROM cur), (SELECT banned FROM cur)
FROM verdict v LEFT JOIN stored s ON true`

// SaveClerkUserEvent implements clerkgate.UserEventStore: an event that
// changes a stored user is one run of changeUserEvent, in a transaction
// shared with the events being saved at the same moment (batch.go); any
// other (a new user, a duplicate, a stale version, a tie) is then one run
// of saveUserEvent, a transaction of its own. Neither statement writes the
// change without the record, nor the record without the change.
func (s *Store) SaveClerkUserEvent(ctx context.Context, ev clerkgate.UserEvent) (clerkgate.UserEventResult, error) {
	if err := storecheck.User(ev.User); err != nil {
		return clerkgate.UserEventResult{}, err
	}
	r := ev.Record
	if err := storecheck.WebhookRecord(r); err != nil {
		return clerkgate.UserEventResult{}, err
	}
	processed := r.ProcessedAt
	if processed.IsZero() {
		processed = s.now()
	}
	// The common case goes with whatever other events are being saved,
	// in one transaction (batch.go); on its own if that failed.
	args := s.userArgs(ev.User, ev.ReportTie, r.MessageID, r.EventType, r.BodySHA256, millis(processed))
	stored, prev, err := s.events.change(ctx, ev.User.ClerkUserID, r.MessageID, args)
	if errors.Is(err, errBatchFailed) {
		stored, prev, err = s.changeOne(ctx, args)
	}
	var pgErr *pgconn.PgError
	switch {
	case err == nil && stored != nil:
		return clerkgate.UserEventResult{User: stored, Changed: true, Previous: prev}, nil
	case errors.As(err, &pgErr) && pgErr.Code == uniqueViolation && pgErr.TableName == "webhook_messages":
		return clerkgate.UserEventResult{Duplicate: true}, nil
	case err != nil:
		return clerkgate.UserEventResult{}, mapError("save user event", err)
	}
	// A row that appears between cur and up costs one more run; rows
	// are never removed, so the next run sees it.
	for range 3 {
		args := s.userArgs(ev.User, ev.ReportTie, ev.ReportAbsent, r.MessageID, r.EventType, r.BodySHA256, millis(processed))
		var res clerkgate.UserEventResult
		var recorded bool
		var changed *bool
		var row nullableUser
		var prevRole *string
		var prevBanned *bool
		err := s.pool.QueryRow(ctx, saveUserEvent, args...).Scan(
			append(append([]any{&res.Duplicate, &res.Absent, &res.Tie, &recorded, &changed}, row.dest()...), &prevRole, &prevBanned)...)
		switch {
		case errors.As(err, &pgErr) && pgErr.Code == uniqueViolation && pgErr.TableName == "webhook_messages":
			return clerkgate.UserEventResult{Duplicate: true}, nil
		case err != nil:
			return clerkgate.UserEventResult{}, mapError("save user event", err)
		case res.Duplicate:
			return clerkgate.UserEventResult{Duplicate: true}, nil
		case ev.ReportAbsent && res.Absent:
			return clerkgate.UserEventResult{Absent: true}, nil
		case ev.ReportTie && res.Tie:
			return clerkgate.UserEventResult{Tie: true}, nil
		case recorded:
			res := clerkgate.UserEventResult{User: row.user(), Changed: changed != nil && *changed}
			if res.Changed && prevRole != nil && prevBanned != nil {
				res.Previous = &clerkgate.UserPrevious{Role: *prevRole, Banned: *prevBanned}
			}
			return res, nil
		}
	}
	return clerkgate.UserEventResult{}, errors.New("postgres: save user event: the user's row kept changing")
}

// nullableUser receives the columns of userColumns where they may all be
// NULL (an outer join that found no row).
type nullableUser struct {
	id, clerkID, email, firstName, lastName, imageURL, role, externalID *string
	emailVerified, banned                                               *bool
	meta                                                                []byte
	lastSignIn, created, updated, deleted                               *time.Time
	clerkUpdated                                                        *int64
}

// dest are the scan destinations, in the order of userColumns.
func (n *nullableUser) dest() []any {
	return []any{&n.id, &n.clerkID, &n.email, &n.emailVerified, &n.firstName, &n.lastName, &n.imageURL, &n.role,
		&n.meta, &n.externalID, &n.banned, &n.lastSignIn, &n.clerkUpdated, &n.created, &n.updated, &n.deleted}
}

// user is the row read, or nil when there was none.
func (n *nullableUser) user() *clerkgate.User {
	if n.id == nil {
		return nil
	}
	str := func(p *string) string {
		if p == nil {
			return ""
		}
		return *p
	}
	tm := func(p *time.Time) time.Time {
		if p == nil {
			return time.Time{}
		}
		return p.UTC()
	}
	u := &clerkgate.User{
		ID: *n.id, ClerkUserID: str(n.clerkID), Email: str(n.email), FirstName: str(n.firstName),
		LastName: str(n.lastName), ImageURL: str(n.imageURL), Role: str(n.role), ExternalID: str(n.externalID),
		EmailVerified: n.emailVerified != nil && *n.emailVerified, Banned: n.banned != nil && *n.banned,
		LastSignInAt: tm(n.lastSignIn), CreatedAt: tm(n.created), UpdatedAt: tm(n.updated), DeletedAt: tm(n.deleted),
	}
	if n.meta != nil {
		u.PublicMetadata = n.meta
	}
	if n.clerkUpdated != nil {
		u.ClerkUpdatedAt = *n.clerkUpdated
	}
	return u
}

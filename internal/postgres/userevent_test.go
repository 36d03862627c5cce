package postgres_test

import (
	"context"
	"crypto/sha256"
	"testing"
	"time"

	clerkgate "github.com/clerkgate/clerkgate"
	"github.com/clerkgate/clerkgate/internal/postgres"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// The races of SaveClerkUserEvent that the contract suite cannot time: a
// transaction of another connection holds a row that the save then waits
// for, and ends while the save waits.

// holdTx begins a transaction in schema on a connection of its own and
// runs query in it; the caller ends it.
func holdTx(t *testing.T, schema, query string, args ...any) pgx.Tx {
	t.Helper()
	cfg, err := pgx.ParseConfig(serverURL(t))
	if err != nil {
		t.Fatal(err)
	}
	cfg.RuntimeParams["search_path"] = schema
	conn, err := pgx.ConnectConfig(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	tx, err := conn.Begin(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(t.Context(), query, args...); err != nil {
		t.Fatal(err)
	}
	return tx
}

// saveWhileHeld starts a SaveClerkUserEvent of ev, waits until it waits
// for a lock (the other transaction's row), ends tx with end, and returns
// the save's result.
func saveWhileHeld(t *testing.T, s interface {
	SaveClerkUserEvent(context.Context, clerkgate.UserEvent) (clerkgate.UserEventResult, error)
}, schema string, tx pgx.Tx, end func(context.Context) error, ev clerkgate.UserEvent) clerkgate.UserEventResult {
	t.Helper()
	type result struct {
		res clerkgate.UserEventResult
		err error
	}
	done := make(chan result, 1)
	go func() {
		res, err := s.SaveClerkUserEvent(context.Background(), ev)
		done <- result{res, err}
	}()
	deadline := time.Now().Add(10 * time.Second)
	for count(t, schema, `SELECT count(*) FROM pg_stat_activity
		WHERE wait_event_type = 'Lock' AND application_name = '`+schema+`'`) == 0 {
		select {
		case r := <-done:
			t.Fatalf("the save did not wait: %+v, %v", r.res, r.err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("the save never waited for the held row")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := end(t.Context()); err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.err != nil {
		t.Fatalf("SaveClerkUserEvent: %v", r.err)
	}
	return r.res
}

// openNamed opens a migrated store in schema whose connections carry the
// schema's name as application_name, so that saveWhileHeld finds them
// waiting among those of other tests.
func openNamed(t *testing.T, schema string) *postgres.Store {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(serverURL(t))
	if err != nil {
		t.Fatal(err)
	}
	cfg.ConnConfig.RuntimeParams["search_path"] = schema
	cfg.ConnConfig.RuntimeParams["application_name"] = schema
	s, err := postgres.New(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	return s
}

// eventRecord is the record of message id with a body of its own.
func eventRecord(id string) clerkgate.WebhookRecord {
	d := sha256.Sum256([]byte(id))
	return clerkgate.WebhookRecord{MessageID: id, EventType: "user.updated", BodySHA256: d[:]}
}

// TestUserEventRecordRace: a record of the message id that another
// transaction commits while the save waits to write its own undoes the
// save's user write too (a duplicate); one that is rolled back lets the
// save record the message and store the user.
func TestUserEventRecordRace(t *testing.T) {
	t.Parallel()
	schema := MustSchema(t)
	s := openNamed(t, schema)
	const hold = `INSERT INTO webhook_messages (message_id, event_type, body_sha256, processed_at) VALUES ($1, 'user.updated', $2, now())`
	other := sha256.Sum256([]byte("another body"))

	tx := holdTx(t, schema, hold, "msg_race_commit", other[:])
	res := saveWhileHeld(t, s, schema, tx, tx.Commit, clerkgate.UserEvent{
		User: &clerkgate.User{ClerkUserID: "user_race_commit", ClerkUpdatedAt: 1}, Record: eventRecord("msg_race_commit")})
	if !res.Duplicate || res.User != nil {
		t.Errorf("record committed meanwhile: %+v, want Duplicate", res)
	}
	if _, err := s.UserByClerkID(t.Context(), "user_race_commit"); clerkgate.ErrorCode(err) != clerkgate.CodeNotFound {
		t.Errorf("the duplicate's user was written (err %v)", err)
	}

	// The same for a change of a stored user (the lean statement).
	if _, _, err := s.SaveClerkUser(t.Context(), &clerkgate.User{ClerkUserID: "user_race_stored", ClerkUpdatedAt: 1}); err != nil {
		t.Fatal(err)
	}
	for _, end := range []string{"commit", "rollback"} {
		msg := "msg_race_stored_" + end
		tx = holdTx(t, schema, hold, msg, other[:])
		res = saveWhileHeld(t, s, schema, tx, map[string]func(context.Context) error{"commit": tx.Commit, "rollback": tx.Rollback}[end],
			clerkgate.UserEvent{User: &clerkgate.User{ClerkUserID: "user_race_stored", FirstName: end, ClerkUpdatedAt: 2}, Record: eventRecord(msg)})
		u, err := s.UserByClerkID(t.Context(), "user_race_stored")
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case end == "commit" && (!res.Duplicate || u.ClerkUpdatedAt != 1):
			t.Errorf("stored user, record committed meanwhile: %+v, user v%d; want Duplicate and v1", res, u.ClerkUpdatedAt)
		case end == "rollback" && (res.Duplicate || !res.Changed || u.FirstName != "rollback"):
			t.Errorf("stored user, record rolled back meanwhile: %+v, user %+v; want the change", res, u)
		}
	}

	tx = holdTx(t, schema, hold, "msg_race_rollback", other[:])
	res = saveWhileHeld(t, s, schema, tx, tx.Rollback, clerkgate.UserEvent{
		User: &clerkgate.User{ClerkUserID: "user_race_rollback", ClerkUpdatedAt: 1}, Record: eventRecord("msg_race_rollback")})
	if res.Duplicate || !res.Changed || res.User == nil {
		t.Errorf("record rolled back meanwhile: %+v, want the user stored", res)
	}
	if rec, err := s.WebhookRecord(t.Context(), "msg_race_rollback"); err != nil || rec.BodySHA256[0] != eventRecord("msg_race_rollback").BodySHA256[0] {
		t.Errorf("record %+v, %v; want the save's", rec, err)
	}
}

// TestUserEventRowRace: a row that another transaction inserts after the
// save looked (and commits while the save waits to insert its own) is
// dealt with as if it had been there: older, it is overwritten; newer, the
// save is stale; at the same version with other content, a tie.
func TestUserEventRowRace(t *testing.T) {
	t.Parallel()
	schema := MustSchema(t)
	s := openNamed(t, schema)
	const hold = `INSERT INTO users (id, clerk_user_id, first_name, clerk_updated_at, created_at, updated_at)
		VALUES ($1, $2, 'Held', $3, now(), now())`
	for _, tc := range []struct {
		name    string
		held    int64 // the version the other transaction inserts
		version int64 // the version saved
		tie     bool
		want    func(clerkgate.UserEventResult) bool
	}{
		{"older row", 1, 2, false, func(r clerkgate.UserEventResult) bool {
			return r.Changed && r.User != nil && r.User.FirstName == "Saved" && r.User.ID == "usr_held_older row"
		}},
		{"newer row", 3, 2, false, func(r clerkgate.UserEventResult) bool {
			return !r.Changed && r.User != nil && r.User.FirstName == "Held" && !r.Duplicate && !r.Tie
		}},
		{"tie", 2, 2, true, func(r clerkgate.UserEventResult) bool { return r.Tie && r.User == nil }},
		{"same version overwrites without ReportTie", 2, 2, false, func(r clerkgate.UserEventResult) bool {
			return r.Changed && r.User != nil && r.User.FirstName == "Saved"
		}},
	} {
		clerkID := "user_held_" + tc.name
		tx := holdTx(t, schema, hold, "usr_held_"+tc.name, clerkID, tc.held)
		msg := "msg_held_" + tc.name
		res := saveWhileHeld(t, s, schema, tx, tx.Commit, clerkgate.UserEvent{
			User: &clerkgate.User{ClerkUserID: clerkID, FirstName: "Saved", ClerkUpdatedAt: tc.version}, Record: eventRecord(msg), ReportTie: tc.tie})
		if !tc.want(res) {
			t.Errorf("%s: %+v (user %+v)", tc.name, res, res.User)
		}
		_, err := s.WebhookRecord(t.Context(), msg)
		if recorded := err == nil; recorded == tc.tie {
			t.Errorf("%s: recorded %v (%v)", tc.name, recorded, err)
		}
	}
}

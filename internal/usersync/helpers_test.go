package usersync_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/clerkgate/clerkgate"
	"github.com/clerkgate/clerkgate/internal/policy"
	"github.com/clerkgate/clerkgate/internal/postgres"
	"github.com/clerkgate/clerkgate/internal/security"
	"github.com/clerkgate/clerkgate/internal/sqlite"
	"github.com/clerkgate/clerkgate/internal/usersync"
	"github.com/clerkgate/clerkgate/verify"
)

// pgURLVar names the variable with the URL of a PostgreSQL test server.
// Unset, the Postgres variants skip; set, a server that does not answer
// fails them.
const pgURLVar = "CLERKGATE_TEST_POSTGRES_URL"

// store is what the tests use of a real store: what the syncer needs, the
// security events it records, and Close.
type store interface {
	usersync.Store
	clerkgate.SecurityEventStore
	Close() error
}

// database is one fresh, migrated, empty database of one engine. open
// returns a new store on it each time it is called (so a test can close one
// and reopen the same data), closed at the end of tb.
type database struct {
	engine string
	open   func(tb testing.TB) store
}

// engines are the engines every sync test runs on.
var engines = []string{"sqlite", "postgres"}

// eachEngine runs fn as one parallel subtest per engine, each with a fresh
// database. The Postgres subtest skips when pgURLVar is unset.
func eachEngine(t *testing.T, fn func(t *testing.T, db database)) {
	t.Helper()
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			fn(t, newDatabase(t, engine))
		})
	}
}

// newDatabase creates an empty database of engine for tb: a SQLite file in
// tb.TempDir(), or a PostgreSQL schema of its own dropped at the end.
func newDatabase(tb testing.TB, engine string) database {
	tb.Helper()
	switch engine {
	case "sqlite":
		path := filepath.Join(tb.TempDir(), "clerkgate.db")
		return database{engine: engine, open: func(tb testing.TB) store { return openSQLite(tb, path) }}
	case "postgres":
		url := postgresURL(tb)
		schema := mustSchema(tb, url)
		return database{engine: engine, open: func(tb testing.TB) store { return openPostgres(tb, url, schema) }}
	}
	tb.Fatalf("unknown engine %q", engine)
	return database{}
}

// postgresURL returns the URL of the Postgres test server or skips tb.
func postgresURL(tb testing.TB) string {
	tb.Helper()
	url := os.Getenv(pgURLVar)
	if url == "" {
		tb.Skipf("%s is not set", pgURLVar)
	}
	return url
}

func openSQLite(tb testing.TB, path string) store {
	tb.Helper()
	s, err := sqlite.Open(context.Background(), path)
	if err != nil {
		tb.Fatalf("sqlite.Open: %v", err)
	}
	tb.Cleanup(func() { s.Close() }) // closing twice is harmless
	if err := s.Migrate(context.Background()); err != nil {
		tb.Fatalf("sqlite Migrate: %v", err)
	}
	return s
}

// mustSchema creates a schema of its own for tb, dropped at the end, and
// returns its name. A server that does not answer fails tb.
func mustSchema(tb testing.TB, url string) string {
	tb.Helper()
	var b [8]byte
	rand.Read(b[:])
	schema := "usersync_" + hex.EncodeToString(b[:])
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		tb.Fatalf("connect to %s: %v", pgURLVar, err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		tb.Fatalf("create schema: %v", err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, url)
		if err != nil {
			tb.Errorf("drop schema %s: %v", schema, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			tb.Errorf("drop schema %s: %v", schema, err)
		}
	})
	return schema
}

// pgConfig is a pool configuration for url working in schema.
func pgConfig(tb testing.TB, url, schema string) *pgxpool.Config {
	tb.Helper()
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		tb.Fatalf("%s: %v", pgURLVar, err)
	}
	cfg.ConnConfig.RuntimeParams["search_path"] = schema
	return cfg
}

func openPostgres(tb testing.TB, url, schema string) store {
	tb.Helper()
	s, err := postgres.New(context.Background(), pgConfig(tb, url, schema))
	if err != nil {
		tb.Fatalf("postgres.New: %v", err)
	}
	tb.Cleanup(func() { s.Close() })
	if err := s.Migrate(context.Background()); err != nil {
		tb.Fatalf("postgres Migrate: %v", err)
	}
	return s
}

// denier is the real in-process deny list, recording the calls the syncer
// makes so that a test can tell a call from a state.
type denier struct {
	verify.MemoryDenyList
	mu    sync.Mutex
	calls []string
}

func (d *denier) record(call string) {
	d.mu.Lock()
	d.calls = append(d.calls, call)
	d.mu.Unlock()
}

func (d *denier) DenySession(sessionID string, until time.Time) {
	d.record("deny_session " + sessionID)
	d.MemoryDenyList.DenySession(sessionID, until)
}

func (d *denier) DenyUser(userID string) {
	d.record("deny_user " + userID)
	d.MemoryDenyList.DenyUser(userID)
}

func (d *denier) AllowUser(userID string) {
	d.record("allow_user " + userID)
	d.MemoryDenyList.AllowUser(userID)
}

// Calls returns the calls so far.
func (d *denier) Calls() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.calls)
}

// observer records the (type, result) pairs the syncer reports.
type observer struct {
	mu  sync.Mutex
	got []string
}

func (o *observer) observe(eventType, result string) {
	o.mu.Lock()
	o.got = append(o.got, eventType+" "+result)
	o.mu.Unlock()
}

func (o *observer) Got() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return slices.Clone(o.got)
}

// fixture is a syncer over a real store with a real deny list and security
// recorder.
type fixture struct {
	store  store
	syncer *usersync.Syncer
	deny   *denier
	obs    *observer
	users  []*clerkgate.User // every OnUser call
	mu     sync.Mutex
}

func newFixture(st store) *fixture {
	f := &fixture{store: st, deny: &denier{}, obs: &observer{}}
	f.syncer = usersync.New(usersync.Options{
		Store:    st,
		Policy:   policy.Default(),
		Denier:   f.deny,
		Security: security.New(st, nil, nil),
		OnUser: func(u *clerkgate.User) {
			f.mu.Lock()
			f.users = append(f.users, u)
			f.mu.Unlock()
		},
		Observe: f.obs.observe,
	})
	return f
}

// Test data. Clerk versions are Unix milliseconds near base.
var baseMillis = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC).UnixMilli()

// clerkUser returns the data of a user.created/user.updated event in
// Clerk's shape (with fields clerkgate ignores, private metadata and an
// unknown field), at version updated; mods change it.
func clerkUser(id string, updated int64, mods ...func(map[string]any)) map[string]any {
	emailID := "idn_" + id[len("user_"):]
	u := map[string]any{
		"id":                       id,
		"object":                   "user",
		"username":                 nil,
		"first_name":               "Ada",
		"last_name":                "Lovelace",
		"image_url":                "https://img.clerk.test/" + id + ".png",
		"has_image":                true,
		"primary_email_address_id": emailID,
		"primary_phone_number_id":  nil,
		"email_addresses": []any{map[string]any{
			"id": emailID, "object": "email_address", "email_address": id + "@example.test",
			"verification": map[string]any{"object": "verification_admin", "status": "verified", "strategy": "admin"},
			"linked_to":    []any{}, "created_at": baseMillis, "updated_at": baseMillis,
		}},
		"phone_numbers":               []any{},
		"web3_wallets":                []any{},
		"external_accounts":           []any{},
		"public_metadata":             map[string]any{},
		"private_metadata":            map[string]any{"stripe_customer": "cus_secret"},
		"unsafe_metadata":             map[string]any{},
		"external_id":                 nil,
		"last_sign_in_at":             baseMillis - 60_000,
		"banned":                      false,
		"locked":                      false,
		"created_at":                  baseMillis - 3_600_000,
		"updated_at":                  updated,
		"a_field_clerk_adds_tomorrow": map[string]any{"x": []any{1, 2}},
	}
	for _, m := range mods {
		m(u)
	}
	return u
}

// set returns a modification that sets key to v.
func set(key string, v any) func(map[string]any) {
	return func(u map[string]any) { u[key] = v }
}

// event returns the body of a Clerk webhook event; tb may be nil.
func event(tb testing.TB, typ string, data any) []byte {
	b, err := json.Marshal(map[string]any{
		"data": data, "object": "event", "type": typ, "timestamp": baseMillis, "instance_id": "ins_test",
		"event_attributes": map[string]any{"http_request": map[string]any{"client_ip": "198.51.100.4", "user_agent": "test"}},
	})
	if err != nil {
		panic(err) // data is the tests' own
	}
	return b
}

var msgSeq atomic.Int64

// newMsgID returns a fresh svix message id.
func newMsgID() string { return fmt.Sprintf("msg_%d_%d", time.Now().UnixNano(), msgSeq.Add(1)) }

// deliver hands one message to the syncer.
func (f *fixture) deliver(tb testing.TB, id string, body []byte) (usersync.Outcome, error) {
	tb.Helper()
	return f.syncer.HandleWebhook(context.Background(), usersync.Message{
		ID: id, Body: body, IP: "203.0.113.9", RequestID: "req-" + id,
	})
}

// mustDeliver delivers a message with a fresh id and fails tb unless it
// succeeds with result want.
func (f *fixture) mustDeliver(tb testing.TB, want string, body []byte) usersync.Outcome {
	tb.Helper()
	out, err := f.deliver(tb, newMsgID(), body)
	if err != nil || out.Result != want {
		tb.Fatalf("HandleWebhook(%.120s) = %+v, %v; want result %s", body, out, err, want)
	}
	return out
}

// mustUser returns the stored user with Clerk id clerkID.
func mustUser(tb testing.TB, st store, clerkID string) *clerkgate.User {
	tb.Helper()
	u, err := st.UserByClerkID(context.Background(), clerkID)
	if err != nil {
		tb.Fatalf("UserByClerkID(%s): %v", clerkID, err)
	}
	return u
}

// allUsers returns every stored user, tombstones included.
func allUsers(tb testing.TB, st store) []*clerkgate.User {
	tb.Helper()
	var out []*clerkgate.User
	q := clerkgate.UserQuery{Limit: 200, IncludeDeleted: true}
	for {
		page, next, err := st.ListUsers(context.Background(), q)
		if err != nil {
			tb.Fatalf("ListUsers: %v", err)
		}
		out = append(out, page...)
		if next == "" {
			return out
		}
		q.Cursor = next
	}
}

// recorded reports whether a webhook record exists for id.
func recorded(tb testing.TB, st store, id string) bool {
	tb.Helper()
	_, err := st.WebhookRecord(context.Background(), id)
	switch clerkgate.ErrorCode(err) {
	case "":
		return true
	case clerkgate.CodeNotFound:
		return false
	}
	tb.Fatalf("WebhookRecord(%s): %v", id, err)
	return false
}

// securityEvents returns the stored security events of kind, newest first.
func securityEvents(tb testing.TB, st store, kind string) []clerkgate.SecurityEvent {
	tb.Helper()
	evs, _, err := st.SecurityEvents(context.Background(), clerkgate.SecurityEventQuery{Kind: kind, Limit: 200})
	if err != nil {
		tb.Fatalf("SecurityEvents(%s): %v", kind, err)
	}
	return evs
}

// sameJSON reports whether two JSON texts hold the same value (Postgres
// jsonb gives objects back with its own spacing and key order).
func sameJSON(a, b []byte) bool {
	if len(a) == 0 || len(b) == 0 {
		return len(a) == len(b)
	}
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}

// signingKey is one RSA key shared by every emulator the tests start, to
// spare the key generation.
var signingKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

// tickingClock returns a clock that moves forward one millisecond each
// time it is read, so that every change in the emulator has a version of
// its own.
func tickingClock() func() time.Time {
	start := time.Now().Truncate(time.Millisecond)
	var n atomic.Int64
	return func() time.Time { return start.Add(time.Duration(n.Add(1)) * time.Millisecond) }
}

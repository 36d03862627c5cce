package postgres_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	clerkgate "github.com/clerkgate/clerkgate"
	"github.com/clerkgate/clerkgate/internal/postgres"
	"github.com/clerkgate/clerkgate/internal/storetest"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// urlVar names the variable with the URL of a test server. Unset, the tests
// skip; set, a server that does not answer fails them.
const urlVar = "CLERKGATE_TEST_POSTGRES_URL"

// serverURL returns the URL of the test server or skips tb.
func serverURL(tb testing.TB) string {
	tb.Helper()
	u := os.Getenv(urlVar)
	if u == "" {
		tb.Skipf("%s is not set", urlVar)
	}
	return u
}

// MustSchema creates a schema of its own for tb, dropped at the end of the
// test, and returns its name.
func MustSchema(tb testing.TB) string {
	tb.Helper()
	url := serverURL(tb)
	var b [8]byte
	rand.Read(b[:])
	schema := "t_" + hex.EncodeToString(b[:])
	conn, err := pgx.Connect(tb.Context(), url)
	if err != nil {
		tb.Fatalf("connect to %s: %v", urlVar, err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(tb.Context(), "CREATE SCHEMA "+schema); err != nil {
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

// MustOpenIn opens a store whose search_path is schema and closes it at the
// end of the test; it does not migrate.
func MustOpenIn(tb testing.TB, schema string) *postgres.Store {
	tb.Helper()
	cfg, err := pgxpool.ParseConfig(serverURL(tb))
	if err != nil {
		tb.Fatalf("%s: %v", urlVar, err)
	}
	cfg.ConnConfig.RuntimeParams["search_path"] = schema
	s, err := postgres.New(tb.Context(), cfg)
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

// MustOpen opens a migrated store in a fresh schema.
func MustOpen(tb testing.TB) *postgres.Store {
	tb.Helper()
	s := MustOpenIn(tb, MustSchema(tb))
	if err := s.Migrate(tb.Context()); err != nil {
		tb.Fatalf("Migrate: %v", err)
	}
	return s
}

// exec runs one statement in schema through a connection of its own.
func exec(t *testing.T, schema, query string, args ...any) {
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
	defer conn.Close(context.Background())
	if _, err := conn.Exec(t.Context(), query, args...); err != nil {
		t.Fatal(err)
	}
}

// count returns the result of a count(*) query in schema.
func count(t *testing.T, schema, query string) int {
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
	defer conn.Close(context.Background())
	var n int
	if err := conn.QueryRow(t.Context(), query).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestContract(t *testing.T) {
	t.Parallel()
	serverURL(t)
	storetest.Run(t, func(t *testing.T) storetest.Store { return MustOpen(t) })
}

func TestPurgeInBatches(t *testing.T) {
	t.Parallel()
	s := MustOpen(t)
	postgres.SetPurgeBatch(s, 3)
	storetest.PurgeInBatches(t, s, 3)
}

func BenchmarkSaveClerkUser(b *testing.B) {
	serverURL(b)
	storetest.BenchmarkSaveClerkUser(b, func(b *testing.B) clerkgate.UserStore { return MustOpen(b) })
}

func BenchmarkSaveWebhookRecord(b *testing.B) {
	serverURL(b)
	storetest.BenchmarkSaveWebhookRecord(b, func(b *testing.B) clerkgate.WebhookStore { return MustOpen(b) })
}

func TestOpenErrors(t *testing.T) {
	t.Parallel()
	if _, err := postgres.Open(t.Context(), "postgres://user:secret@[::1"); err == nil {
		t.Error("Open of a URL that does not parse succeeded")
	} else if msg := err.Error(); strings.Contains(msg, "secret") {
		t.Errorf("error shows the password: %s", msg)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if _, err := postgres.Open(ctx, "postgres://postgres@127.0.0.1:1/none?sslmode=disable&connect_timeout=2"); err == nil {
		t.Error("Open of a server that does not answer succeeded")
	}
}

func TestMigrateTwiceAndStatus(t *testing.T) {
	t.Parallel()
	schema := MustSchema(t)
	s := MustOpenIn(t, schema)
	before, err := s.MigrationStatus(t.Context())
	if err != nil {
		t.Fatalf("MigrationStatus of a new schema: %v", err)
	}
	if len(before) == 0 || before[0].Version != 1 || before[0].Name != "users" {
		t.Fatalf("status = %+v, want migration 1 users first", before)
	}
	for _, m := range before {
		if m.Applied {
			t.Fatalf("migration %d applied before Migrate", m.Version)
		}
	}
	for range 2 {
		if err := s.Migrate(t.Context()); err != nil {
			t.Fatalf("Migrate: %v", err)
		}
	}
	after, err := s.MigrationStatus(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for i, m := range after {
		if !m.Applied || m.AppliedAt.IsZero() || m.Version != i+1 || m.AppliedAt.Location() != time.UTC {
			t.Errorf("after Migrate: %+v", m)
		}
	}
	if n := count(t, schema, "SELECT count(*) FROM schema_migrations"); n != len(after) {
		t.Errorf("schema_migrations has %d rows, want %d", n, len(after))
	}
}

// TestConcurrentMigrate starts five instances on one empty schema at once:
// each migration is applied once and every instance succeeds.
func TestConcurrentMigrate(t *testing.T) {
	t.Parallel()
	schema := MustSchema(t)
	stores := make([]*postgres.Store, 5)
	for i := range stores {
		stores[i] = MustOpenIn(t, schema)
	}
	var wg sync.WaitGroup
	for _, s := range stores {
		wg.Go(func() {
			if err := s.Migrate(t.Context()); err != nil {
				t.Errorf("Migrate: %v", err)
			}
		})
	}
	wg.Wait()
	status, err := stores[0].MigrationStatus(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if n := count(t, schema, "SELECT count(*) FROM schema_migrations"); n != len(status) {
		t.Errorf("schema_migrations has %d rows, want %d", n, len(status))
	}
}

func TestReopen(t *testing.T) {
	t.Parallel()
	schema := MustSchema(t)
	s := MustOpenIn(t, schema)
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	saved, _, err := s.SaveClerkUser(t.Context(), &clerkgate.User{ClerkUserID: "user_1", Email: "a@example.test"})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	again := MustOpenIn(t, schema)
	if err := again.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	got, err := again.UserByID(t.Context(), saved.ID)
	if err != nil || got.Email != "a@example.test" {
		t.Fatalf("after reopen: %+v, %v", got, err)
	}
}

func TestSchemaTooNew(t *testing.T) {
	t.Parallel()
	schema := MustSchema(t)
	s := MustOpenIn(t, schema)
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	known, err := s.MigrationStatus(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	future := len(known) + 1
	exec(t, schema, `INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, 'from_the_future', now())`, future)

	if err := s.Migrate(t.Context()); !errors.Is(err, postgres.ErrSchemaTooNew) {
		t.Fatalf("Migrate of a newer database = %v, want ErrSchemaTooNew", err)
	}
	status, err := s.MigrationStatus(t.Context())
	if !errors.Is(err, postgres.ErrSchemaTooNew) {
		t.Fatalf("MigrationStatus of a newer database = %v, want ErrSchemaTooNew", err)
	}
	last := status[len(status)-1]
	if last.Version != future || last.Name != "from_the_future" || !last.Applied {
		t.Errorf("status does not list the unknown version: %+v", status)
	}
	if n := count(t, schema, "SELECT count(*) FROM schema_migrations"); n != future {
		t.Errorf("schema_migrations has %d rows, want %d (nothing changed)", n, future)
	}
}

// TestMetadataNUL: PostgreSQL's jsonb cannot hold \u0000; the store answers
// invalid_request, not internal.
func TestMetadataNUL(t *testing.T) {
	t.Parallel()
	s := MustOpen(t)
	_, _, err := s.SaveClerkUser(t.Context(), &clerkgate.User{ClerkUserID: "user_1", PublicMetadata: []byte(`{"a":"\u0000"}`)})
	if code := clerkgate.ErrorCode(err); code != clerkgate.CodeInvalidRequest {
		t.Fatalf("error %v (code %s), want invalid_request", err, code)
	}
}

// TestLinkErasesPasswordDigest checks in the table itself what the
// contract cannot see: linking a legacy user erases its password digest.
func TestLinkErasesPasswordDigest(t *testing.T) {
	t.Parallel()
	schema := MustSchema(t)
	s := MustOpenIn(t, schema)
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	for _, id := range []string{"legacy-1", "legacy-2"} {
		if _, err := s.CreateLocalUser(t.Context(), &clerkgate.User{ID: id, PasswordDigest: "$2a$04$digest"}); err != nil {
			t.Fatalf("CreateLocalUser: %v", err)
		}
	}
	const digests = "SELECT count(*) FROM users WHERE password_digest <> ''"
	if n := count(t, schema, digests); n != 2 {
		t.Fatalf("%d digests stored, want 2", n)
	}
	if _, err := s.LinkClerkUser(t.Context(), "legacy-1", &clerkgate.User{ClerkUserID: "user_1", ClerkUpdatedAt: 1}); err != nil {
		t.Fatalf("LinkClerkUser: %v", err)
	}
	if n := count(t, schema, digests); n != 1 {
		t.Fatalf("%d digests stored after one link, want 1", n)
	}
}

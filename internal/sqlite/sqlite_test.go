package sqlite_test

import (
	"database/sql"
	"errors"
	"path/filepath"
	"sync"
	"testing"

	clerkgate "github.com/clerkgate/clerkgate"
	"github.com/clerkgate/clerkgate/internal/sqlite"
	"github.com/clerkgate/clerkgate/internal/storetest"
	_ "modernc.org/sqlite"
)

// MustOpen opens the database at path, migrates it and closes it at the end
// of the test.
func MustOpen(tb testing.TB, path string) *sqlite.Store {
	tb.Helper()
	s, err := sqlite.Open(tb.Context(), path)
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	tb.Cleanup(func() {
		if err := s.Close(); err != nil {
			tb.Errorf("Close: %v", err)
		}
	})
	if err := s.Migrate(tb.Context()); err != nil {
		tb.Fatalf("Migrate: %v", err)
	}
	return s
}

// tempPath is a database file in a fresh temporary directory.
func tempPath(tb testing.TB) string { return filepath.Join(tb.TempDir(), "clerkgate.db") }

func TestContract(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) storetest.Store { return MustOpen(t, tempPath(t)) })
}

func TestContractMemory(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) storetest.Store { return MustOpen(t, sqlite.Memory) })
}

func TestPurgeInBatches(t *testing.T) {
	t.Parallel()
	s := MustOpen(t, sqlite.Memory)
	sqlite.SetPurgeBatch(s, 3)
	storetest.PurgeInBatches(t, s, 3)
}

func BenchmarkSaveClerkUser(b *testing.B) {
	storetest.BenchmarkSaveClerkUser(b, func(b *testing.B) clerkgate.UserStore { return MustOpen(b, tempPath(b)) })
}

func BenchmarkSaveWebhookRecord(b *testing.B) {
	storetest.BenchmarkSaveWebhookRecord(b, func(b *testing.B) clerkgate.WebhookStore { return MustOpen(b, tempPath(b)) })
}

func TestParseURL(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		url, want string
		ok        bool
	}{
		{"sqlite:///abs/path/file.db", "/abs/path/file.db", true},
		{"sqlite://./rel.db", "./rel.db", true},
		{"sqlite://rel/dir/x.db", "rel/dir/x.db", true},
		{"sqlite://:memory:", ":memory:", true},
		{"sqlite://", "", false},
		{"sqlite:/x.db", "", false},
		{"postgres://localhost/db", "", false},
		{"sqlite:///x.db?mode=ro", "", false},
		{"sqlite:///x.db#frag", "", false},
		{"/plain/path.db", "", false},
	} {
		got, err := sqlite.ParseURL(tc.url)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseURL(%q) = %q, %v; want %q ok=%v", tc.url, got, err, tc.want, tc.ok)
		}
	}
}

func TestOpenURL(t *testing.T) {
	t.Parallel()
	path := tempPath(t)
	s := MustOpen(t, "sqlite://"+path)
	if _, _, err := s.SaveClerkUser(t.Context(), &clerkgate.User{ClerkUserID: "user_1"}); err != nil {
		t.Fatal(err)
	}
	if _, err := sqlite.Open(t.Context(), "sqlite://"+path+"?x=1"); err == nil {
		t.Error("Open accepted a URL with query parameters")
	}
	if _, err := sqlite.Open(t.Context(), ""); err == nil {
		t.Error("Open accepted an empty path")
	}
}

func TestOpenFails(t *testing.T) {
	t.Parallel()
	_, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "missing-dir", "x.db"))
	if err == nil {
		t.Fatal("Open in a directory that does not exist succeeded")
	}
}

func TestMemoryIsPrivate(t *testing.T) {
	t.Parallel()
	a, b := MustOpen(t, sqlite.Memory), MustOpen(t, sqlite.Memory)
	if _, _, err := a.SaveClerkUser(t.Context(), &clerkgate.User{ClerkUserID: "user_1"}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.UserByClerkID(t.Context(), "user_1"); clerkgate.ErrorCode(err) != clerkgate.CodeNotFound {
		t.Fatalf("a user saved in one in-memory store is seen by another: %v", err)
	}
	// Many goroutines on the one connection of an in-memory store.
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if _, err := a.UserByClerkID(t.Context(), "user_1"); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
}

func TestMigrateTwiceAndStatus(t *testing.T) {
	t.Parallel()
	path := tempPath(t)
	s, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	before, err := s.MigrationStatus(t.Context())
	if err != nil {
		t.Fatalf("MigrationStatus of a new database: %v", err)
	}
	if len(before) == 0 || before[0].Version != 1 || before[0].Name != "users" {
		t.Fatalf("status = %+v, want migration 1 users first", before)
	}
	for _, m := range before {
		if m.Applied || !m.AppliedAt.IsZero() {
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
	if len(after) != len(before) {
		t.Fatalf("status lists %d migrations after, %d before", len(after), len(before))
	}
	for i, m := range after {
		if !m.Applied || m.AppliedAt.IsZero() || m.Version != i+1 {
			t.Errorf("after Migrate: %+v", m)
		}
	}
	if n := countRows(t, path, "schema_migrations"); n != len(after) {
		t.Errorf("schema_migrations has %d rows, want %d", n, len(after))
	}
}

func TestReopen(t *testing.T) {
	t.Parallel()
	path := tempPath(t)
	s, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	saved, _, err := s.SaveClerkUser(t.Context(), &clerkgate.User{ClerkUserID: "user_1", Email: "a@example.test"})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	again := MustOpen(t, path)
	got, err := again.UserByID(t.Context(), saved.ID)
	if err != nil || got.Email != "a@example.test" {
		t.Fatalf("after reopen: %+v, %v", got, err)
	}
}

func TestConcurrentMigrate(t *testing.T) {
	t.Parallel()
	path := tempPath(t)
	var wg sync.WaitGroup
	for range 4 {
		s, err := sqlite.Open(t.Context(), path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		wg.Go(func() {
			if err := s.Migrate(t.Context()); err != nil {
				t.Errorf("Migrate: %v", err)
			}
		})
	}
	wg.Wait()
	s := MustOpen(t, path)
	status, err := s.MigrationStatus(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if n := countRows(t, path, "schema_migrations"); n != len(status) {
		t.Errorf("schema_migrations has %d rows, want %d", n, len(status))
	}
}

func TestSchemaTooNew(t *testing.T) {
	t.Parallel()
	path := tempPath(t)
	s := MustOpen(t, path)
	known, err := s.MigrationStatus(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	future := len(known) + 1
	exec(t, path, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, 'from_the_future', 0)`, future)

	if err := s.Migrate(t.Context()); !errors.Is(err, sqlite.ErrSchemaTooNew) {
		t.Fatalf("Migrate of a newer database = %v, want ErrSchemaTooNew", err)
	}
	status, err := s.MigrationStatus(t.Context())
	if !errors.Is(err, sqlite.ErrSchemaTooNew) {
		t.Fatalf("MigrationStatus of a newer database = %v, want ErrSchemaTooNew", err)
	}
	last := status[len(status)-1]
	if last.Version != future || last.Name != "from_the_future" || !last.Applied {
		t.Errorf("status does not list the unknown version: %+v", status)
	}
	if n := countRows(t, path, "schema_migrations"); n != future {
		t.Errorf("schema_migrations has %d rows, want %d (nothing changed)", n, future)
	}
}

// exec runs one statement on the database file at path through a
// connection of its own.
func exec(t *testing.T, path, query string, args ...any) {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(t.Context(), query, args...); err != nil {
		t.Fatal(err)
	}
}

// countRows counts the rows of table in the database file at path.
func countRows(t *testing.T, path, table string) int {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRowContext(t.Context(), "SELECT count(*) FROM "+table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestLinkErasesPasswordDigest checks in the table itself what the
// contract cannot see: linking a legacy user erases its password digest.
func TestLinkErasesPasswordDigest(t *testing.T) {
	t.Parallel()
	path := tempPath(t)
	s := MustOpen(t, path)
	for _, id := range []string{"legacy-1", "legacy-2"} {
		if _, err := s.CreateLocalUser(t.Context(), &clerkgate.User{ID: id, PasswordDigest: "$2a$04$digest"}); err != nil {
			t.Fatalf("CreateLocalUser: %v", err)
		}
	}
	if n := countRows(t, path, "users WHERE password_digest <> ''"); n != 2 {
		t.Fatalf("%d digests stored, want 2", n)
	}
	if _, err := s.LinkClerkUser(t.Context(), "legacy-1", &clerkgate.User{ClerkUserID: "user_1", ClerkUpdatedAt: 1}); err != nil {
		t.Fatalf("LinkClerkUser: %v", err)
	}
	if n := countRows(t, path, "users WHERE password_digest <> ''"); n != 1 {
		t.Fatalf("%d digests stored after one link, want 1", n)
	}
}

// Package sqlite is the SQLite store of clerkgate, the default one: a single
// file (or an in-memory database) opened through the pure-Go driver
// modernc.org/sqlite, with embedded forward-only migrations. It implements
// the store interfaces of the root package (users, legacy-user links,
// memberships, session denials, webhook records, security events) and owns
// its SQL; the rules of what to store live in the packages above it. It
// never logs.
//
// A file database runs in WAL mode with one writer connection (SQLite admits
// one writer at a time; a single connection turns lock contention into a
// queue in Go) and a pool of read-only reader connections. An in-memory
// database lives in one connection, because every connection to ":memory:"
// would otherwise be a database of its own.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"time"

	clerkgate "github.com/clerkgate/clerkgate"
	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

// Memory is the path of an in-memory database, private to one Store and gone
// when it is closed.
const Memory = ":memory:"

// busyTimeout is how long a connection waits for a lock held by another
// process (another clerkgate on the same file) before it fails, in ms.
const busyTimeout = 5000

var (
	_ clerkgate.UserStore          = (*Store)(nil)
	_ clerkgate.LinkStore          = (*Store)(nil)
	_ clerkgate.MembershipStore    = (*Store)(nil)
	_ clerkgate.DenialStore        = (*Store)(nil)
	_ clerkgate.WebhookStore       = (*Store)(nil)
	_ clerkgate.SecurityEventStore = (*Store)(nil)
)

// Store is a SQLite database. Its methods are safe for concurrent use.
type Store struct {
	w   *sql.DB // the one writer connection
	r   *sql.DB // read-only connections; w itself for an in-memory database
	now func() time.Time

	purgeBatch int // rows per statement of PurgeSecurityEvents

	// The frequent statements, prepared on first use (the tables exist
	// only after Migrate): parsing the upsert costs more than running it.
	mu                    sync.Mutex
	save, byID, byClerkID *sql.Stmt
	saveWebhook, webhook  *sql.Stmt
	saveMembership, deny  *sql.Stmt
	saveEvent             *sql.Stmt
	saveUserEvent, userW  *sql.Stmt // on the writer, for SaveClerkUserEvent
	userExists            *sql.Stmt
}

// stmt returns *p, preparing query on db first if need be.
func (s *Store) stmt(ctx context.Context, p **sql.Stmt, db *sql.DB, query string) (*sql.Stmt, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if *p == nil {
		st, err := db.PrepareContext(ctx, query)
		if err != nil {
			return nil, err
		}
		*p = st
	}
	return *p, nil
}

// ParseURL returns the path in a DATABASE_URL of the sqlite scheme:
// "sqlite:///abs/path/file.db" is "/abs/path/file.db", "sqlite://./rel.db"
// is "./rel.db" and "sqlite://:memory:" is Memory. Query parameters are not
// supported: the store sets its own.
func ParseURL(url string) (string, error) {
	path, ok := strings.CutPrefix(url, "sqlite://")
	switch {
	case !ok:
		return "", errors.New("sqlite: database URL must start with sqlite://")
	case path == "":
		return "", errors.New("sqlite: database URL has no path")
	case strings.ContainsAny(path, "?#"):
		return "", errors.New("sqlite: database URL must not have query parameters or a fragment")
	}
	return path, nil
}

// Open opens (and creates when missing) the database at path, a file path or
// Memory; a DATABASE_URL ("sqlite://...") is accepted too and goes through
// ParseURL. It checks that the database answers but does not migrate it: call
// Migrate.
func Open(ctx context.Context, path string) (*Store, error) {
	if strings.HasPrefix(path, "sqlite:") {
		p, err := ParseURL(path)
		if err != nil {
			return nil, err
		}
		path = p
	}
	if path == "" || strings.ContainsRune(path, '?') {
		return nil, errors.New("sqlite: the database path must be non-empty and have no '?'")
	}
	common := fmt.Sprintf("_busy_timeout=%d&_foreign_keys=1&_txlock=immediate", busyTimeout)

	s := &Store{now: time.Now, purgeBatch: purgeBatch}
	if path == Memory {
		db, err := sql.Open("sqlite", Memory+"?"+common)
		if err != nil {
			return nil, fmt.Errorf("sqlite: open: %w", err)
		}
		db.SetMaxOpenConns(1)
		db.SetMaxIdleConns(1)
		db.SetConnMaxLifetime(0)
		db.SetConnMaxIdleTime(0)
		s.w, s.r = db, db
	} else {
		// synchronous=FULL: a commit survives a power loss, which is what
		// "durably stored" promises to Svix before the webhook is answered.
		w, err := sql.Open("sqlite", path+"?"+common+"&_journal_mode=WAL&_synchronous=FULL")
		if err != nil {
			return nil, fmt.Errorf("sqlite: open: %w", err)
		}
		w.SetMaxOpenConns(1)
		w.SetMaxIdleConns(1)
		r, err := sql.Open("sqlite", path+"?"+common+"&_query_only=1")
		if err != nil {
			w.Close()
			return nil, fmt.Errorf("sqlite: open: %w", err)
		}
		n := max(4, runtime.GOMAXPROCS(0))
		r.SetMaxOpenConns(n)
		r.SetMaxIdleConns(n)
		s.w, s.r = w, r
	}
	// The writer first: it creates the file and switches it to WAL.
	if err := s.w.PingContext(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("sqlite: open: %w", err)
	}
	if err := s.r.PingContext(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("sqlite: open: %w", err)
	}
	return s, nil
}

// Close closes every connection of s.
func (s *Store) Close() error {
	var err error
	s.mu.Lock()
	for _, st := range []*sql.Stmt{s.save, s.byID, s.byClerkID, s.saveWebhook, s.webhook, s.saveMembership, s.deny, s.saveEvent,
		s.saveUserEvent, s.userW, s.userExists} {
		if st != nil {
			err = errors.Join(err, st.Close())
		}
	}
	s.mu.Unlock()
	err = errors.Join(err, s.w.Close())
	if s.r != s.w {
		err = errors.Join(err, s.r.Close())
	}
	if err != nil {
		return fmt.Errorf("sqlite: close: %w", err)
	}
	return nil
}

// Ping checks that the database answers a query.
func (s *Store) Ping(ctx context.Context) error {
	var one int
	if err := s.r.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		return fmt.Errorf("sqlite: ping: %w", err)
	}
	return nil
}

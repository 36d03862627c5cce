// Package postgres is the PostgreSQL store of clerkgate, the one for
// production and for several instances behind a load balancer: a pgx/v5
// connection pool with embedded forward-only migrations that run once
// however many instances start at the same time. It implements the store
// interfaces of the root package (users, legacy-user links, memberships,
// session denials, webhook records, security events) and owns its SQL; the
// rules of what to store live in the packages above it. It never logs.
//
// The store works in the first schema of the connection's search_path, so
// one database can hold several clerkgate deployments (or test runs) in
// schemas of their own.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	clerkgate "github.com/clerkgate/clerkgate"
	"github.com/jackc/pgx/v5/pgxpool"
)

var (
	_ clerkgate.UserStore          = (*Store)(nil)
	_ clerkgate.LinkStore          = (*Store)(nil)
	_ clerkgate.MembershipStore    = (*Store)(nil)
	_ clerkgate.DenialStore        = (*Store)(nil)
	_ clerkgate.WebhookStore       = (*Store)(nil)
	_ clerkgate.SecurityEventStore = (*Store)(nil)
)

// Store is a PostgreSQL database. Its methods are safe for concurrent use.
type Store struct {
	pool       *pgxpool.Pool
	now        func() time.Time
	purgeBatch int // rows per statement of PurgeSecurityEvents
	events     *eventBatcher
}

// Open connects to the database at url ("postgres://user@host:5432/db?..."
// or a key=value connection string, as pgx accepts) and checks that it
// answers. It does not migrate: call Migrate.
func Open(ctx context.Context, url string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// pgx's message shows the URL with the password masked; keep only
		// the cause to be safe.
		return nil, errors.New("postgres: the database URL does not parse")
	}
	return New(ctx, cfg)
}

// New connects with a pool configuration of the caller's (pool sizes,
// RuntimeParams such as search_path) and checks that the database answers.
func New(ctx context.Context, cfg *pgxpool.Config) (*Store, error) {
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: connect: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: connect: %w", err)
	}
	s := &Store{pool: pool, now: time.Now, purgeBatch: purgeBatch}
	s.events = &eventBatcher{s: s}
	return s, nil
}

// Close closes every connection of s, waiting for those in use.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return fmt.Errorf("postgres: ping: %w", err)
	}
	return nil
}

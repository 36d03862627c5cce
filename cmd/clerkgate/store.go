package main

import (
	"context"
	"strings"
	"time"

	"github.com/clerkgate/clerkgate"
	"github.com/clerkgate/clerkgate/internal/postgres"
	"github.com/clerkgate/clerkgate/internal/sqlite"
	"github.com/clerkgate/clerkgate/internal/usersync"
)

// store is what the commands need of a user store beyond the interface the
// core uses: migrations and closing.
type store interface {
	usersync.Store
	clerkgate.SecurityEventStore
	Migrate(ctx context.Context) error
	MigrationStatus(ctx context.Context) ([]migrationStatus, error)
	Close() error
}

// migrationStatus is one migration as "migrate status" prints it.
type migrationStatus struct {
	Version int
	Name    string
	Applied bool
	When    string
}

// openStore opens the store of a DATABASE_URL.
func openStore(ctx context.Context, url string) (store, error) {
	if strings.HasPrefix(url, "sqlite://") {
		s, err := sqlite.Open(ctx, url)
		if err != nil {
			return nil, err
		}
		return sqliteStore{s}, nil
	}
	s, err := postgres.Open(ctx, url)
	if err != nil {
		return nil, err
	}
	return postgresStore{s}, nil
}

type sqliteStore struct{ *sqlite.Store }

func (s sqliteStore) MigrationStatus(ctx context.Context) ([]migrationStatus, error) {
	ms, err := s.Store.MigrationStatus(ctx)
	out := make([]migrationStatus, len(ms))
	for i, m := range ms {
		out[i] = newMigrationStatus(m.Version, m.Name, m.Applied, m.AppliedAt)
	}
	return out, err
}

type postgresStore struct{ *postgres.Store }

func (s postgresStore) MigrationStatus(ctx context.Context) ([]migrationStatus, error) {
	ms, err := s.Store.MigrationStatus(ctx)
	out := make([]migrationStatus, len(ms))
	for i, m := range ms {
		out[i] = newMigrationStatus(m.Version, m.Name, m.Applied, m.AppliedAt)
	}
	return out, err
}

func newMigrationStatus(version int, name string, applied bool, at time.Time) migrationStatus {
	m := migrationStatus{Version: version, Name: name, Applied: applied}
	if applied {
		m.When = at.UTC().Format(time.RFC3339)
	}
	return m
}

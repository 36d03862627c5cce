package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"time"

	"github.com/clerkgate/clerkgate/internal/migrations"

	"github.com/jackc/pgx/v5"
)

// migrationFiles holds the migrations, one file per version named
// NNNN_name.sql, numbered from 1 without gaps. They only ever move forward:
// a released file is never edited, a change is a new file. Each runs in a
// transaction, so none may use CREATE INDEX CONCURRENTLY.
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

// ErrSchemaTooNew reports a database migrated by a newer clerkgate: it has
// applied a version this binary does not know. Nothing is changed; the
// answer is to run the newer binary, never to downgrade the schema.
var ErrSchemaTooNew = errors.New("postgres: the database schema is newer than this binary")

// Migration is one migration of the schema and whether it is applied.
type Migration struct {
	Version   int
	Name      string
	Applied   bool
	AppliedAt time.Time // zero unless applied
}

// loadMigrations returns the embedded migrations in version order.
func loadMigrations() ([]migrations.Migration, error) {
	ms, err := migrations.Load(migrationFiles, "migrations")
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	return ms, nil
}

// migrateLock is the first key of the advisory lock that serialises
// migrations; the second is a hash of the schema being migrated, so that
// deployments in different schemas of one database do not wait on each
// other.
const migrateLock = 0x636c6b67 // "clkg"

const createMigrationsTable = `CREATE TABLE IF NOT EXISTS schema_migrations (
	version    integer     NOT NULL PRIMARY KEY,
	name       text        NOT NULL,
	applied_at timestamptz NOT NULL
)`

// Migrate applies the pending migrations in order, each in its own
// transaction that holds a transaction-scoped advisory lock and records the
// migration in schema_migrations. Instances that start at once all call
// Migrate: the first applies each migration, the others wait for the lock
// and find it applied. A database that has applied a version this binary
// does not know is ErrSchemaTooNew.
func (s *Store) Migrate(ctx context.Context) error {
	ms, err := loadMigrations()
	if err != nil {
		return err
	}
	for _, m := range ms {
		if err := s.apply(ctx, m, len(ms)); err != nil {
			return err
		}
	}
	return nil
}

// apply applies m unless it is applied already.
func (s *Store) apply(ctx context.Context, m migrations.Migration, latest int) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("postgres: migration %d: begin: %w", m.Version, err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	_, err = tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, hashtext(coalesce(current_schema(), '')))`, migrateLock)
	if err != nil {
		return fmt.Errorf("postgres: migration %d: lock: %w", m.Version, err)
	}
	if _, err := tx.Exec(ctx, createMigrationsTable); err != nil {
		return fmt.Errorf("postgres: create schema_migrations: %w", err)
	}
	var newest int
	var applied bool
	err = tx.QueryRow(ctx, `SELECT coalesce(max(version), 0), coalesce(bool_or(version = $1), false) FROM schema_migrations`, m.Version).Scan(&newest, &applied)
	if err != nil {
		return fmt.Errorf("postgres: migration %d: read schema_migrations: %w", m.Version, err)
	}
	if newest > latest {
		return fmt.Errorf("%w: it has version %d, this binary knows up to %d", ErrSchemaTooNew, newest, latest)
	}
	if applied {
		return nil
	}
	if _, err := tx.Exec(ctx, m.SQL, pgx.QueryExecModeSimpleProtocol); err != nil {
		return fmt.Errorf("postgres: migration %d (%s): %w", m.Version, m.Name, err)
	}
	_, err = tx.Exec(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)`,
		m.Version, m.Name, s.now().UTC())
	if err != nil {
		return fmt.Errorf("postgres: migration %d: record: %w", m.Version, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("postgres: migration %d: commit: %w", m.Version, err)
	}
	return nil
}

// MigrationStatus returns every migration this binary knows, in version
// order, with whether and when it was applied. When the database has applied
// versions this binary does not know, it returns them too, after the others,
// together with ErrSchemaTooNew.
func (s *Store) MigrationStatus(ctx context.Context) ([]Migration, error) {
	ms, err := loadMigrations()
	if err != nil {
		return nil, err
	}
	out := make([]Migration, len(ms))
	for i, m := range ms {
		out[i] = Migration{Version: m.Version, Name: m.Name}
	}
	var exists bool
	if err := s.pool.QueryRow(ctx, `SELECT to_regclass('schema_migrations') IS NOT NULL`).Scan(&exists); err != nil {
		return nil, fmt.Errorf("postgres: migration status: %w", err)
	}
	if !exists {
		return out, nil
	}
	rows, err := s.pool.Query(ctx, `SELECT version, name, applied_at FROM schema_migrations ORDER BY version`)
	if err != nil {
		return nil, fmt.Errorf("postgres: migration status: %w", err)
	}
	defer rows.Close()
	var unknown []int
	for rows.Next() {
		var v int
		var name string
		var at time.Time
		if err := rows.Scan(&v, &name, &at); err != nil {
			return nil, fmt.Errorf("postgres: migration status: %w", err)
		}
		if v >= 1 && v <= len(ms) {
			out[v-1].Applied, out[v-1].AppliedAt = true, at.UTC()
			continue
		}
		unknown = append(unknown, v)
		out = append(out, Migration{Version: v, Name: name, Applied: true, AppliedAt: at.UTC()})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: migration status: %w", err)
	}
	if len(unknown) > 0 {
		return out, fmt.Errorf("%w: it has versions %v, this binary knows up to %d", ErrSchemaTooNew, unknown, len(ms))
	}
	return out, nil
}

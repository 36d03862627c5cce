package sqlite

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"time"

	"github.com/clerkgate/clerkgate/internal/migrations"
)

// migrationFiles holds the migrations, one file per version named
// NNNN_name.sql, numbered from 1 without gaps. They only ever move forward:
// a released file is never edited, a change is a new file.
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

// ErrSchemaTooNew reports a database migrated by a newer clerkgate: it has
// applied a version this binary does not know. Nothing is changed; the
// answer is to run the newer binary, never to downgrade the schema.
var ErrSchemaTooNew = errors.New("sqlite: the database schema is newer than this binary")

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
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	return ms, nil
}

const createMigrationsTable = `CREATE TABLE IF NOT EXISTS schema_migrations (
	version    INTEGER NOT NULL PRIMARY KEY,
	name       TEXT    NOT NULL,
	applied_at INTEGER NOT NULL
) STRICT`

// Migrate applies the pending migrations in order, each in its own
// transaction that also records it in schema_migrations. Several processes
// may migrate the same file at once: each migration is applied once. A
// database that has applied a version this binary does not know is
// ErrSchemaTooNew.
func (s *Store) Migrate(ctx context.Context) error {
	ms, err := loadMigrations()
	if err != nil {
		return err
	}
	if _, err := s.w.ExecContext(ctx, createMigrationsTable); err != nil {
		return fmt.Errorf("sqlite: create schema_migrations: %w", err)
	}
	for _, m := range ms {
		if err := s.apply(ctx, m, len(ms)); err != nil {
			return err
		}
	}
	return nil
}

// apply applies m unless it is applied already, in one transaction that
// holds the write lock from its start (BEGIN IMMEDIATE), so the check and
// the change see the same schema.
func (s *Store) apply(ctx context.Context, m migrations.Migration, latest int) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: migration %d: begin: %w", m.Version, err)
	}
	defer tx.Rollback()
	var newest int
	var applied bool
	err = tx.QueryRowContext(ctx, `SELECT coalesce(max(version), 0), coalesce(max(version = ?), 0) FROM schema_migrations`, m.Version).Scan(&newest, &applied)
	if err != nil {
		return fmt.Errorf("sqlite: migration %d: read schema_migrations: %w", m.Version, err)
	}
	if newest > latest {
		return fmt.Errorf("%w: it has version %d, this binary knows up to %d", ErrSchemaTooNew, newest, latest)
	}
	if applied {
		return nil
	}
	if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
		return fmt.Errorf("sqlite: migration %d (%s): %w", m.Version, m.Name, err)
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
		m.Version, m.Name, s.now().UnixMilli())
	if err != nil {
		return fmt.Errorf("sqlite: migration %d: record: %w", m.Version, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: migration %d: commit: %w", m.Version, err)
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
	err = s.r.QueryRowContext(ctx, `SELECT count(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'`).Scan(&exists)
	if err != nil {
		return nil, fmt.Errorf("sqlite: migration status: %w", err)
	}
	if !exists {
		return out, nil
	}
	rows, err := s.r.QueryContext(ctx, `SELECT version, name, applied_at FROM schema_migrations ORDER BY version`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: migration status: %w", err)
	}
	defer rows.Close()
	var unknown []int
	for rows.Next() {
		var v int
		var name string
		var at int64
		if err := rows.Scan(&v, &name, &at); err != nil {
			return nil, fmt.Errorf("sqlite: migration status: %w", err)
		}
		if v >= 1 && v <= len(ms) {
			out[v-1].Applied, out[v-1].AppliedAt = true, fromMillis(at)
			continue
		}
		unknown = append(unknown, v)
		out = append(out, Migration{Version: v, Name: name, Applied: true, AppliedAt: fromMillis(at)})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: migration status: %w", err)
	}
	if len(unknown) > 0 {
		return out, fmt.Errorf("%w: it has versions %v, this binary knows up to %d", ErrSchemaTooNew, unknown, len(ms))
	}
	return out, nil
}

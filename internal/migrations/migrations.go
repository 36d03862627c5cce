// Package migrations loads the numbered SQL migrations a store embeds.
//
// A store keeps one file per schema version, named NNNN_name.sql and
// numbered from 1 without gaps or repeats. This package only reads and
// checks those files; applying them, and the SQL that records them, belong
// to each engine's store.
package migrations

import (
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
)

// Migration is one migration file: its version, the name after the
// version in its file name, and its SQL.
type Migration struct {
	Version int
	Name    string
	SQL     string
}

// Load returns the migrations in directory dir of fsys in version order.
// Every entry of dir must be a file named NNNN_name.sql, where NNNN is a
// version of at least 1 and name is not empty, and the versions must run
// 1..n without gaps or repeats. The errors it returns carry no package
// prefix; the store wraps them with its own.
func Load(fsys fs.FS, dir string) ([]Migration, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("read migrations: %w", err)
	}
	var ms []Migration
	for _, e := range entries {
		base, ok := strings.CutSuffix(e.Name(), ".sql")
		num, name, found := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if !ok || !found || err != nil || v < 1 || name == "" {
			return nil, fmt.Errorf("migration file %q is not named NNNN_name.sql", e.Name())
		}
		b, err := fs.ReadFile(fsys, path.Join(dir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("read migration: %w", err)
		}
		ms = append(ms, Migration{Version: v, Name: name, SQL: string(b)})
	}
	slices.SortFunc(ms, func(a, b Migration) int { return a.Version - b.Version })
	for i, m := range ms {
		if m.Version != i+1 {
			return nil, fmt.Errorf("migration versions must run 1..n without gaps or repeats, found %d at position %d", m.Version, i+1)
		}
	}
	return ms, nil
}

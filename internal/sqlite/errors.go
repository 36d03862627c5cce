package sqlite

import (
	"errors"
	"fmt"

	clerkgate "github.com/clerkgate/clerkgate"
	driver "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// mapError gives err its contract code: a unique violation is CodeConflict
// (a user with the same id), anything else is wrapped with the name of the
// operation (and is CodeInternal).
func mapError(op string, err error) error {
	return mapConflict(op, "a user with the same id already exists", err)
}

// mapConflict is mapError with the client-safe message of a unique
// violation, which depends on the table. It is the one place where SQLite's
// errors get their codes. SQLite's messages name tables and columns, never
// values.
func mapConflict(op, conflict string, err error) error {
	var e *driver.Error
	if errors.As(err, &e) {
		switch e.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return &clerkgate.Error{Code: clerkgate.CodeConflict, Message: conflict, Err: err}
		}
	}
	return fmt.Errorf("sqlite: %s: %w", op, err)
}

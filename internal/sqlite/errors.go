package sqlite

import (
	"errors"
	"fmt"

	clerkgate "github.com/clerkgate/clerkgate"
	driver "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// errNotFound is the answer for a user that is not there.
func errNotFound() error {
	return &clerkgate.Error{Code: clerkgate.CodeNotFound, Message: "user not found"}
}

// errInvalid is a CodeInvalidRequest error with a client-safe message.
func errInvalid(message string) error {
	return &clerkgate.Error{Code: clerkgate.CodeInvalidRequest, Message: message}
}

// mapError gives err its contract code: a unique violation is CodeConflict,
// anything else is wrapped with the name of the operation (and is
// CodeInternal). SQLite's messages name tables and columns, never values.
func mapError(op string, err error) error {
	var e *driver.Error
	if errors.As(err, &e) {
		switch e.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return &clerkgate.Error{Code: clerkgate.CodeConflict, Message: "a user with the same id already exists", Err: err}
		}
	}
	return fmt.Errorf("sqlite: %s: %w", op, err)
}

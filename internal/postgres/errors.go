package postgres

import (
	"errors"
	"fmt"

	clerkgate "github.com/clerkgate/clerkgate"
	"github.com/jackc/pgx/v5/pgconn"
)

// SQLSTATEs that mapError gives a code.
const (
	uniqueViolation         = "23505"
	characterNotInRepertory = "22021" // NUL or invalid UTF-8 in text
	untranslatableCharacter = "22P05" // \u0000 in jsonb
)

// mapError gives err its contract code: a unique violation is CodeConflict
// (a user with the same id), text PostgreSQL cannot hold (a NUL character
// in public metadata) is CodeInvalidRequest, anything else is wrapped with
// the name of the operation (and is CodeInternal).
func mapError(op string, err error) error {
	return mapConflict(op, "a user with the same id already exists", err)
}

// mapConflict is mapError with the client-safe message of a unique
// violation, which depends on the table. It is the one place where
// PostgreSQL's errors get their codes. The text of a *pgconn.PgError names
// the constraint; the values, which are in its Detail, never reach the
// message.
func mapConflict(op, conflict string, err error) error {
	var e *pgconn.PgError
	if errors.As(err, &e) {
		switch e.Code {
		case uniqueViolation:
			return &clerkgate.Error{Code: clerkgate.CodeConflict, Message: conflict, Err: err}
		case characterNotInRepertory, untranslatableCharacter:
			return &clerkgate.Error{Code: clerkgate.CodeInvalidRequest, Message: "text the database cannot store", Err: err}
		}
	}
	return fmt.Errorf("postgres: %s: %w", op, err)
}

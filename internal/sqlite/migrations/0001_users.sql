-- Users: the local copy of every Clerk user (SPEC section 6). Times are
-- Unix milliseconds in UTC; booleans are 0 or 1; empty optional strings of
-- the Go type are stored as '' except the ids, which are NULL when absent so
-- that UNIQUE ignores them.
CREATE TABLE users (
	id               TEXT    NOT NULL PRIMARY KEY,
	clerk_user_id    TEXT    UNIQUE,
	email            TEXT    NOT NULL DEFAULT '',
	email_verified   INTEGER NOT NULL DEFAULT 0 CHECK (email_verified IN (0, 1)),
	first_name       TEXT    NOT NULL DEFAULT '',
	last_name        TEXT    NOT NULL DEFAULT '',
	image_url        TEXT    NOT NULL DEFAULT '',
	role             TEXT    NOT NULL DEFAULT '',
	public_metadata  TEXT    CHECK (public_metadata IS NULL OR json_valid(public_metadata)),
	external_id      TEXT,
	banned           INTEGER NOT NULL DEFAULT 0 CHECK (banned IN (0, 1)),
	last_sign_in_at  INTEGER,
	clerk_updated_at INTEGER NOT NULL DEFAULT 0,
	created_at       INTEGER NOT NULL,
	updated_at       INTEGER NOT NULL,
	deleted_at       INTEGER
) STRICT;

CREATE INDEX users_email_lower ON users (lower(email));
CREATE INDEX users_external_id ON users (external_id);
CREATE INDEX users_role ON users (role);
CREATE INDEX users_created ON users (created_at, id);

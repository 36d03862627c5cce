-- Users: the local copy of every Clerk user (SPEC section 6). Empty
-- optional strings of the Go type are stored as '' except the ids, which
-- are NULL when absent so that UNIQUE ignores them. Ids compare bytewise
-- (COLLATE "C"): pages are ordered by (created_at, id).
CREATE TABLE users (
	id               text COLLATE "C" NOT NULL PRIMARY KEY,
	clerk_user_id    text        UNIQUE,
	email            text        NOT NULL DEFAULT '',
	email_verified   boolean     NOT NULL DEFAULT false,
	first_name       text        NOT NULL DEFAULT '',
	last_name        text        NOT NULL DEFAULT '',
	image_url        text        NOT NULL DEFAULT '',
	role             text        NOT NULL DEFAULT '',
	public_metadata  jsonb,
	external_id      text,
	banned           boolean     NOT NULL DEFAULT false,
	last_sign_in_at  timestamptz,
	clerk_updated_at bigint      NOT NULL DEFAULT 0,
	created_at       timestamptz NOT NULL,
	updated_at       timestamptz NOT NULL,
	deleted_at       timestamptz
);

CREATE INDEX users_email_lower ON users (lower(email));
CREATE INDEX users_external_id ON users (external_id);
CREATE INDEX users_role ON users (role);
CREATE INDEX users_created ON users (created_at, id);

-- What user sync needs beside the users (SPEC sections 6, 11 and 12): the
-- webhook messages already processed, denied sessions, organization
-- memberships and security events. Times are Unix milliseconds in UTC;
-- booleans are 0 or 1; optional strings of the Go type are stored as ''.

-- One row per processed Svix message: the idempotency key of the webhook
-- endpoint, with a digest of the body so that a replay with another body is
-- recognised. processed_at is indexed for pruning old rows.
CREATE TABLE webhook_messages (
	message_id   TEXT    NOT NULL PRIMARY KEY,
	event_type   TEXT    NOT NULL,
	body_sha256  BLOB    NOT NULL CHECK (length(body_sha256) = 32),
	processed_at INTEGER NOT NULL
) STRICT;

CREATE INDEX webhook_messages_processed ON webhook_messages (processed_at);

-- Denied Clerk sessions. A NULL until never ends. created_at moves forward
-- when a denial is extended, so that instances that poll by created_at see
-- the extension.
CREATE TABLE session_denials (
	session_id    TEXT    NOT NULL PRIMARY KEY,
	clerk_user_id TEXT    NOT NULL DEFAULT '',
	reason        TEXT    NOT NULL DEFAULT '',
	until         INTEGER,
	created_at    INTEGER NOT NULL
) STRICT;

CREATE INDEX session_denials_created ON session_denials (created_at);
CREATE INDEX session_denials_until ON session_denials (until);

-- Organization memberships. A deleted membership stays as a tombstone
-- (deleted = 1) with its version, so that older events lose to it.
CREATE TABLE org_memberships (
	org_id           TEXT    NOT NULL,
	clerk_user_id    TEXT    NOT NULL,
	org_slug         TEXT    NOT NULL DEFAULT '',
	role             TEXT    NOT NULL DEFAULT '',
	clerk_updated_at INTEGER NOT NULL DEFAULT 0,
	deleted          INTEGER NOT NULL DEFAULT 0 CHECK (deleted IN (0, 1)),
	updated_at       INTEGER NOT NULL,
	PRIMARY KEY (org_id, clerk_user_id)
) STRICT;

CREATE INDEX org_memberships_user ON org_memberships (clerk_user_id);

-- Security events (SPEC section 11). id is "sev_" and a lowercase ULID of
-- the event's time, so ids sort by time; pages are ordered by (at, id),
-- newest first.
CREATE TABLE security_events (
	id         TEXT    NOT NULL PRIMARY KEY,
	kind       TEXT    NOT NULL,
	at         INTEGER NOT NULL,
	ip         TEXT    NOT NULL DEFAULT '',
	user_id    TEXT    NOT NULL DEFAULT '',
	request_id TEXT    NOT NULL DEFAULT '',
	detail     TEXT    CHECK (detail IS NULL OR json_valid(detail))
) STRICT;

CREATE INDEX security_events_at ON security_events (at DESC, id DESC);
CREATE INDEX security_events_kind_at ON security_events (kind, at DESC, id DESC);

-- What user sync needs beside the users (SPEC sections 6, 11 and 12): the
-- webhook messages already processed, denied sessions, organization
-- memberships and security events. Optional strings of the Go type are
-- stored as ''. Keys that order pages compare bytewise (COLLATE "C"), as
-- in SQLite.

-- One row per processed Svix message: the idempotency key of the webhook
-- endpoint (shared by every instance), with a digest of the body so that a
-- replay with another body is recognised. processed_at is indexed for
-- pruning old rows.
CREATE TABLE webhook_messages (
	message_id   text        NOT NULL PRIMARY KEY,
	event_type   text        NOT NULL,
	body_sha256  bytea       NOT NULL CHECK (octet_length(body_sha256) = 32),
	processed_at timestamptz NOT NULL
);

CREATE INDEX webhook_messages_processed ON webhook_messages (processed_at);

-- Denied Clerk sessions. A NULL until never ends. created_at moves forward
-- when a denial is extended, so that instances that poll by created_at see
-- the extension.
CREATE TABLE session_denials (
	session_id    text COLLATE "C" NOT NULL PRIMARY KEY,
	clerk_user_id text        NOT NULL DEFAULT '',
	reason        text        NOT NULL DEFAULT '',
	until         timestamptz,
	created_at    timestamptz NOT NULL
);

CREATE INDEX session_denials_created ON session_denials (created_at);
CREATE INDEX session_denials_until ON session_denials (until);

-- Organization memberships. A deleted membership stays as a tombstone
-- (deleted = true) with its version, so that older events lose to it.
CREATE TABLE org_memberships (
	org_id           text COLLATE "C" NOT NULL,
	clerk_user_id    text        NOT NULL,
	org_slug         text        NOT NULL DEFAULT '',
	role             text        NOT NULL DEFAULT '',
	clerk_updated_at bigint      NOT NULL DEFAULT 0,
	deleted          boolean     NOT NULL DEFAULT false,
	updated_at       timestamptz NOT NULL,
	PRIMARY KEY (org_id, clerk_user_id)
);

CREATE INDEX org_memberships_user ON org_memberships (clerk_user_id);

-- Security events (SPEC section 11). id is "sev_" and a lowercase ULID of
-- the event's time, so ids sort by time; pages are ordered by (at, id),
-- newest first.
CREATE TABLE security_events (
	id         text COLLATE "C" NOT NULL PRIMARY KEY,
	kind       text        NOT NULL,
	at         timestamptz NOT NULL,
	ip         text        NOT NULL DEFAULT '',
	user_id    text        NOT NULL DEFAULT '',
	request_id text        NOT NULL DEFAULT '',
	detail     jsonb
);

CREATE INDEX security_events_at ON security_events (at DESC, id DESC);
CREATE INDEX security_events_kind_at ON security_events (kind, at DESC, id DESC);

-- The password digest of a legacy user (SPEC sections 1 and 8): the hash the
-- application's own login kept, held until import-legacy hands it to Clerk
-- and erased when the user is linked. '' when none. The partial index
-- serves import-legacy's walk through the users without a Clerk id.
ALTER TABLE users ADD COLUMN password_digest text NOT NULL DEFAULT '';

CREATE INDEX users_unlinked ON users (created_at, id) WHERE clerk_user_id IS NULL;

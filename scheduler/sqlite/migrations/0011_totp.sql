-- 0011: two-factor login (TOTP, RFC 6238; docs/security.md). A session may wait for its second
-- factor ('totp') or for the user's enrolment ('enrol') before it can do anything else; a user's
-- TOTP secret is pending until confirmed with a first code, and last_step refuses a code used
-- before (replay); recovery codes are kept as SHA-256, each used once.
ALTER TABLE sessions ADD COLUMN pending TEXT NOT NULL DEFAULT '';

CREATE TABLE user_totp (
	user_id INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
	secret TEXT NOT NULL,
	confirmed_at INTEGER NOT NULL DEFAULT 0,
	last_step INTEGER NOT NULL DEFAULT 0,
	created_at INTEGER NOT NULL
);

CREATE TABLE recovery_codes (
	user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
	code_hash TEXT NOT NULL,
	used_at INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (user_id, code_hash)
);

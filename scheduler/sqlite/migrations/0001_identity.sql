-- 0001: the tier tree, halls, categories, users, grants, sessions, API tokens, pairing codes, audit.
-- Times are Unix microseconds (0 = none); booleans are 0/1.
CREATE TABLE units (
	id INTEGER PRIMARY KEY,
	parent_id INTEGER REFERENCES units(id),
	kind TEXT NOT NULL CHECK (kind IN ('root', 'city', 'district', 'township', 'department')),
	code TEXT NOT NULL UNIQUE,
	name TEXT NOT NULL,
	path TEXT NOT NULL UNIQUE,
	created_at INTEGER NOT NULL
);
CREATE INDEX units_parent ON units(parent_id);

CREATE TABLE halls (
	id INTEGER PRIMARY KEY,
	unit_id INTEGER NOT NULL REFERENCES units(id),
	kind TEXT NOT NULL CHECK (kind IN ('hall', 'studio')),
	name TEXT NOT NULL,
	created_at INTEGER NOT NULL,
	UNIQUE (unit_id, name)
);

CREATE TABLE categories (
	id INTEGER PRIMARY KEY,
	parent_id INTEGER REFERENCES categories(id),
	code TEXT NOT NULL UNIQUE,
	name TEXT NOT NULL
);

CREATE TABLE users (
	id INTEGER PRIMARY KEY,
	kind TEXT NOT NULL CHECK (kind IN ('person', 'device')),
	username TEXT NOT NULL UNIQUE,
	display_name TEXT NOT NULL,
	unit_id INTEGER NOT NULL REFERENCES units(id),
	hall_id INTEGER REFERENCES halls(id),
	password_hash TEXT NOT NULL,
	must_change_password INTEGER NOT NULL,
	disabled INTEGER NOT NULL,
	failed_logins INTEGER NOT NULL,
	locked_until INTEGER NOT NULL,
	created_at INTEGER NOT NULL,
	updated_at INTEGER NOT NULL
);
CREATE INDEX users_unit ON users(unit_id);

CREATE TABLE grants (
	id INTEGER PRIMARY KEY,
	user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
	role TEXT NOT NULL,
	unit_id INTEGER NOT NULL REFERENCES units(id),
	created_at INTEGER NOT NULL,
	UNIQUE (user_id, role, unit_id)
);

CREATE TABLE sessions (
	id_hash TEXT PRIMARY KEY,
	user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
	csrf_token TEXT NOT NULL,
	created_at INTEGER NOT NULL,
	expires_at INTEGER NOT NULL
);
CREATE INDEX sessions_user ON sessions(user_id);

CREATE TABLE api_tokens (
	id INTEGER PRIMARY KEY,
	user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
	name TEXT NOT NULL,
	hash TEXT NOT NULL UNIQUE,
	scopes TEXT NOT NULL,
	created_at INTEGER NOT NULL,
	expires_at INTEGER NOT NULL,
	revoked_at INTEGER NOT NULL
);

CREATE TABLE pairing_codes (
	code_hash TEXT PRIMARY KEY,
	user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
	expires_at INTEGER NOT NULL
);

CREATE TABLE audit_log (
	id INTEGER PRIMARY KEY,
	at INTEGER NOT NULL,
	actor_id INTEGER NOT NULL,
	actor TEXT NOT NULL,
	unit_id INTEGER NOT NULL,
	unit_path TEXT NOT NULL,
	action TEXT NOT NULL,
	target TEXT NOT NULL,
	before_json TEXT NOT NULL,
	after_json TEXT NOT NULL,
	purpose TEXT NOT NULL,
	ip TEXT NOT NULL,
	request_id TEXT NOT NULL
);
CREATE INDEX audit_at ON audit_log(at);
CREATE INDEX audit_actor ON audit_log(actor_id);
CREATE INDEX audit_path ON audit_log(unit_path);

-- Append-only: nobody edits or deletes the audit log, not even through SQL of our own.
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;

-- 0007: calendar feeds (iCalendar subscriptions by secret URL) and each session's revision, which
-- the feeds send as SEQUENCE and DTSTAMP so that subscribed clients replace what they hold.
-- Times are Unix microseconds (0 = none).
ALTER TABLE reception_sessions ADD COLUMN revision INTEGER NOT NULL DEFAULT 0;
ALTER TABLE reception_sessions ADD COLUMN updated_at BIGINT NOT NULL DEFAULT 0;
UPDATE reception_sessions SET updated_at = created_at;

CREATE TABLE calendar_feeds (
	id INTEGER PRIMARY KEY,
	kind TEXT NOT NULL CHECK (kind IN ('leader', 'hall', 'unit')),
	target_id INTEGER NOT NULL,
	-- Where the subject sits in the tree: staff whose scope covers it manage the feed.
	unit_id INTEGER NOT NULL REFERENCES units(id),
	name TEXT NOT NULL,
	-- SHA-256 of the URL's token: the token itself is shown once, at creation.
	token_hash TEXT NOT NULL UNIQUE,
	created_by INTEGER NOT NULL REFERENCES users(id),
	created_at INTEGER NOT NULL,
	revoked_at INTEGER NOT NULL
);
CREATE INDEX calendar_feeds_unit ON calendar_feeds(unit_id);

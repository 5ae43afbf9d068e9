-- 0006: invitations of units and halls to a session (multi-site hearings, 会商, 联合接访) with each
-- one's answer; the reminder mark of a session; the checks made at booking, kept with the
-- appointment; indexes for those checks.
-- Times are Unix microseconds (0 = none).
CREATE TABLE session_invitations (
	id INTEGER PRIMARY KEY,
	session_id INTEGER NOT NULL REFERENCES reception_sessions(id),
	kind TEXT NOT NULL CHECK (kind IN ('unit', 'hall')),
	target_id INTEGER NOT NULL,
	-- The unit whose members answer: the invited unit, or the invited hall's unit.
	unit_id INTEGER NOT NULL REFERENCES units(id),
	note TEXT NOT NULL,
	status TEXT NOT NULL CHECK (status IN ('invited', 'accepted', 'declined')),
	reason TEXT NOT NULL,
	invited_by INTEGER NOT NULL,
	invited_at INTEGER NOT NULL,
	answered_by INTEGER NOT NULL,
	answered_at INTEGER NOT NULL,
	UNIQUE (session_id, kind, target_id)
);
CREATE INDEX session_invitations_unit ON session_invitations(unit_id, status);

-- When the day-before reminder went out (0: not yet): one reminder per session, whichever node sends it.
ALTER TABLE reception_sessions ADD COLUMN reminded_at BIGINT NOT NULL DEFAULT 0;

-- What the booking checks found (ids, scores and flags; no personal data), as JSON.
ALTER TABLE appointments ADD COLUMN checks TEXT NOT NULL DEFAULT '';

CREATE INDEX case_petitioners_id_number ON case_petitioners(id_number);
CREATE INDEX cases_territory ON cases(territory, id);

-- 0005: 会商 (consultations) with their units and opinions; 督办 progress reports and extension
-- requests; the timeline's extra fields (a reference to the slip an event is about, the days of
-- an extension, its approver and the notice to the petitioner); the years the working-day
-- calendar covers. Times are Unix microseconds (0 = none).
ALTER TABLE case_events ADD COLUMN ref TEXT NOT NULL DEFAULT '';
ALTER TABLE case_events ADD COLUMN days INTEGER NOT NULL DEFAULT 0;
ALTER TABLE case_events ADD COLUMN approved_by INTEGER NOT NULL DEFAULT 0;
ALTER TABLE case_events ADD COLUMN notice TEXT NOT NULL DEFAULT '';

CREATE TABLE consultations (
	id INTEGER PRIMARY KEY,
	case_id INTEGER NOT NULL REFERENCES cases(id),
	competent_unit_id INTEGER NOT NULL REFERENCES units(id),
	subject TEXT NOT NULL,
	session_id TEXT NOT NULL,
	recording_offset_ms INTEGER NOT NULL,
	created_by INTEGER NOT NULL,
	created_at INTEGER NOT NULL,
	conclusion TEXT NOT NULL,
	signed_by INTEGER NOT NULL,
	signed_at INTEGER NOT NULL
);
CREATE INDEX consultations_case ON consultations(case_id);

CREATE TABLE consultation_units (
	consultation_id INTEGER NOT NULL REFERENCES consultations(id),
	unit_id INTEGER NOT NULL REFERENCES units(id),
	PRIMARY KEY (consultation_id, unit_id)
);

-- One opinion per unit: a later one replaces it (the timeline keeps each).
CREATE TABLE consultation_opinions (
	consultation_id INTEGER NOT NULL REFERENCES consultations(id),
	unit_id INTEGER NOT NULL REFERENCES units(id),
	text TEXT NOT NULL,
	dissent INTEGER NOT NULL,
	by_user INTEGER NOT NULL,
	at INTEGER NOT NULL,
	PRIMARY KEY (consultation_id, unit_id)
);

-- 督办: the supervised unit's progress reports and extension requests, and the decision on each request.
CREATE TABLE supervision_reports (
	id INTEGER PRIMARY KEY,
	supervision_id INTEGER NOT NULL REFERENCES supervisions(id),
	kind TEXT NOT NULL CHECK (kind IN ('progress', 'extension')),
	text TEXT NOT NULL,
	unit_id INTEGER NOT NULL REFERENCES units(id),
	by_user INTEGER NOT NULL,
	at INTEGER NOT NULL,
	requested_deadline INTEGER NOT NULL,
	decision TEXT NOT NULL CHECK (decision IN ('', 'approved', 'refused')),
	decided_by INTEGER NOT NULL,
	decided_at INTEGER NOT NULL,
	decision_note TEXT NOT NULL
);
CREATE INDEX supervision_reports_item ON supervision_reports(supervision_id, id);

-- The years the working-day calendar covers (public_holidays holds their days). verified = 0: seeded
-- from the release's data file and still to be checked against the State Council notice.
CREATE TABLE calendar_years (
	year INTEGER PRIMARY KEY,
	verified INTEGER NOT NULL
);

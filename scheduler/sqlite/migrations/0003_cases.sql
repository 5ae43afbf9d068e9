-- 0003: case records (信访事项), their petitioners, co-handling units, the timeline of events and
-- the per-territory, per-year number counters. Times are Unix microseconds (0 = none).
CREATE TABLE case_counters (
	territory TEXT NOT NULL,
	year INTEGER NOT NULL,
	last_seq INTEGER NOT NULL,
	PRIMARY KEY (territory, year)
);

CREATE TABLE cases (
	id INTEGER PRIMARY KEY,
	number TEXT NOT NULL UNIQUE,
	external_id TEXT NOT NULL,
	query_hash TEXT NOT NULL UNIQUE,
	unit_id INTEGER NOT NULL REFERENCES units(id),
	territory TEXT NOT NULL,
	form TEXT NOT NULL CHECK (form IN ('letter', 'visit', 'online', 'phone', 'video')),
	type TEXT NOT NULL CHECK (type IN ('suggestion', 'accusation', 'claim')),
	category_id INTEGER NOT NULL REFERENCES categories(id),
	title TEXT NOT NULL,
	content TEXT NOT NULL,
	complained_unit_id INTEGER REFERENCES units(id),
	complained_party TEXT NOT NULL,
	responsible_unit_id INTEGER REFERENCES units(id),
	involved_count INTEGER NOT NULL,
	fast_track INTEGER NOT NULL,
	result TEXT NOT NULL,
	status TEXT NOT NULL,
	supervised INTEGER NOT NULL,
	owner_leader_id INTEGER REFERENCES users(id),
	registered_at INTEGER NOT NULL,
	accepted_at INTEGER NOT NULL,
	closed_at INTEGER NOT NULL,
	updated_at INTEGER NOT NULL
);
CREATE INDEX cases_unit ON cases(unit_id);
CREATE INDEX cases_responsible ON cases(responsible_unit_id);
CREATE INDEX cases_status ON cases(status);

CREATE TABLE case_co_units (
	case_id INTEGER NOT NULL REFERENCES cases(id),
	unit_id INTEGER NOT NULL REFERENCES units(id),
	PRIMARY KEY (case_id, unit_id)
);

CREATE TABLE case_petitioners (
	case_id INTEGER NOT NULL REFERENCES cases(id),
	seq INTEGER NOT NULL,
	name TEXT NOT NULL,
	id_number TEXT NOT NULL,
	phone TEXT NOT NULL,
	address TEXT NOT NULL,
	role TEXT NOT NULL,
	anonymous INTEGER NOT NULL,
	agrees_public INTEGER NOT NULL,
	PRIMARY KEY (case_id, seq)
);

CREATE TABLE case_events (
	id INTEGER PRIMARY KEY,
	case_id INTEGER NOT NULL REFERENCES cases(id),
	at INTEGER NOT NULL,
	actor_id INTEGER NOT NULL,
	actor TEXT NOT NULL,
	unit_id INTEGER NOT NULL,
	kind TEXT NOT NULL,
	from_status TEXT NOT NULL,
	to_status TEXT NOT NULL,
	reason TEXT NOT NULL,
	responsible_unit_id INTEGER NOT NULL,
	co_units TEXT NOT NULL,
	result TEXT NOT NULL
);
CREATE INDEX case_events_case ON case_events(case_id, id);

-- The timeline is evidence: append-only like the audit log.
CREATE TRIGGER case_events_no_update BEFORE UPDATE ON case_events
BEGIN SELECT RAISE(ABORT, 'case_events is append-only'); END;
CREATE TRIGGER case_events_no_delete BEFORE DELETE ON case_events
BEGIN SELECT RAISE(ABORT, 'case_events is append-only'); END;

-- 交办单: an objection returns it to the assigner.
CREATE TABLE assignments (
	id INTEGER PRIMARY KEY,
	case_id INTEGER NOT NULL REFERENCES cases(id),
	assigner_unit_id INTEGER NOT NULL REFERENCES units(id),
	assigner_id INTEGER NOT NULL,
	responsible_unit_id INTEGER NOT NULL REFERENCES units(id),
	co_units TEXT NOT NULL,
	requirements TEXT NOT NULL,
	instruction TEXT NOT NULL,
	method TEXT NOT NULL CHECK (method IN ('phone', 'letter', 'system', 'video_call')),
	session_id TEXT NOT NULL,
	recording_offset_ms INTEGER NOT NULL,
	assigned_at INTEGER NOT NULL,
	feedback_due INTEGER NOT NULL,
	status TEXT NOT NULL CHECK (status IN ('open', 'objected')),
	objection_reason TEXT NOT NULL,
	objected_at INTEGER NOT NULL
);
CREATE INDEX assignments_case ON assignments(case_id);

-- 督办单: one open item per matter (一事一项), enforced by the partial unique index.
CREATE TABLE supervisions (
	id INTEGER PRIMARY KEY,
	case_id INTEGER NOT NULL REFERENCES cases(id),
	unit_id INTEGER NOT NULL REFERENCES units(id),
	opened_by INTEGER NOT NULL,
	basis TEXT NOT NULL,
	level TEXT NOT NULL CHECK (level IN ('routine', 'listed', 'joint')),
	method TEXT NOT NULL,
	escalation TEXT NOT NULL,
	deadline INTEGER NOT NULL,
	opened_at INTEGER NOT NULL,
	closed_at INTEGER NOT NULL,
	opinion TEXT NOT NULL,
	notes TEXT NOT NULL
);
CREATE UNIQUE INDEX supervisions_one_open ON supervisions(case_id) WHERE closed_at = 0;

-- 满意度评价: once per stage.
CREATE TABLE case_evaluations (
	id INTEGER PRIMARY KEY,
	case_id INTEGER NOT NULL REFERENCES cases(id),
	stage TEXT NOT NULL CHECK (stage IN ('acceptance', 'result')),
	score TEXT NOT NULL CHECK (score IN ('satisfied', 'basically', 'unsatisfied')),
	via TEXT NOT NULL,
	at INTEGER NOT NULL,
	UNIQUE (case_id, stage)
);

-- Attachments: the file lives content-addressed under the data directory (sha256).
CREATE TABLE case_attachments (
	id INTEGER PRIMARY KEY,
	case_id INTEGER NOT NULL REFERENCES cases(id),
	kind TEXT NOT NULL CHECK (kind IN ('submitted', 'signed_record', 'notice', 'answer', 'closure', 'recording')),
	name TEXT NOT NULL,
	sha256 TEXT NOT NULL,
	size INTEGER NOT NULL,
	mime TEXT NOT NULL,
	uploaded_by INTEGER NOT NULL,
	uploaded_at INTEGER NOT NULL
);
CREATE INDEX case_attachments_case ON case_attachments(case_id, kind);

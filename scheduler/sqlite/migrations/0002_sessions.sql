-- 0002: reception schedules and sessions, resource locks for conflict checks, the public holiday
-- calendar, appointments and the hall queue. Times are Unix microseconds; booleans 0/1.

-- The State Council's holiday and make-up workday (调休) calendar, kept as data. The 2026 rows
-- below were entered from memory of the published notice and MUST be verified by operators
-- against the official notice (国务院办公厅关于2026年部分节假日安排的通知) before use.
CREATE TABLE public_holidays (
	day TEXT PRIMARY KEY,
	kind TEXT NOT NULL CHECK (kind IN ('holiday', 'workday')),
	name TEXT NOT NULL
);
INSERT INTO public_holidays (day, kind, name) VALUES
	('2026-01-01', 'holiday', '元旦'), ('2026-01-02', 'holiday', '元旦'), ('2026-01-03', 'holiday', '元旦'),
	('2026-01-04', 'workday', '元旦调休上班'),
	('2026-02-14', 'workday', '春节调休上班'),
	('2026-02-15', 'holiday', '春节'), ('2026-02-16', 'holiday', '春节'), ('2026-02-17', 'holiday', '春节'),
	('2026-02-18', 'holiday', '春节'), ('2026-02-19', 'holiday', '春节'), ('2026-02-20', 'holiday', '春节'),
	('2026-02-21', 'holiday', '春节'), ('2026-02-22', 'holiday', '春节'), ('2026-02-23', 'holiday', '春节'),
	('2026-02-28', 'workday', '春节调休上班'),
	('2026-04-04', 'holiday', '清明节'), ('2026-04-05', 'holiday', '清明节'), ('2026-04-06', 'holiday', '清明节'),
	('2026-05-01', 'holiday', '劳动节'), ('2026-05-02', 'holiday', '劳动节'), ('2026-05-03', 'holiday', '劳动节'),
	('2026-05-04', 'holiday', '劳动节'), ('2026-05-05', 'holiday', '劳动节'),
	('2026-05-09', 'workday', '劳动节调休上班'),
	('2026-06-19', 'holiday', '端午节'), ('2026-06-20', 'holiday', '端午节'), ('2026-06-21', 'holiday', '端午节'),
	('2026-09-20', 'workday', '国庆节调休上班'),
	('2026-09-25', 'holiday', '中秋节'), ('2026-09-26', 'holiday', '中秋节'), ('2026-09-27', 'holiday', '中秋节'),
	('2026-10-01', 'holiday', '国庆节'), ('2026-10-02', 'holiday', '国庆节'), ('2026-10-03', 'holiday', '国庆节'),
	('2026-10-04', 'holiday', '国庆节'), ('2026-10-05', 'holiday', '国庆节'), ('2026-10-06', 'holiday', '国庆节'),
	('2026-10-07', 'holiday', '国庆节'),
	('2026-10-10', 'workday', '国庆节调休上班');

CREATE TABLE reception_schedules (
	id INTEGER PRIMARY KEY,
	unit_id INTEGER NOT NULL REFERENCES units(id),
	leader_id INTEGER NOT NULL REFERENCES users(id),
	leader_name TEXT NOT NULL,
	leader_post TEXT NOT NULL,
	studio_id INTEGER NOT NULL REFERENCES halls(id),
	rrule TEXT NOT NULL,
	exdates TEXT NOT NULL,
	dtstart INTEGER NOT NULL,
	minutes INTEGER NOT NULL,
	hall_ids TEXT NOT NULL,
	unit_ids TEXT NOT NULL,
	lead_days INTEGER NOT NULL,
	minutes_per_petitioner INTEGER NOT NULL,
	max_petitioners INTEGER NOT NULL,
	portfolio TEXT NOT NULL,
	holidays TEXT NOT NULL CHECK (holidays IN ('skip', 'keep')),
	created_at INTEGER NOT NULL
);

CREATE TABLE reception_sessions (
	id INTEGER PRIMARY KEY,
	schedule_id INTEGER REFERENCES reception_schedules(id),
	unit_id INTEGER NOT NULL REFERENCES units(id),
	title TEXT NOT NULL,
	leader_id INTEGER REFERENCES users(id),
	leader_name TEXT NOT NULL,
	leader_post TEXT NOT NULL,
	studio_id INTEGER REFERENCES halls(id),
	starts_at INTEGER NOT NULL,
	ends_at INTEGER NOT NULL,
	hall_ids TEXT NOT NULL,
	unit_ids TEXT NOT NULL,
	lead_days INTEGER NOT NULL,
	minutes_per_petitioner INTEGER NOT NULL,
	max_petitioners INTEGER NOT NULL,
	portfolio TEXT NOT NULL,
	holiday TEXT NOT NULL,
	status TEXT NOT NULL CHECK (status IN ('scheduled', 'cancelled')),
	cancel_reason TEXT NOT NULL,
	created_at INTEGER NOT NULL,
	CHECK (ends_at > starts_at)
);
CREATE INDEX reception_sessions_start ON reception_sessions(starts_at);
-- One occurrence of a schedule is materialised once.
CREATE UNIQUE INDEX reception_sessions_occurrence ON reception_sessions(schedule_id, starts_at);

-- The resources a scheduled session holds ("leader:5", "hall:3", "unit:7"), for the overlap
-- check; a cancelled session's rows are deleted.
CREATE TABLE session_resources (
	session_id INTEGER NOT NULL REFERENCES reception_sessions(id),
	rkey TEXT NOT NULL,
	starts_at INTEGER NOT NULL,
	ends_at INTEGER NOT NULL,
	PRIMARY KEY (rkey, starts_at, session_id)
);

-- One row per resource, updated by every writer that books it: the row lock serialises two
-- writers of the same resource on PostgreSQL (SQLite serialises all writers already).
CREATE TABLE resource_locks (
	rkey TEXT PRIMARY KEY,
	n INTEGER NOT NULL
);

CREATE TABLE appointments (
	id INTEGER PRIMARY KEY,
	session_id INTEGER NOT NULL REFERENCES reception_sessions(id),
	hall_id INTEGER NOT NULL REFERENCES halls(id),
	name TEXT NOT NULL,
	id_number TEXT NOT NULL,
	phone TEXT NOT NULL,
	matter TEXT NOT NULL,
	people INTEGER NOT NULL,
	representatives TEXT NOT NULL,
	guidance TEXT NOT NULL,
	walk_in INTEGER NOT NULL,
	queue_no INTEGER NOT NULL,
	position INTEGER NOT NULL,
	status TEXT NOT NULL CHECK (status IN ('booked', 'checked_in', 'no_show', 'cancelled', 'done')),
	override_reason TEXT NOT NULL,
	booked_by INTEGER NOT NULL,
	created_at INTEGER NOT NULL,
	UNIQUE (session_id, hall_id, queue_no)
);
CREATE INDEX appointments_session ON appointments(session_id);
CREATE INDEX appointments_id_number ON appointments(id_number);

-- 0008: case exchange and the rate counts.
--
-- A copy of a case imported from another system keeps that system's key id (external_source)
-- beside its number there (external_id); one copy per source and number.
ALTER TABLE cases ADD COLUMN external_source TEXT NOT NULL DEFAULT '';
CREATE UNIQUE INDEX cases_external ON cases(external_source, external_id) WHERE external_source <> '';

-- What each case adds to the statistics (scheduler/ratecounts.go), derived in the transaction that
-- changes it from its timeline, its rating and the other cases of its petitioners: the units it
-- counts under and against, its clock's start and end instants (Unix microseconds, 0 = none), its
-- category, territory and month of registration, its result rating, whether it is a repeat, when
-- it was closed and when the same person came back with the same category after that. A case
-- without a row here is counted by the store's rebuild when it opens.
CREATE TABLE case_rate_facts (
	case_id BIGINT PRIMARY KEY REFERENCES cases(id),
	unit_id BIGINT NOT NULL,
	unit_of BIGINT NOT NULL,
	acc_unit BIGINT NOT NULL,
	acc_start BIGINT NOT NULL,
	decided BIGINT NOT NULL,
	accepted BIGINT NOT NULL,
	fast INTEGER NOT NULL,
	ext_days INTEGER NOT NULL,
	answered BIGINT NOT NULL,
	category_id BIGINT NOT NULL,
	territory TEXT NOT NULL,
	month INTEGER NOT NULL,
	score TEXT NOT NULL,
	is_repeat INTEGER NOT NULL,
	closed BIGINT NOT NULL,
	returned BIGINT NOT NULL
);

-- The counts of every unit's subtree: the cells of its cases, summed.
CREATE TABLE case_rate_counts (
	unit_id BIGINT NOT NULL REFERENCES units(id),
	metric TEXT NOT NULL,
	unit_of BIGINT NOT NULL,
	variant INTEGER NOT NULL,
	day INTEGER NOT NULL,
	bucket INTEGER NOT NULL,
	n BIGINT NOT NULL,
	PRIMARY KEY (unit_id, metric, unit_of, variant, day, bucket)
);

-- The cells a fold reads: running periods and return windows, and returns not folded yet.
CREATE INDEX case_rate_counts_running ON case_rate_counts(day) WHERE bucket = -1;
CREATE INDEX case_rate_counts_returns ON case_rate_counts(day) WHERE metric = 'return' AND bucket >= 0 AND day >= 0;

-- The day the counts' running periods are folded up to (FoldRateCounts): one row, only moving forward.
CREATE TABLE case_rate_horizon (
	id INTEGER PRIMARY KEY CHECK (id = 1),
	day INTEGER NOT NULL
);
INSERT INTO case_rate_horizon (id, day) VALUES (1, 0);

-- 0008: case exchange and the rate counts.
--
-- A copy of a case imported from another system keeps that system's key id (external_source)
-- beside its number there (external_id); one copy per source and number.
ALTER TABLE cases ADD COLUMN external_source TEXT NOT NULL DEFAULT '';
CREATE UNIQUE INDEX cases_external ON cases(external_source, external_id) WHERE external_source <> '';

-- What each case adds to the rates (scheduler/ratecounts.go), derived from its timeline in the
-- transaction that changes it: the clock's start and end instants (Unix microseconds, 0 = none),
-- the result rating (-1 none, 0 unsatisfied, 1 satisfied) and the depth of the deepest unit whose
-- subtree holds an earlier case of the same person and category (-1 none). A case without a row
-- here is counted by the store's rebuild when it opens.
CREATE TABLE case_rate_facts (
	case_id INTEGER PRIMARY KEY REFERENCES cases(id),
	unit_of INTEGER NOT NULL,
	acc_start INTEGER NOT NULL,
	decided INTEGER NOT NULL,
	accepted INTEGER NOT NULL,
	fast INTEGER NOT NULL,
	ext_days INTEGER NOT NULL,
	answered INTEGER NOT NULL,
	sat INTEGER NOT NULL,
	repeat_depth INTEGER NOT NULL
);

-- The counts of every unit's subtree: the cells of its cases, summed.
CREATE TABLE case_rate_counts (
	unit_id INTEGER NOT NULL REFERENCES units(id),
	metric TEXT NOT NULL,
	unit_of INTEGER NOT NULL,
	variant INTEGER NOT NULL,
	day INTEGER NOT NULL,
	bucket INTEGER NOT NULL,
	n INTEGER NOT NULL,
	PRIMARY KEY (unit_id, metric, unit_of, variant, day, bucket)
) WITHOUT ROWID;

-- The running periods' cells, which a fold reads.
CREATE INDEX case_rate_counts_running ON case_rate_counts(day) WHERE bucket = -1;

-- The day the counts' running periods are folded up to (FoldRateCounts): one row, only moving forward.
CREATE TABLE case_rate_horizon (
	id INTEGER PRIMARY KEY CHECK (id = 1),
	day INTEGER NOT NULL
);
INSERT INTO case_rate_horizon (id, day) VALUES (1, 0);

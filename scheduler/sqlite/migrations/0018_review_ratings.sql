-- 0018: the petitioner rates the result of a 复查 (review_result) and of a 复核 (rereview_result)
-- once its opinion is served, as the first result. SQLite cannot change a CHECK in place: the
-- table is rebuilt with the same rows (nothing references it).
CREATE TABLE case_evaluations_0018 (
	id INTEGER PRIMARY KEY,
	case_id INTEGER NOT NULL REFERENCES cases(id),
	stage TEXT NOT NULL CHECK (stage IN ('acceptance', 'result', 'review_result', 'rereview_result')),
	score TEXT NOT NULL CHECK (score IN ('satisfied', 'basically', 'unsatisfied')),
	via TEXT NOT NULL,
	at INTEGER NOT NULL,
	recorded_by INTEGER NOT NULL DEFAULT 0,
	UNIQUE (case_id, stage)
);
INSERT INTO case_evaluations_0018 (id, case_id, stage, score, via, at, recorded_by)
	SELECT id, case_id, stage, score, via, at, recorded_by FROM case_evaluations;
DROP TABLE case_evaluations;
ALTER TABLE case_evaluations_0018 RENAME TO case_evaluations;

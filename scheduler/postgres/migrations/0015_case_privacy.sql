-- 0015: what intake marked as 涉及检举控告 in a matter, whatever its type, and the summary
-- written for the unit it complains about (casework.Privacy). No row: nothing marked.
CREATE TABLE case_privacy (
	case_id BIGINT PRIMARY KEY REFERENCES cases(id),
	whole BIGINT NOT NULL,
	passages TEXT NOT NULL, -- JSON array of the marked passages, each a quote of the content
	unit_summary TEXT NOT NULL
);

-- 0014: the case's documents (文书) — generated pages kept as attachments with their hash — and
-- their service (送达) on the petitioner; who recorded a rating given by phone.
CREATE TABLE case_documents (
	id INTEGER PRIMARY KEY,
	case_id INTEGER NOT NULL REFERENCES cases(id),
	kind TEXT NOT NULL CHECK (kind IN ('accept_notice', 'not_accept_notice', 'answer', 'review_opinion',
		'rereview_opinion', 'extension_notice', 'closure_report', 'supervision_feedback')),
	attachment_id INTEGER NOT NULL REFERENCES case_attachments(id),
	sha256 TEXT NOT NULL,
	reason TEXT NOT NULL,
	channel TEXT NOT NULL,
	body TEXT NOT NULL,
	generated_by INTEGER NOT NULL,
	generated_at INTEGER NOT NULL,
	served_at INTEGER NOT NULL DEFAULT 0,
	service_method TEXT NOT NULL DEFAULT '' CHECK (service_method IN ('', 'in_person', 'post', 'online', 'video')),
	service_proof TEXT NOT NULL DEFAULT '',
	served_by INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX case_documents_case ON case_documents(case_id, id);
CREATE INDEX case_documents_unserved ON case_documents(served_at, case_id);

ALTER TABLE case_evaluations ADD COLUMN recorded_by INTEGER NOT NULL DEFAULT 0;

-- 参评率: whether a case's result should be rated is a fact of the rate counts. Emptying the facts
-- makes the store rebuild them, and the counts, when it next opens (sqlstore.ensureRateCounts).
ALTER TABLE case_rate_facts ADD COLUMN ratable INTEGER NOT NULL DEFAULT 0;
DELETE FROM case_rate_counts;
DELETE FROM case_rate_facts;

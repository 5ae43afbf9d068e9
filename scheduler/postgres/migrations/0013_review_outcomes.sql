-- 0013: review by the higher body, outcomes, final matters, the routing clock in the statistics.
--
-- review_unit_id is the body holding a review (复查) or re-review (复核): one level above the unit
-- whose handling it examines. outcome and channel say how a matter ended (not accepted why, closed
-- how); is_final marks a matter closed after re-review, final_of_id a later registration of the
-- same person and matter (not accepted again), final_why why it was judged the same.
ALTER TABLE cases ADD COLUMN review_unit_id BIGINT REFERENCES units(id);
ALTER TABLE cases ADD COLUMN outcome TEXT NOT NULL DEFAULT '';
ALTER TABLE cases ADD COLUMN channel TEXT NOT NULL DEFAULT '';
ALTER TABLE cases ADD COLUMN is_final INTEGER NOT NULL DEFAULT 0;
ALTER TABLE cases ADD COLUMN final_of_id BIGINT NOT NULL DEFAULT 0;
ALTER TABLE cases ADD COLUMN final_why TEXT NOT NULL DEFAULT '';
ALTER TABLE case_events ADD COLUMN outcome TEXT NOT NULL DEFAULT '';
ALTER TABLE case_events ADD COLUMN channel TEXT NOT NULL DEFAULT '';

-- The cases stored before: the review body of those under review, the final matters, and the
-- outcome casework.DefaultOutcome gives (a close after an explanation stays unclassified). Their
-- timelines stay as written: the events are evidence, append-only.
UPDATE cases SET review_unit_id = (SELECT u.parent_id FROM units u WHERE u.id = COALESCE(cases.responsible_unit_id, cases.unit_id))
	WHERE status = 'review';
UPDATE cases SET review_unit_id = (SELECT p.parent_id FROM units u JOIN units p ON p.id = u.parent_id
	WHERE u.id = COALESCE(cases.responsible_unit_id, cases.unit_id))
	WHERE status = 'rereview';
UPDATE cases SET is_final = 1 WHERE status IN ('closed', 'evaluated', 'archived')
	AND EXISTS (SELECT 1 FROM case_events e WHERE e.case_id = cases.id AND e.kind = 'status' AND e.to_status = 'rereview');
UPDATE cases SET outcome = 'not_accepted' WHERE status = 'not_accepted'
	OR (status = 'archived' AND EXISTS (SELECT 1 FROM case_events e WHERE e.case_id = cases.id AND e.kind = 'status' AND e.to_status = 'not_accepted'));
UPDATE cases SET outcome = CASE WHEN is_final = 1 THEN 'terminated' WHEN result = 'support' THEN 'resolved'
	WHEN result = 'not_support' THEN 'not_supported' ELSE '' END
	WHERE outcome = '' AND status IN ('closed', 'evaluated', 'archived');

-- The statistics count the outcome and the office's routing period (registration to the first
-- routing act) too: the facts gain them, and the counts are rebuilt when the store opens (a case
-- without facts makes it rebuild them all).
ALTER TABLE case_rate_facts ADD COLUMN outcome TEXT NOT NULL DEFAULT '';
ALTER TABLE case_rate_facts ADD COLUMN registered BIGINT NOT NULL DEFAULT 0;
ALTER TABLE case_rate_facts ADD COLUMN routed BIGINT NOT NULL DEFAULT 0;
DELETE FROM case_rate_counts;
DELETE FROM case_rate_facts;

-- 0018: the petitioner rates the result of a 复查 (review_result) and of a 复核 (rereview_result)
-- once its opinion is served, as the first result; still once per stage.
ALTER TABLE case_evaluations DROP CONSTRAINT case_evaluations_stage_check;
ALTER TABLE case_evaluations ADD CONSTRAINT case_evaluations_stage_check
	CHECK (stage IN ('acceptance', 'result', 'review_result', 'rereview_result'));

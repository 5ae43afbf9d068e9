-- 0008: case exchange. A copy of a case imported from another system keeps that system's key id
-- (external_source) beside its number there (external_id); one copy per source and number.
ALTER TABLE cases ADD COLUMN external_source TEXT NOT NULL DEFAULT '';
CREATE UNIQUE INDEX cases_external ON cases(external_source, external_id) WHERE external_source <> '';

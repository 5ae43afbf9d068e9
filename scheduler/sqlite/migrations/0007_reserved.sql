-- Placeholder: version 7 is reserved for work on a parallel branch. The migration runner wants
-- versions without gaps, so this stands in until that branch's 0007 is merged, which replaces
-- this file (delete it then).
SELECT 1;

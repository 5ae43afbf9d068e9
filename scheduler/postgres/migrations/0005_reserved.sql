-- Placeholder: version 5 is reserved for work on a parallel branch. The migration runner wants
-- versions without gaps, so this stands in until that branch's 0005 is merged, which replaces
-- this file (delete it then).
SELECT 1;

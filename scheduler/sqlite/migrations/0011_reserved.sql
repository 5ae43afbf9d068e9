-- 0011: held for another branch's migration of the same number; this file is dropped when that branch is merged.
SELECT 1;

-- 0011: a placeholder for the step numbered 0011 on a parallel branch (versions run without
-- gaps); it does nothing and gives way to that step when the branches meet.
SELECT 1;

-- 0004 is reserved for parallel work on the reception side; this placeholder keeps the version
-- sequence without gaps until that migration lands and replaces this file.
SELECT 1;

-- 0019: 逐级转送按期率. Each level's forwarding period (from the forward that brought a matter there
-- to that level's act) is a fact of the rate counts, as "unit:start:end" periods. Emptying the
-- facts makes the store rebuild them, and the counts, when it next opens (sqlstore.ensureRateCounts).
ALTER TABLE case_rate_facts ADD COLUMN forwards TEXT NOT NULL DEFAULT '';
DELETE FROM case_rate_counts;
DELETE FROM case_rate_facts;

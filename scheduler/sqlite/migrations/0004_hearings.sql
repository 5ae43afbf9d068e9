-- The reception call's hearings: an appointment heard on a call is linked to the case it was
-- registered as, with when the hearing started and ended and its outcome. Times are Unix
-- microseconds (0 = not yet).
ALTER TABLE appointments ADD COLUMN case_id INTEGER NOT NULL DEFAULT 0;
ALTER TABLE appointments ADD COLUMN heard_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE appointments ADD COLUMN ended_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE appointments ADD COLUMN outcome TEXT NOT NULL DEFAULT '';
ALTER TABLE appointments ADD COLUMN outcome_note TEXT NOT NULL DEFAULT '';

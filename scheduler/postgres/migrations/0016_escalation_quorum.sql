-- 0016: 督办 that climbs by itself and 会商 quorum.
-- A supervision item past its feedback date climbs one rung and one level: escalated_unit_id is
-- the office it has climbed to (0: none yet), overdue_escalations how many feedback dates it missed.
ALTER TABLE supervisions ADD COLUMN escalated_unit_id BIGINT NOT NULL DEFAULT 0;
ALTER TABLE supervisions ADD COLUMN overdue_escalations BIGINT NOT NULL DEFAULT 0;
CREATE INDEX supervisions_escalated ON supervisions(escalated_unit_id) WHERE closed_at = 0;

-- A participating unit absent from a consultation, with the reason and who recorded it: with
-- the opinions, what the competent unit needs before it signs.
CREATE TABLE consultation_absences (
	consultation_id BIGINT NOT NULL REFERENCES consultations(id),
	unit_id BIGINT NOT NULL REFERENCES units(id),
	reason TEXT NOT NULL,
	by_user BIGINT NOT NULL,
	at BIGINT NOT NULL,
	PRIMARY KEY (consultation_id, unit_id)
);

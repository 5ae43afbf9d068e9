-- 0012: the petitioners' identity sealed at rest (internal/sealed). The columns name, id_number,
-- phone, address (and an appointment's representatives) hold ciphertext, base64; key_id names the
-- key that sealed the row's values ('' while a row written before this step is still plaintext:
-- the store seals those on start, in batches). id_index and phone_index are keyed blind indexes
-- (HMAC) of the normalised ID number and phone, the only way rows are looked up by them.
ALTER TABLE appointments ADD COLUMN key_id TEXT NOT NULL DEFAULT '';
ALTER TABLE appointments ADD COLUMN id_index TEXT NOT NULL DEFAULT '';
ALTER TABLE appointments ADD COLUMN phone_index TEXT NOT NULL DEFAULT '';
ALTER TABLE case_petitioners ADD COLUMN key_id TEXT NOT NULL DEFAULT '';
ALTER TABLE case_petitioners ADD COLUMN id_index TEXT NOT NULL DEFAULT '';
ALTER TABLE case_petitioners ADD COLUMN phone_index TEXT NOT NULL DEFAULT '';
-- The old indexes held the ID numbers in clear.
DROP INDEX appointments_id_number;
DROP INDEX case_petitioners_id_number;
CREATE INDEX appointments_id_index ON appointments(id_index);
CREATE INDEX appointments_phone_index ON appointments(phone_index);
CREATE INDEX appointments_key ON appointments(key_id);
CREATE INDEX case_petitioners_id_index ON case_petitioners(id_index);
CREATE INDEX case_petitioners_phone_index ON case_petitioners(phone_index);
CREATE INDEX case_petitioners_key ON case_petitioners(key_id);

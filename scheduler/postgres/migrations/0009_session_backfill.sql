-- 0009: a session entered afterwards as the record of a reception that took place (补录). It
-- holds no rows in session_resources, so it never clashes with a booking.
ALTER TABLE reception_sessions ADD COLUMN backfill INTEGER NOT NULL DEFAULT 0;

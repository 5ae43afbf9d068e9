-- 0017: the TOTP secrets sealed at rest with the identity's keyring (internal/sealed): secret
-- holds ciphertext, base64; key_id names the key that sealed it ('' while a secret written before
-- this step is still in clear: the store seals those on start, and `sanji keys rotate` re-seals
-- them with the identity).
ALTER TABLE user_totp ADD COLUMN key_id TEXT NOT NULL DEFAULT '';
CREATE INDEX user_totp_key ON user_totp(key_id);

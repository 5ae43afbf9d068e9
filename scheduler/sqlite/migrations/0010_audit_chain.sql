-- 0010: the audit log is sealed by a hash chain (docs/security.md). Each entry carries the hash
-- of the one before, its own, and the algorithm of its own. Entries written before this migration
-- are chained by the store when it next opens (sqlstore.SealAudit), in id order; the append-only
-- triggers let a hash be written once, into an entry that has none, and nothing else.
ALTER TABLE audit_log ADD COLUMN prev_hash TEXT NOT NULL DEFAULT '';
ALTER TABLE audit_log ADD COLUMN hash TEXT NOT NULL DEFAULT '';
ALTER TABLE audit_log ADD COLUMN hash_alg TEXT NOT NULL DEFAULT '';

-- One chain: no two sealed entries may follow the same one.
CREATE UNIQUE INDEX audit_chain_prev ON audit_log(prev_hash) WHERE prev_hash <> '';

DROP TRIGGER audit_no_update;
CREATE TRIGGER audit_no_update BEFORE UPDATE OF id, at, actor_id, actor, unit_id, unit_path, action, target,
	before_json, after_json, purpose, ip, request_id ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER audit_seal_once BEFORE UPDATE OF prev_hash, hash, hash_alg ON audit_log WHEN OLD.hash <> ''
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;

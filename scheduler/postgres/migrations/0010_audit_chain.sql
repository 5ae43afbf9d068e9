-- 0010: the audit log is sealed by a hash chain (docs/security.md). Each entry carries the hash
-- of the one before, its own, and the algorithm of its own. Entries written before this migration
-- are chained by the store when it next opens (sqlstore.SealAudit), in id order; the append-only
-- trigger lets a hash be written once, into an entry that has none, and nothing else.
ALTER TABLE audit_log ADD COLUMN prev_hash TEXT NOT NULL DEFAULT '',
	ADD COLUMN hash TEXT NOT NULL DEFAULT '',
	ADD COLUMN hash_alg TEXT NOT NULL DEFAULT '';

-- One chain: no two sealed entries may follow the same one.
CREATE UNIQUE INDEX audit_chain_prev ON audit_log(prev_hash) WHERE prev_hash <> '';

CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF TG_OP = 'UPDATE' AND OLD.hash = ''
		AND (NEW.id, NEW.at, NEW.actor_id, NEW.actor, NEW.unit_id, NEW.unit_path, NEW.action, NEW.target,
			NEW.before_json, NEW.after_json, NEW.purpose, NEW.ip, NEW.request_id)
		IS NOT DISTINCT FROM (OLD.id, OLD.at, OLD.actor_id, OLD.actor, OLD.unit_id, OLD.unit_path, OLD.action,
			OLD.target, OLD.before_json, OLD.after_json, OLD.purpose, OLD.ip, OLD.request_id) THEN
		RETURN NEW;
	END IF;
	RAISE EXCEPTION 'audit_log is append-only';
END $$;

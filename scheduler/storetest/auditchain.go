package storetest

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"testing"

	"sanji/scheduler"
	"sanji/scheduler/org"
)

// AuditTamper is what RunAuditChain needs of a driver to play a database administrator: the
// statements that turn the append-only triggers off (the administrator can; the chain must still
// tell).
type AuditTamper struct {
	Unlock []string
}

type rawDB interface{ DB() *sql.DB }

// auditSealer is the store's step that seals entries written before the chain (the server runs
// it at start with the configured algorithm).
type auditSealer interface {
	SealAudit(ctx context.Context, alg string) (int, error)
}

// RunAuditChain checks the sealed audit log: appends make one chain, also from many goroutines at
// once; the chain names the first bad entry after a row is changed, deleted, inserted or moved;
// a noted head catches a cut tail; entries written before the chain are sealed in place.
func RunAuditChain(t *testing.T, open Opener, tamper AuditTamper) {
	appendN := func(t *testing.T, s scheduler.Store, n int) []org.AuditEntry {
		t.Helper()
		var out []org.AuditEntry
		for i := range n {
			e := org.AuditEntry{Action: "user.update", Actor: "admin", ActorID: 1, Target: fmt.Sprintf("user:%d", i),
				Before: `{"name":"a"}`, After: `{"name":"b"}`, IP: "10.0.0.1", RequestID: fmt.Sprint("r", i)}
			if err := s.AppendAudit(ctx, &e); err != nil {
				t.Fatal(err)
			}
			out = append(out, e)
		}
		return out
	}
	db := func(t *testing.T, s scheduler.Store) *sql.DB {
		t.Helper()
		r, ok := s.(rawDB)
		if !ok {
			t.Fatalf("%T has no DB() for the tampering tests", s)
		}
		for _, q := range tamper.Unlock {
			if _, err := r.DB().Exec(q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		return r.DB()
	}
	verify := func(t *testing.T, s scheduler.Store, noted string) org.AuditCheck {
		t.Helper()
		c, err := s.VerifyAudit(ctx, noted)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	wantBreak := func(t *testing.T, c org.AuditCheck, b org.AuditBreak, bad, after int64) {
		t.Helper()
		if c.OK || c.Break != b || c.BadID != bad || c.AfterID != after {
			t.Fatalf("check = %+v, want break %q at entry %d after %d", c, b, bad, after)
		}
	}

	t.Run("Holds", func(t *testing.T) {
		s := open(t)
		if c := verify(t, s, ""); !c.OK || c.Records != 0 {
			t.Fatalf("empty log: %+v", c)
		}
		es := appendN(t, s, 5)
		for i, e := range es {
			if e.Hash == "" || e.HashAlg != org.AuditHashSHA256 || (i > 0 && e.PrevHash != es[i-1].Hash) {
				t.Fatalf("entry %d: %+v is not linked to the one before", i, e)
			}
		}
		c := verify(t, s, es[2].Hash)
		if !c.OK || c.Records != 5 || c.Head.Hash != es[4].Hash || c.Head.ID != es[4].ID {
			t.Fatalf("check = %+v, want 5 entries up to %s", c, es[4].Hash)
		}
		h, err := s.AuditHead(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if h.Hash != es[4].Hash || h.ID != es[4].ID || h.Records != 5 || h.Algorithm != org.AuditHashSHA256 || !h.At.Equal(es[4].At) {
			t.Fatalf("head = %+v, want the fifth entry", h)
		}
		got, err := s.SearchAudit(ctx, org.AuditQuery{Target: "user:3"})
		if err != nil || len(got) != 1 || got[0].Hash != es[3].Hash || got[0].PrevHash != es[2].Hash {
			t.Fatalf("search = %+v, %v: want the sealed entry", got, err)
		}
	})

	t.Run("ParallelAppendsMakeOneChain", func(t *testing.T) {
		s := open(t)
		const workers, each = 8, 15
		var wg sync.WaitGroup
		errs := make(chan error, workers*each)
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range each {
					e := org.AuditEntry{Action: "login.ok", Target: fmt.Sprintf("w%d:%d", w, i)}
					if err := s.AppendAudit(ctx, &e); err != nil {
						errs <- err
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		if c := verify(t, s, ""); !c.OK || c.Records != workers*each {
			t.Fatalf("check = %+v, want one chain of %d entries", c, workers*each)
		}
	})

	t.Run("InsideTransaction", func(t *testing.T) {
		s := open(t)
		appendN(t, s, 1)
		err := s.InTx(ctx, func(tx scheduler.Store) error {
			for range 3 {
				if err := tx.AppendAudit(ctx, &org.AuditEntry{Action: "unit.create"}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		// A rolled-back append leaves the chain as it was.
		_ = s.InTx(ctx, func(tx scheduler.Store) error {
			if err := tx.AppendAudit(ctx, &org.AuditEntry{Action: "unit.create"}); err != nil {
				return err
			}
			return fmt.Errorf("roll back")
		})
		appendN(t, s, 1)
		if c := verify(t, s, ""); !c.OK || c.Records != 5 {
			t.Fatalf("check = %+v, want 5 entries", c)
		}
	})

	t.Run("Changed", func(t *testing.T) {
		s := open(t)
		es := appendN(t, s, 5)
		if _, err := db(t, s).Exec(`UPDATE audit_log SET after_json = '{"name":"c"}' WHERE id = ` + fmt.Sprint(es[2].ID)); err != nil {
			t.Fatal(err)
		}
		wantBreak(t, verify(t, s, ""), org.AuditChanged, es[2].ID, es[1].ID)
	})

	t.Run("Deleted", func(t *testing.T) {
		s := open(t)
		es := appendN(t, s, 5)
		if _, err := db(t, s).Exec(`DELETE FROM audit_log WHERE id = ` + fmt.Sprint(es[2].ID)); err != nil {
			t.Fatal(err)
		}
		wantBreak(t, verify(t, s, ""), org.AuditUnlinked, es[3].ID, es[1].ID)
	})

	t.Run("Reordered", func(t *testing.T) {
		s := open(t)
		es := appendN(t, s, 5)
		d := db(t, s)
		a, b := es[1].ID, es[2].ID
		for _, q := range []string{
			fmt.Sprintf(`UPDATE audit_log SET id = -1 WHERE id = %d`, a),
			fmt.Sprintf(`UPDATE audit_log SET id = %d WHERE id = %d`, a, b),
			fmt.Sprintf(`UPDATE audit_log SET id = %d WHERE id = -1`, b),
		} {
			if _, err := d.Exec(q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		wantBreak(t, verify(t, s, ""), org.AuditUnlinked, a, es[0].ID)
	})

	t.Run("Inserted", func(t *testing.T) {
		// A careful forger: the slipped-in entry is linked and hashed correctly, and placed first.
		s := open(t)
		es := appendN(t, s, 3)
		forged := org.AuditEntry{ID: 0, At: es[0].At, Action: "user.delete", Target: "user:9", HashAlg: org.AuditHashSHA256}
		forged.PrevHash = es[0].PrevHash
		h, err := forged.ChainHash(forged.PrevHash)
		if err != nil {
			t.Fatal(err)
		}
		d := db(t, s)
		// The unique link index would refuse a second entry after the genesis: the forger drops it.
		if _, err := d.Exec(`DROP INDEX audit_chain_prev`); err != nil {
			t.Fatal(err)
		}
		if _, err := d.Exec(`INSERT INTO audit_log (id, at, actor_id, actor, unit_id, unit_path, action, target, before_json,
			after_json, purpose, ip, request_id, prev_hash, hash, hash_alg) VALUES (0, ` + fmt.Sprint(es[0].At.UnixMicro()) + `, 0, '', 0, '',
			'user.delete', 'user:9', '', '', '', '', '', '` + forged.PrevHash + `', '` + h + `', 'sha256')`); err != nil {
			t.Fatal(err)
		}
		wantBreak(t, verify(t, s, ""), org.AuditInserted, 0, 0)
	})

	t.Run("InsertedUnsealed", func(t *testing.T) {
		s := open(t)
		es := appendN(t, s, 3)
		if _, err := db(t, s).Exec(`INSERT INTO audit_log (id, at, actor_id, actor, unit_id, unit_path, action, target, before_json,
			after_json, purpose, ip, request_id) VALUES (` + fmt.Sprint(es[2].ID+1) + `, 0, 0, '', 0, '', 'x', '', '', '', '', '', '')`); err != nil {
			t.Fatal(err)
		}
		wantBreak(t, verify(t, s, ""), org.AuditUnsealed, es[2].ID+1, es[2].ID)
	})

	t.Run("NotedHeadCatchesCutTail", func(t *testing.T) {
		s := open(t)
		es := appendN(t, s, 4)
		if _, err := db(t, s).Exec(`DELETE FROM audit_log WHERE id = ` + fmt.Sprint(es[3].ID)); err != nil {
			t.Fatal(err)
		}
		if c := verify(t, s, ""); !c.OK {
			t.Fatalf("without a noted head a cut tail looks whole: %+v", c)
		}
		c := verify(t, s, es[3].Hash)
		if c.OK || c.Break != org.AuditHeadGone {
			t.Fatalf("check against the noted head = %+v, want %q", c, org.AuditHeadGone)
		}
	})

	t.Run("LegacyEntriesSealedInPlace", func(t *testing.T) {
		s := open(t)
		d, ok := s.(rawDB)
		if !ok {
			t.Fatalf("%T has no DB()", s)
		}
		// Entries as written before the chain: no hash columns set.
		for i := 1; i <= 3; i++ {
			if _, err := d.DB().Exec(fmt.Sprintf(`INSERT INTO audit_log (at, actor_id, actor, unit_id, unit_path, action, target,
				before_json, after_json, purpose, ip, request_id) VALUES (%d, 1, 'admin', 0, '', 'login.ok', '', '', '', '', '', '')`,
				1700000000000000+i)); err != nil {
				t.Fatal(err)
			}
		}
		if c := verify(t, s, ""); c.OK || c.Break != org.AuditUnsealed || c.Records != 1 {
			t.Fatalf("unsealed entries: %+v, want unsealed at the first", c)
		}
		sealer, ok := s.(auditSealer)
		if !ok {
			t.Fatalf("%T has no SealAudit", s)
		}
		n, err := sealer.SealAudit(ctx, org.AuditHashSM3)
		if err != nil || n != 3 {
			t.Fatalf("SealAudit = %d, %v; want 3 entries sealed", n, err)
		}
		if n, err := sealer.SealAudit(ctx, org.AuditHashSM3); err != nil || n != 0 {
			t.Fatalf("second SealAudit = %d, %v; want nothing left to seal", n, err)
		}
		es := appendN(t, s, 2)
		c := verify(t, s, "")
		if !c.OK || c.Records != 5 || c.Head.Hash != es[1].Hash || c.Head.Algorithm != org.AuditHashSM3 {
			t.Fatalf("check = %+v, want 5 entries sealed with sm3", c)
		}
		if _, err := sealer.SealAudit(ctx, "md5"); err == nil {
			t.Fatal("SealAudit accepted md5")
		}
	})

	t.Run("LegacyTailSealedByAppend", func(t *testing.T) {
		s := open(t)
		appendN(t, s, 2)
		if _, err := db(t, s).Exec(`INSERT INTO audit_log (at, actor_id, actor, unit_id, unit_path, action, target,
			before_json, after_json, purpose, ip, request_id) VALUES (1, 0, '', 0, '', 'login.ok', '', '', '', '', '', '')`); err != nil {
			t.Fatal(err)
		}
		appendN(t, s, 1)
		if c := verify(t, s, ""); !c.OK || c.Records != 4 {
			t.Fatalf("check = %+v, want the tail sealed before the append", c)
		}
	})
}

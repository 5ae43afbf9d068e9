package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"sanji/internal/sealed"
	"sanji/scheduler"
)

// The petitioners' identity at rest (migration 0012): an appointment's name, ID number, phone
// and representatives, a case petitioner's name, ID number, phone and address are sealed with
// the keyring's current key; key_id names that key ('' for a row still in clear, written before
// 0012); id_index and phone_index are the blind indexes every lookup by ID number or phone uses.

// The TOTP secrets (migration 0017) are sealed with the same keyring, without blind indexes: a
// backup of the database alone then gives no one's second factor.

// identityTable describes one table holding sealed values: its key columns and its sealed columns.
type identityTable struct {
	name   string
	pk     []string
	sealed []string // the columns sealed, in order; with indexed, the first three are name, id_number, phone
	// indexed tables have the id_index and phone_index columns.
	indexed bool
	// since is the migration that made the columns sealed: a store opened on an older schema (a
	// test of a migration) has nothing of the table to seal yet.
	since int
}

var (
	apptIdentity = identityTable{name: "appointments", pk: []string{"id"},
		sealed: []string{"name", "id_number", "phone", "representatives"}, indexed: true, since: 12}
	petitionerIdentity = identityTable{name: "case_petitioners", pk: []string{"case_id", "seq"},
		sealed: []string{"name", "id_number", "phone", "address"}, indexed: true, since: 12}
	totpSecret     = identityTable{name: "user_totp", pk: []string{"user_id"}, sealed: []string{"secret"}, since: 17}
	identityTables = []identityTable{apptIdentity, petitionerIdentity, totpSecret}
)

// Blind index labels: an ID number's index never equals a phone's.
const (
	idIndexLabel    = "id_number"
	phoneIndexLabel = "phone"
)

// errNoKeys is returned when identity is written or read before useIdentityKeys.
var errNoKeys = errors.New("sqlstore: no identity keys configured")

// idIndexValue is the normal form of an ID number that the blind index hashes: trimmed, upper
// case; "" (no index) for an empty or masked number (one with *), which names nobody.
func idIndexValue(id string) string {
	id = strings.ToUpper(strings.TrimSpace(id))
	if strings.Contains(id, "*") {
		return ""
	}
	return id
}

// phoneIndexValue is the normal form of a phone number for its index: its digits and a leading +.
func phoneIndexValue(phone string) string {
	var b strings.Builder
	for i, r := range strings.TrimSpace(phone) {
		if (r >= '0' && r <= '9') || (r == '+' && i == 0) {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// idIndex is the blind index of an ID number.
func (s *Store) idIndex(id string) (string, error) {
	if s.keys == nil {
		return "", errNoKeys
	}
	return s.keys.Index(idIndexLabel, idIndexValue(id)), nil
}

// sealRow seals the values of t's sealed columns (in t.sealed's order) with the current key and
// returns them followed by the key id and, for an indexed table, the ID number's index and the
// phone's index: the arguments for t's columns sealed..., key_id[, id_index, phone_index].
func (s *Store) sealRow(t identityTable, values ...string) ([]any, error) {
	if s.keys == nil {
		return nil, errNoKeys
	}
	return sealWith(s.keys, s.keys.Current(), t, values)
}

func sealWith(keys *sealed.Keyring, id string, t identityTable, values []string) ([]any, error) {
	out := make([]any, 0, len(values)+3)
	for i, v := range values {
		c, err := keys.Seal(id, t.name+"."+t.sealed[i], v)
		if err != nil {
			return nil, fmt.Errorf("sqlstore: seal %s: %w", t.name, err)
		}
		out = append(out, c)
	}
	out = append(out, id)
	if !t.indexed {
		return out, nil
	}
	return append(out, keys.Index(idIndexLabel, idIndexValue(values[1])), keys.Index(phoneIndexLabel, phoneIndexValue(values[2]))), nil
}

// openRow replaces the sealed values of t's columns (pointers in t.sealed's order) with their
// clear text; a row whose key id is "" is still in clear (written before 0012, or 0017 for TOTP
// secrets, and not yet sealed).
func (s *Store) openRow(t identityTable, keyID string, values ...*string) error {
	if keyID == "" {
		return nil
	}
	if s.keys == nil {
		return errNoKeys
	}
	for i, v := range values {
		p, err := s.keys.Open(keyID, t.name+"."+t.sealed[i], *v)
		if err != nil {
			return fmt.Errorf("sqlstore: open %s: %w", t.name, err)
		}
		*v = p
	}
	return nil
}

// useIdentityKeys sets the keyring that seals and opens identity, then seals the rows still in
// clear (a database from before migration 0012 or 0017), in batches, and returns how many it sealed.
// Each batch commits on its own and only rows still in clear are taken, so a start that stops
// half way resumes where it stopped.
func (s *Store) useIdentityKeys(ctx context.Context, keys *sealed.Keyring) (int, error) {
	if keys == nil {
		return 0, errNoKeys
	}
	s.keys = keys
	return s.reseal(ctx, true, DefaultRotateBatch, nil)
}

// IdentityKeys is the keyring sealing identity (tests change its current key).
func (s *Store) IdentityKeys() *sealed.Keyring { return s.keys }

// IdentityKey is the id of the key new identity is sealed with.
func (s *Store) IdentityKey() string {
	if s.keys == nil {
		return ""
	}
	return s.keys.Current()
}

// DefaultRotateBatch is how many rows one transaction of sealing or rotation rewrites: small
// enough that the server's writers wait for it only briefly.
const DefaultRotateBatch = 200

// RotateIdentityKeys re-seals, in batches of batch rows, every row sealed with a key other than
// the current one (and any still in clear), and returns how many it rewrote; progress, when set,
// hears the running total after each batch. Servers keep reading the rows not yet rewritten with
// their old keys, and the rewritten ones with the new key, which they read from the key file when
// they meet its id. Rows a server writes meanwhile with the old key are taken by a later batch.
func (s *Store) RotateIdentityKeys(ctx context.Context, batch int, progress func(done int)) (int, error) {
	if s.keys == nil {
		return 0, errNoKeys
	}
	if batch <= 0 {
		batch = DefaultRotateBatch
	}
	return s.reseal(ctx, false, batch, progress)
}

// reseal rewrites, batch by batch, the rows in clear (clearOnly) or else those not under the
// current key. Each row's update names its old values, so a row changed since it was read is
// left for the next batch rather than overwritten with what was read.
func (s *Store) reseal(ctx context.Context, clearOnly bool, batch int, progress func(int)) (int, error) {
	version, err := s.SchemaVersion(ctx)
	if err != nil {
		return 0, err
	}
	total := 0
	for _, t := range identityTables {
		if t.since > version {
			continue
		}
		cols := strings.Join(t.pk, ", ") + ", key_id, " + strings.Join(t.sealed, ", ")
		setCols := strings.Join(t.sealed, " = ?, ") + " = ?, key_id = ?"
		if t.indexed {
			setCols += ", id_index = ?, phone_index = ?"
		}
		where := strings.Join(t.pk, " = ? AND ") + " = ? AND key_id = ? AND " + strings.Join(t.sealed, " = ? AND ") + " = ?"
		races := 0
		for {
			current := s.keys.Current()
			pick, args := `key_id = ''`, []any{}
			if !clearOnly {
				pick, args = `key_id <> ?`, []any{current}
			}
			n := 0
			err := s.InTx(ctx, func(txs scheduler.Store) error {
				tx := txs.(*Store)
				type row struct {
					old   []any // pk..., key_id, sealed...
					clear []string
				}
				var rows []row
				err := tx.eachRow(ctx, func(sc scanner) error {
					old := make([]any, len(t.pk)+1+len(t.sealed))
					ptrs := make([]any, len(old))
					pks := make([]int64, len(t.pk))
					strs := make([]string, 1+len(t.sealed))
					for i := range pks {
						ptrs[i] = &pks[i]
					}
					for i := range strs {
						ptrs[len(t.pk)+i] = &strs[i]
					}
					if err := sc.Scan(ptrs...); err != nil {
						return err
					}
					for i, p := range pks {
						old[i] = p
					}
					for i, v := range strs {
						old[len(t.pk)+i] = v
					}
					clear := append([]string(nil), strs[1:]...)
					vals := make([]*string, len(clear))
					for i := range clear {
						vals[i] = &clear[i]
					}
					if err := tx.openRow(t, strs[0], vals...); err != nil {
						return err
					}
					rows = append(rows, row{old: old, clear: clear})
					return nil
				}, `SELECT `+cols+` FROM `+t.name+` WHERE `+pick+` ORDER BY `+strings.Join(t.pk, ", ")+` LIMIT `+fmt.Sprint(batch), args...)
				if err != nil {
					return err
				}
				for _, r := range rows {
					set, err := sealWith(tx.keys, current, t, r.clear)
					if err != nil {
						return err
					}
					res, err := tx.exec(ctx, `UPDATE `+t.name+` SET `+setCols+` WHERE `+where, append(set, r.old...)...)
					if err != nil {
						return err
					}
					if k, _ := res.RowsAffected(); k == 1 {
						n++
					}
				}
				if len(rows) > 0 && n == 0 {
					return errRaced
				}
				return nil
			})
			// Every row changed under us: another node sealing at its start, or a rotation, took
			// them. Read again; the bound only guards against a row that never matches.
			if errors.Is(err, errRaced) && races < 1000 {
				races++
				continue
			}
			races = 0
			if err != nil {
				return total, fmt.Errorf("sqlstore: seal %s: %w", t.name, err)
			}
			if n == 0 {
				break
			}
			total += n
			if progress != nil {
				progress(total)
			}
		}
	}
	return total, nil
}

// errRaced ends a batch whose rows all changed between its read and its writes.
var errRaced = errors.New("rows changed meanwhile")

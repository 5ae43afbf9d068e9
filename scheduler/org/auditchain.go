package org

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash"
	"strconv"
	"time"

	"github.com/emmansun/gmsm/sm3"
)

// The audit log is sealed by a hash chain (docs/security.md), like a hearing's recording:
//
//	genesis = H("sanji-audit-chain-v1" || 0x00)
//	hash_i  = H("sanji-audit-chain-v1" || 0x00 || prev_i || record_i)    prev_i = hash_{i-1}, or genesis
//
// in id order, where record_i is every column of the entry and the algorithm's name, each
// length-prefixed so that no two entries encode alike. H is SHA-256 or SM3 (the 国密 option of the
// recordings); each entry names its own, so switching the option does not break the chain. Changing
// a column changes the entry's hash; deleting, inserting or moving an entry breaks the next one's
// link; rewriting the chain from some entry onward is caught against a head noted before (the daily
// log line, the export).

// Audit chain algorithms (the recording chain's names).
const (
	AuditHashSHA256 = "sha256"
	AuditHashSM3    = "sm3"
)

const auditChainDomain = "sanji-audit-chain-v1"

// AuditHash returns the hash function of an algorithm name ("" is SHA-256).
func AuditHash(alg string) (func() hash.Hash, error) {
	switch alg {
	case AuditHashSHA256, "":
		return sha256.New, nil
	case AuditHashSM3:
		return sm3.New, nil
	}
	return nil, fmt.Errorf("%w: unknown audit hash algorithm %q (sha256 or sm3)", ErrInvalid, alg)
}

// AuditGenesis is the link before the first entry of a chain whose first entry uses alg.
func AuditGenesis(alg string) (string, error) {
	h, err := AuditHash(alg)
	if err != nil {
		return "", err
	}
	d := h()
	d.Write([]byte(auditChainDomain))
	d.Write([]byte{0})
	return hex.EncodeToString(d.Sum(nil)), nil
}

// ChainHash is the hash of e linked to prev (hex), under e.HashAlg.
func (e AuditEntry) ChainHash(prev string) (string, error) {
	h, err := AuditHash(e.HashAlg)
	if err != nil {
		return "", err
	}
	d := h()
	d.Write([]byte(auditChainDomain))
	d.Write([]byte{0})
	var n [8]byte
	for _, f := range []string{prev, e.HashAlg, strconv.FormatInt(e.ID, 10), strconv.FormatInt(microsOf(e.At), 10),
		strconv.FormatInt(e.ActorID, 10), e.Actor, strconv.FormatInt(e.UnitID, 10), e.UnitPath, e.Action, e.Target,
		e.Before, e.After, e.Purpose, e.IP, e.RequestID} {
		binary.BigEndian.PutUint64(n[:], uint64(len(f)))
		d.Write(n[:])
		d.Write([]byte(f))
	}
	return hex.EncodeToString(d.Sum(nil)), nil
}

// microsOf is t as the stores keep it: Unix microseconds, 0 for the zero time.
func microsOf(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

// AuditHead is the newest link of the audit chain: what an auditor notes and later compares.
type AuditHead struct {
	ID        int64     // the newest entry (0: the log is empty)
	At        time.Time // its time
	Hash      string    // its hash (hex): the chain's head; the genesis link when empty
	Algorithm string
	Records   int64 // entries in the log
}

// AuditBreak says why the chain does not hold at an entry.
type AuditBreak string

// The ways a chain breaks, each naming the first bad entry.
const (
	AuditChanged  AuditBreak = "changed"   // its columns do not match its hash: it was edited
	AuditUnlinked AuditBreak = "unlinked"  // it does not follow the entry before it: one was deleted before it, or it was moved
	AuditInserted AuditBreak = "inserted"  // it claims the same predecessor as the entry after it: it was slipped in
	AuditUnsealed AuditBreak = "unsealed"  // it carries no hash, or an unknown algorithm
	AuditHeadGone AuditBreak = "head_gone" // the noted head is not in the chain: entries up to it were rewritten or removed
)

// AuditCheck is the answer of verifying the chain.
type AuditCheck struct {
	OK      bool
	Records int64     // entries read
	Head    AuditHead // the last entry that held
	BadID   int64     // the first bad entry (0 when OK, or when only the noted head is missing)
	AfterID int64     // the last good entry before it (0: none)
	Break   AuditBreak
}

// AuditVerifier checks a chain entry by entry, in id order: the stores feed it their rows.
type AuditVerifier struct {
	check      AuditCheck
	prev       AuditEntry // the entry before the current one
	havePrev   bool
	beforePrev int64  // the id of the entry before prev (0: none)
	noted      string // the head an auditor noted, "" for none
	seen       bool   // the noted head was met
}

// NewAuditVerifier starts a check; noted is a head noted earlier (hex), or "".
func NewAuditVerifier(noted string) *AuditVerifier { return &AuditVerifier{noted: noted} }

// Add feeds the next entry; it returns false once the chain is found broken (stop feeding).
func (v *AuditVerifier) Add(e AuditEntry) bool {
	if v.check.Break != "" {
		return false
	}
	v.check.Records++
	fail := func(id, after int64, b AuditBreak) bool {
		v.check.BadID, v.check.AfterID, v.check.Break = id, after, b
		return false
	}
	if e.Hash == "" {
		return fail(e.ID, v.prev.ID, AuditUnsealed)
	}
	want := v.prev.Hash
	if !v.havePrev {
		g, err := AuditGenesis(e.HashAlg)
		if err != nil {
			return fail(e.ID, 0, AuditUnsealed)
		}
		want = g
	}
	if e.PrevHash != want {
		// Two entries naming the same predecessor: the earlier one was slipped in between.
		if v.havePrev && e.PrevHash == v.prev.PrevHash {
			return fail(v.prev.ID, v.beforePrev, AuditInserted)
		}
		return fail(e.ID, v.prev.ID, AuditUnlinked)
	}
	got, err := e.ChainHash(e.PrevHash)
	if err != nil {
		return fail(e.ID, v.prev.ID, AuditUnsealed)
	}
	if got != e.Hash {
		return fail(e.ID, v.prev.ID, AuditChanged)
	}
	if v.noted != "" && e.Hash == v.noted {
		v.seen = true
	}
	v.beforePrev = v.prev.ID
	v.prev, v.havePrev = e, true
	v.check.Head = AuditHead{ID: e.ID, At: e.At, Hash: e.Hash, Algorithm: e.HashAlg, Records: v.check.Records}
	return true
}

// Finish returns the answer once every entry was fed.
func (v *AuditVerifier) Finish() AuditCheck {
	c := v.check
	if c.Break == "" && v.noted != "" && !v.seen {
		c.Break = AuditHeadGone
	}
	c.OK = c.Break == ""
	return c
}

package casework

import (
	"context"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"sanji/i18n"
	"sanji/scheduler/org"
)

// 会商 quorum: the competent unit signs only when every other participating unit has given its
// opinion or its absence is recorded with a reason (shared/domain.md "A case record": 会商; a
// conclusion must not pass over a unit that was never heard). The competent unit's voice is its
// signature.

// EvConsultationAbsence is the timeline note of an absence recorded.
const EvConsultationAbsence = "consultation_absence"

// Absence is a participating unit's absence from a consultation, recorded by the competent unit.
type Absence struct {
	UnitID int64
	Reason string
	By     int64 // who recorded it
	At     time.Time
}

// Missing lists the participating units, other than the competent one, with neither an opinion
// nor a recorded absence, in the consultation's order.
func (c Consultation) Missing() []int64 {
	heard := map[int64]bool{c.CompetentUnitID: true}
	for _, o := range c.Opinions {
		heard[o.UnitID] = true
	}
	for _, a := range c.Absences {
		heard[a.UnitID] = true
	}
	var out []int64
	for _, u := range c.UnitIDs {
		if !heard[u] {
			out = append(out, u)
		}
	}
	return out
}

// CheckQuorum refuses signing while units are missing, naming them (name gives a unit's name;
// nil: its id).
func (c Consultation) CheckQuorum(name func(int64) string) error {
	missing := c.Missing()
	if len(missing) == 0 {
		return nil
	}
	names := make([]string, len(missing))
	for i, u := range missing {
		names[i] = strconv.FormatInt(u, 10)
		if name != nil {
			names[i] = name(u)
		}
	}
	return org.Invalid("unit_ids", "casework.quorum.quorum_missing",
		"units", i18n.Text{ZH: strings.Join(names, "、"), EN: strings.Join(names, ", ")})
}

// AddAbsence records a participating unit's absence: not the competent unit, not one that gave
// its opinion, before signing, with a reason.
func (c *Consultation) AddAbsence(a Absence) error {
	if !containsID(c.UnitIDs, a.UnitID) || a.UnitID == c.CompetentUnitID {
		return org.Invalid("unit_id", "casework.quorum.absence_unit")
	}
	if c.SignedBy != 0 {
		return org.Invalid("status", "casework.consultation.opinion_after_signing")
	}
	for _, o := range c.Opinions {
		if o.UnitID == a.UnitID {
			return org.Invalid("unit_id", "casework.quorum.absence_has_opinion")
		}
	}
	if s := strings.TrimSpace(a.Reason); s == "" || utf8.RuneCountInString(s) > 500 {
		return org.Invalid("reason", "casework.quorum.absence_reason")
	}
	for i := range c.Absences {
		if c.Absences[i].UnitID == a.UnitID {
			c.Absences[i] = a
			return nil
		}
	}
	c.Absences = append(c.Absences, a)
	return nil
}

// QuorumStore is the part of scheduler.Store that records absences.
type QuorumStore interface {
	// RecordConsultationAbsence records a's unit absent from consultation id (AddAbsence), by
	// actor.ActorID, who must be a member of the competent unit, with a timeline note.
	RecordConsultationAbsence(ctx context.Context, id int64, a Absence, actor CaseEvent) error
}

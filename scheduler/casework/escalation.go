package casework

import (
	"context"
	"errors"
	"fmt"
	"time"

	"sanji/i18n"
	"sanji/scheduler/calendar"
	"sanji/scheduler/org"
)

// 督办 that climbs by itself (shared/domain.md "Rules"; 信访工作条例 art. 37 and 41: the supervising
// body follows up, and a unit that does not answer a supervision in time is reported upward). An
// open item whose feedback date has passed moves one rung up EscalationLadder and one level up the
// tree: the office above the one it sits with is told and lists it, and the item gets a new
// feedback date. One run per missed date: the store refuses a second climb from the same rung.

// EvSupervisionOverdue is the timeline note of an item escalated because its feedback date passed.
const EvSupervisionOverdue = "supervision_overdue"

// Escalation is one climb of an item: what the office it reached is told.
type Escalation struct {
	Supervision Supervision // after the climb
	CaseNumber  string
	From, To    string    // rungs of EscalationLadder
	MissedDue   time.Time // the feedback date that passed
	Automatic   bool      // by the clock job, not a person
}

// Notice is the text for the office the item climbed to. It names the case by number and the
// rung, never the petitioner: a notice leaves the system.
func (e Escalation) Notice() i18n.Text {
	return i18n.T("casework.escalation.notice", "case", e.CaseNumber, "from", e.From, "to", e.To,
		"due", e.Supervision.Deadline.Format("2006-01-02"))
}

// SupervisionFilter selects supervision items across cases, oldest first.
type SupervisionFilter struct {
	OpenOnly bool
	// OfficeUnder: items escalated to an office in this subtree (a materialised path).
	OfficeUnder string
	// UnitUnder: items whose supervised unit lies in this subtree.
	UnitUnder string
	AfterID   int64
	Limit     int // default and maximum 500
}

// EscalationStore is the part of scheduler.Store the climbing supervision needs.
type EscalationStore interface {
	// EscalateOverdueSupervision climbs open item id from rung from to the next one, to the
	// office above its current one (the supervised unit's parent first; the root stays), with
	// the new feedback date deadline and one more missed date, noted on the timeline
	// (EvSupervisionOverdue) by actor at actor.At. It is ErrConflict when the item is no longer
	// open at rung from or its feedback date has not passed at actor.At: another run climbed it.
	EscalateOverdueSupervision(ctx context.Context, id int64, from string, deadline time.Time, actor CaseEvent) (Supervision, error)
	// ListSupervisionsWhere lists items across cases.
	ListSupervisionsWhere(ctx context.Context, f SupervisionFilter) ([]Supervision, error)
}

// FeedbackMissed reports whether an item's feedback date has passed at now: the date is a legal
// day, the whole of which is the unit's.
func FeedbackMissed(sv Supervision, now time.Time) bool {
	return sv.ClosedAt.IsZero() && !sv.Deadline.IsZero() && !now.Before(calendar.EndOfDay(sv.Deadline))
}

// EscalateOverdueSupervisions climbs every open item whose feedback date passed before now, once.
// Items at the top of the ladder stay there (they are counted overdue in the statistics).
func EscalateOverdueSupervisions(ctx context.Context, st ClockStore, cal *calendar.Calendar, rules Rules, now time.Time) ([]Escalation, error) {
	var out []Escalation
	var after int64
	for {
		svs, err := st.ListSupervisionsWhere(ctx, SupervisionFilter{OpenOnly: true, AfterID: after, Limit: 500})
		if err != nil {
			return out, fmt.Errorf("escalation job: list supervisions: %w", err)
		}
		if len(svs) == 0 {
			return out, nil
		}
		after = svs[len(svs)-1].ID
		for _, sv := range svs {
			next := NextEscalation(sv.Escalation)
			if !FeedbackMissed(sv, now) || next == sv.Escalation {
				continue
			}
			fb, err := cal.Compute(rules[RuleSupervisionAnswer], now)
			if err != nil {
				return out, fmt.Errorf("escalation job: supervision %d: %w", sv.ID, err)
			}
			up, err := st.EscalateOverdueSupervision(ctx, sv.ID, sv.Escalation, fb.Due, CaseEvent{At: now, Actor: "system"})
			if errors.Is(err, org.ErrConflict) {
				continue // climbed meanwhile by another node
			}
			if err != nil {
				return out, fmt.Errorf("escalation job: supervision %d: %w", sv.ID, err)
			}
			c, err := st.GetCase(ctx, sv.CaseID)
			if err != nil {
				return out, fmt.Errorf("escalation job: case of supervision %d: %w", sv.ID, err)
			}
			out = append(out, Escalation{Supervision: up, CaseNumber: c.Number, From: sv.Escalation, To: up.Escalation,
				MissedDue: sv.Deadline, Automatic: true})
		}
	}
}

package rates

import (
	"context"
	"fmt"
	"slices"
	"time"

	"sanji/scheduler/calendar"
	"sanji/scheduler/casework"
)

// 督办逾期 per unit: of the 督办 items on a unit, those that missed a feedback date.

// UnitSupervision is one supervised unit's items: Num missed a feedback date (climbed by the
// clock, or open past it now), Den all its items opened in the period.
type UnitSupervision struct {
	UnitID int64
	Rate
}

// SupervisionOverdue counts svs per supervised unit at now, units in id order.
func SupervisionOverdue(svs []casework.Supervision, now time.Time) []UnitSupervision {
	by := map[int64]*UnitSupervision{}
	for _, sv := range svs {
		u := by[sv.UnitID]
		if u == nil {
			u = &UnitSupervision{UnitID: sv.UnitID}
			by[sv.UnitID] = u
		}
		u.Den++
		if sv.Overdue > 0 || casework.FeedbackMissed(sv, now) {
			u.Num++
		}
	}
	out := make([]UnitSupervision, 0, len(by))
	for _, u := range by {
		out = append(out, *u)
	}
	slices.SortFunc(out, func(a, b UnitSupervision) int { return int(a.UnitID - b.UnitID) })
	return out
}

// SupervisionOverdueFor counts the items on units of q's subtrees opened within q's period.
func SupervisionOverdueFor(ctx context.Context, st casework.EscalationStore, q RatesQuery, now time.Time) ([]UnitSupervision, error) {
	var all []casework.Supervision
	seen := map[int64]bool{}
	for _, p := range q.UnderPaths {
		var after int64
		for {
			svs, err := st.ListSupervisionsWhere(ctx, casework.SupervisionFilter{UnitUnder: p, AfterID: after})
			if err != nil {
				return nil, fmt.Errorf("rates: supervision items: %w", err)
			}
			if len(svs) == 0 {
				break
			}
			after = svs[len(svs)-1].ID
			for _, sv := range svs {
				day := calendar.DayOf(sv.OpenedAt)
				if seen[sv.ID] || !q.From.IsZero() && day.Before(q.From) || !q.To.IsZero() && day.After(q.To) {
					continue
				}
				seen[sv.ID] = true
				all = append(all, sv)
			}
		}
	}
	return SupervisionOverdue(all, now), nil
}

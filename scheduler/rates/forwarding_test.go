package rates

import (
	"testing"
	"time"

	"sanji/scheduler/calendar"
	"sanji/scheduler/casework"
)

// TestTimelyForwarding is the worked example of 逐级转送按期率 (信访工作条例 art. 22) across 中秋节 and
// 国庆节 2026 (09-25 … 09-27 and 10-01 … 10-07 off, Saturday 10-10 a make-up working day), counted
// from the timelines and from the cells the store would keep, with the default 5 working days per
// level and with a province's 3.
func TestTimelyForwarding(t *testing.T) {
	bj := at2026
	fwd := func(unit int64, at time.Time) casework.CaseEvent { return moved(casework.StForwarded, unit, at) }
	ev := func(to casework.CaseStatus, at time.Time) casework.CaseEvent { return moved(to, 0, at) }
	hs := []CaseHistory{
		{ // The city forwards to district 20 on Wednesday 09-23; its 5 working days: Thursday 09-24,
			// Monday 09-28 to Wednesday 09-30, Thursday 10-08. It forwards on to township 30 on
			// 10-08, the last day: kept. The township's 5: Friday 10-09, Saturday 10-10 (make-up),
			// Monday 10-12 to Wednesday 10-14; it accepts on Thursday 10-15: late.
			Case: casework.Case{ID: 1, UnitID: 9, ResponsibleUnitID: 30, RegisteredAt: bj(9, 22)},
			Events: []casework.CaseEvent{ev(casework.StRegistered, bj(9, 22)), fwd(20, bj(9, 23)), {Kind: casework.EvOwner, At: bj(9, 24)},
				fwd(30, bj(10, 8)), ev(casework.StAccepted, bj(10, 15))},
		},
		{ // Forwarded to district 21 on Monday 09-28, never acted on: due Saturday 10-10 (09-29,
			// 09-30, 10-08, 10-09, 10-10), overdue at 10-20, against 21.
			Case:   casework.Case{ID: 2, UnitID: 9, ResponsibleUnitID: 21, RegisteredAt: bj(9, 28)},
			Events: []casework.CaseEvent{ev(casework.StRegistered, bj(9, 28)), fwd(21, bj(9, 28))},
		},
		{ // Forwarded to 20 on Friday 10-16: due Friday 10-23, running and not due at 10-20.
			Case:   casework.Case{ID: 3, UnitID: 9, ResponsibleUnitID: 20, RegisteredAt: bj(10, 16)},
			Events: []casework.CaseEvent{ev(casework.StRegistered, bj(10, 16)), fwd(20, bj(10, 16))},
		},
	}
	if ps := ForwardPeriods(hs[0].Events); len(ps) != 2 || ps[0] != (ForwardPeriod{20, bj(9, 23), bj(10, 8)}) || ps[1] != (ForwardPeriod{30, bj(10, 8), bj(10, 15)}) {
		t.Fatalf("periods %+v", ps)
	}
	cal, now := calendar.DefaultCalendar(), bj(10, 20)
	three := casework.DefaultRules()
	three[casework.RuleForwardLevel] = casework.ForwardRule(3)
	for _, tc := range []struct {
		name    string
		rules   casework.Rules
		want    Rate
		overdue map[int64]int
	}{
		{"5 days", casework.DefaultRules(), Rate{1, 3}, map[int64]int{30: 1, 21: 1}},
		// 3 days: 20's ran to Tuesday 09-29 (09-24, 09-28, 09-29), 30's to Monday 10-12 (10-09,
		// 10-10, 10-12), 21's to Thursday 10-08: all late; 3's runs to Wednesday 10-21.
		{"3 days", three, Rate{0, 3}, map[int64]int{20: 1, 30: 1, 21: 1}},
	} {
		// Kept, as the store keeps them: each case's forwarding cells summed.
		sum := map[RateCell]int64{}
		for _, h := range hs {
			for _, c := range (CaseFacts{Forwards: ForwardPeriods(h.Events)}).Cells(LegalDayNumber(now)) {
				if c.Metric == MetricForward {
					sum[c]++
				}
			}
		}
		var rows []RateRow
		for c, n := range sum {
			rows = append(rows, RateRow{c, n})
		}
		fromCounts, err := RatesFromCounts(rows, cal, tc.rules, 0, now)
		if err != nil {
			t.Fatal(err)
		}
		r, err := ComputeRates(RatesInput{Cases: hs}, cal, tc.rules, now)
		if err != nil {
			t.Fatal(err)
		}
		for from, r := range map[string]Rates{"timelines": r, "counts": fromCounts} {
			if r.TimelyForwarding != tc.want {
				t.Errorf("%s, from the %s: %+v, want %+v", tc.name, from, r.TimelyForwarding, tc.want)
			}
			for u, o := range r.Overdue {
				if o.Forwarding != tc.overdue[u] {
					t.Errorf("%s, from the %s: unit %d overdue forwarding %d, want %d", tc.name, from, u, o.Forwarding, tc.overdue[u])
				}
			}
			for u, n := range tc.overdue {
				if r.Overdue[u].Forwarding != n {
					t.Errorf("%s, from the %s: unit %d overdue forwarding %d, want %d", tc.name, from, u, r.Overdue[u].Forwarding, n)
				}
			}
		}
	}
	// A day later, 3's period under the province's 3 days has ended unacted.
	if r, _ := ComputeRates(RatesInput{Cases: hs}, cal, three, bj(10, 22)); r.TimelyForwarding != (Rate{0, 4}) {
		t.Errorf("3 days at 10-22: %+v", r.TimelyForwarding)
	}
	// The counts answer for any days the province may set, on this calendar.
	long := casework.DefaultRules()
	long[casework.RuleForwardLevel] = casework.ForwardRule(maxForwardDays + 1)
	if !countsAnswer(cal, three) || !countsAnswer(cal, casework.DefaultRules()) || countsAnswer(cal, long) {
		t.Error("countsAnswer and the forwarding days")
	}
}

// moved is a status change to to at at (unit: the unit it was routed to).
func moved(to casework.CaseStatus, unit int64, at time.Time) casework.CaseEvent {
	return casework.CaseEvent{Kind: casework.EvStatus, To: to, ResponsibleUnitID: unit, At: at}
}

// at2026 is 10:00 Beijing time on a day of 2026.
func at2026(m time.Month, d int) time.Time {
	return time.Date(2026, m, d, 10, 0, 0, 0, calendar.ChinaTZ)
}

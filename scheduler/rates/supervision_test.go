package rates

import (
	"testing"
	"time"

	"sanji/scheduler/calendar"
	"sanji/scheduler/casework"
)

// Worked example: on 2026-04-20, unit 7 has three items — one climbed on 04-18 after missing
// 04-17 (now answered and closed), one open with feedback due 04-19 (missed, not yet climbed), one
// open due 05-18 — and unit 9 one item closed in time: 7 missed 2 of 3, 9 none of 1.
func TestSupervisionOverdue(t *testing.T) {
	now := time.Date(2026, 4, 20, 10, 0, 0, 0, calendar.ChinaTZ)
	closed := time.Date(2026, 4, 19, 10, 0, 0, 0, calendar.ChinaTZ)
	got := SupervisionOverdue([]casework.Supervision{
		{UnitID: 7, Deadline: calendar.Date(2026, 5, 18), Overdue: 1, ClosedAt: closed},
		{UnitID: 7, Deadline: calendar.Date(2026, 4, 19)},
		{UnitID: 7, Deadline: calendar.Date(2026, 5, 18)},
		{UnitID: 9, Deadline: calendar.Date(2026, 4, 17), ClosedAt: time.Date(2026, 4, 16, 10, 0, 0, 0, calendar.ChinaTZ)},
	}, now)
	want := []UnitSupervision{{7, Rate{2, 3}}, {9, Rate{0, 1}}}
	if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("got %+v, want %+v", got, want)
	}
}

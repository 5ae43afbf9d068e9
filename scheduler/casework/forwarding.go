package casework

import (
	"time"

	"sanji/scheduler/calendar"
	"sanji/scheduler/org"
)

// The forwarding clock (转送, 信访工作条例 2022 art. 22; docs/casework.md "转送交办时限"): a petition
// office that receives a forwarded matter passes it on (转送 to the level below) or decides on it
// within a number of working days per level that each province sets (the setting
// casework.forward_days_per_level). It runs beside the acceptance period while the case is
// forwarded, with the same warnings.

// RuleForwardLevel is the key of the per-level forwarding period.
const RuleForwardLevel = "forward_level" // 逐级转送，每级若干工作日

// DefaultForwardDaysPerLevel is the per-level forwarding period where the province sets none.
const DefaultForwardDaysPerLevel = 5

// ForwardRule is the per-level forwarding period of days working days (the default when days is 0).
func ForwardRule(days int) calendar.Rule {
	if days <= 0 {
		days = DefaultForwardDaysPerLevel
	}
	return calendar.Rule{Key: RuleForwardLevel, Name: "逐级转送", Days: days, Unit: calendar.WorkingDays}
}

// ForwardClock is the forwarding period of a forwarded case at now: from the forward that brought
// it to the unit now holding it; ok is false when the case is not forwarded.
func ForwardClock(c Case, evs []CaseEvent, cal *calendar.Calendar, rule calendar.Rule, now time.Time) (calendar.Deadline, bool, error) {
	if c.Status != StForwarded {
		return calendar.Deadline{}, false, nil
	}
	since, _ := currentStay(c, evs)
	d, err := cal.Compute(rule, since)
	return d, err == nil, err
}

// CheckOnwardForward says whether a forwarded case may be forwarded again, from the unit at
// fromPath to the unit at toPath: only down, to a unit below the one holding it (逐级转送).
func CheckOnwardForward(fromPath, toPath string) error {
	if toPath == fromPath || !org.InSubtree(toPath, fromPath) {
		return org.Invalid("responsible_unit_id", "casework.forward.not_below")
	}
	return nil
}

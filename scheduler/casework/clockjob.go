package casework

import (
	"context"
	"errors"
	"fmt"
	"time"

	"sanji/scheduler/calendar"
	"sanji/scheduler/org"
)

// The clock job: which legal period a case is running now, and opening a supervision item by
// itself when a case goes overdue (shared/domain.md "Rules": going overdue opens a supervision item).

// ClockStore is what the clocks and the overdue job read and write: the cases and their slips,
// and the working-day calendar.
type ClockStore interface {
	CaseStore
	SlipStore
	EscalationStore
	calendar.HolidaySource
}

// CaseDeadline is the period a case at its current status runs against at now; ok is false for a
// status with no running clock (closed, archived …). It reads the case's timeline.
func CaseDeadline(ctx context.Context, st ClockStore, cal *calendar.Calendar, rules Rules, c Case, now time.Time) (d calendar.Deadline, ok bool, err error) {
	evs, err := st.ListCaseEvents(ctx, c.ID)
	if err != nil {
		return calendar.Deadline{}, false, err
	}
	return CaseClock(c, evs, cal, rules, now)
}

// CaseClock is CaseDeadline over a case and its timeline (oldest first):
//   - registered, objection returned: routing, from registration;
//   - forwarded, assigned: acceptance, from the routing;
//   - accepted, in progress, extended: handling (or fast track) from acceptance, plus the days
//     the extension granted;
//   - answered: the petitioner's 30 days to ask for a review, from the service of the answer;
//   - review: the review body's 30 days to answer (hearing time paused), then, once it answered,
//     the petitioner's 30 days to ask for a re-review;
//   - re-review: 30 days to answer, hearing time paused.
//
// Each review starts a new clock from the event that began it.
func CaseClock(c Case, evs []CaseEvent, cal *calendar.Calendar, rules Rules, now time.Time) (d calendar.Deadline, ok bool, err error) {
	since, stay := currentStay(c, evs)
	var rule calendar.Rule
	start, extended, paused, pausing := since, 0, 0, false
	switch c.Status {
	case StRegistered, StObjectionReturned:
		rule, start = rules[RuleRegistration], c.RegisteredAt
	case StForwarded, StAssigned:
		rule = rules[RuleAcceptance]
	case StAccepted, StInProgress, StExtended:
		rule, start = rules[RuleHandling], c.AcceptedAt
		if c.FastTrack {
			rule = rules[RuleFastTrack]
		}
		if c.Status == StExtended {
			extended = rules[RuleExtension].Days // timelines from before the days were recorded
			if e, found := lastTo(evs, StExtended); found && e.Days > 0 {
				extended = e.Days
			}
		}
	case StAnswered:
		// The petitioner's 30 days run from the service of the 处理意见书, not from its issue:
		// until it is served, no window runs (and a request is never late).
		served, found := ServedAt(stay, DocAnswer)
		if !found {
			return calendar.Deadline{}, false, nil
		}
		rule, start = rules[RuleReviewRequest], served
	case StReview, StReReview:
		rule = rules[RuleReviewAnswer]
		if c.Status == StReReview {
			rule = rules[RuleReReviewAnswer]
		}
		for _, e := range stay {
			if e.Kind == EvReviewAnswered && c.Status == StReview {
				// The petitioner's 30 days to ask for a re-review run from the service of the
				// 复查意见书, as the review's from the answer's: until it is served none runs.
				served, found := ServedAt(stay, DocReviewOpinion)
				if !found {
					return calendar.Deadline{}, false, nil
				}
				rule, start = rules[RuleReReviewRequest], served
			}
		}
		if !PetitionerWindow(rule) {
			paused, pausing = pausedDays(stay, now)
		}
	default:
		return calendar.Deadline{}, false, nil
	}
	d, err = cal.ComputeDays(rule, calendar.DayOf(start), paused, extended)
	if err != nil {
		return calendar.Deadline{}, false, err
	}
	d.Paused = pausing
	return d, true, nil
}

// currentStay is when the case entered its current status, and the timeline since.
func currentStay(c Case, evs []CaseEvent) (time.Time, []CaseEvent) {
	for i := len(evs) - 1; i >= 0; i-- {
		if evs[i].Kind == EvStatus && evs[i].To == c.Status {
			return evs[i].At, evs[i+1:]
		}
	}
	return c.RegisteredAt, evs
}

// pausedDays counts the calendar days of the hearings in events (pause → resume, or → now while
// one is under way) and reports whether one is.
func pausedDays(events []CaseEvent, now time.Time) (days int, pausing bool) {
	var began time.Time
	for _, e := range events {
		switch e.Kind {
		case EvClockPaused:
			began, pausing = e.At, true
		case EvClockResumed:
			if pausing {
				days += daysBetween(began, e.At)
				pausing = false
			}
		}
	}
	if pausing {
		days += daysBetween(began, now)
	}
	return days, pausing
}

// daysBetween is the number of legal days from a's day to b's day (0 on the same day).
func daysBetween(a, b time.Time) int {
	n := int(calendar.DayOf(b).Sub(calendar.DayOf(a)).Hours() / 24)
	return max(n, 0)
}

// reviewAnswered reports whether the body holding c's current review has answered it.
func reviewAnswered(c Case, evs []CaseEvent) bool {
	_, stay := currentStay(c, evs)
	for _, e := range stay {
		if e.Kind == EvReviewAnswered {
			return true
		}
	}
	return false
}

func lastTo(evs []CaseEvent, to CaseStatus) (CaseEvent, bool) {
	for i := len(evs) - 1; i >= 0; i-- {
		if evs[i].Kind == EvStatus && evs[i].To == to {
			return evs[i], true
		}
	}
	return CaseEvent{}, false
}

// CheckClockEvent says whether a clock note (EvClockPaused, EvClockResumed, EvReviewAnswered)
// may be added to a case with timeline evs: hearings pause only the review and re-review
// answers, one at a time; the review body answers once, not during a hearing.
func CheckClockEvent(c Case, evs []CaseEvent, kind string) error {
	inReview := c.Status == StReview || c.Status == StReReview
	_, stay := currentStay(c, evs)
	_, pausing := pausedDays(stay, time.Time{})
	answered := reviewAnswered(c, evs)
	switch kind {
	case EvClockPaused:
		if !inReview || answered {
			return org.Invalid("kind", "casework.clock.pause_outside_review")
		}
		if pausing {
			return org.Invalid("kind", "casework.clock.already_paused")
		}
	case EvClockResumed:
		if !pausing {
			return org.Invalid("kind", "casework.clock.not_paused")
		}
	case EvReviewAnswered:
		if c.Status != StReview {
			return org.Invalid("kind", "casework.clock.answer_outside_review")
		}
		if answered {
			return org.Invalid("kind", "casework.clock.review_already_answered")
		}
		if pausing {
			return org.Invalid("kind", "casework.clock.answer_during_hearing")
		}
	default:
		return org.Invalid("kind", "casework.clock.kind_invalid")
	}
	return nil
}

// CheckReviewRequest says whether a case may move to review (from answered) or re-review (from
// review) at now: within the petitioner's 30 days, and for a re-review after the review answer.
func CheckReviewRequest(c Case, evs []CaseEvent, to CaseStatus, cal *calendar.Calendar, rules Rules, now time.Time) error {
	if to != StReview && to != StReReview {
		return nil
	}
	d, ok, err := CaseClock(c, evs, cal, rules, now)
	if err != nil {
		return err
	}
	if !ok && c.Status == StAnswered && to == StReview {
		return nil // the answer is not served yet: the window has not begun
	}
	if !ok && c.Status == StReview && to == StReReview && reviewAnswered(c, evs) {
		return nil // the 复查意见书 is not served yet: the window has not begun
	}
	if !ok || !PetitionerWindow(d.Rule) {
		return org.Invalid("to", "casework.review.rereview_before_answer")
	}
	if !now.Before(d.DueAt()) {
		return org.Invalid("to", "casework.review.window_closed",
			"rule", d.Rule.Name, "due", d.Due.Format("2006-01-02"), "steps", d.Explain())
	}
	return nil
}

// OpenOverdueSupervisions opens a supervision item on every case whose running period ended
// before now and that has none open. It returns how many it opened. Cases the calendar cannot
// count (a missing year) are reported in the error after the others are done.
func OpenOverdueSupervisions(ctx context.Context, st ClockStore, cal *calendar.Calendar, rules Rules, now time.Time) (int, error) {
	opened := 0
	var errs []error
	var before int64
	for {
		cs, err := st.ListCases(ctx, CaseFilter{BeforeID: before, Limit: 500})
		if err != nil {
			return opened, fmt.Errorf("overdue job: list cases: %w", err)
		}
		if len(cs) == 0 {
			break
		}
		before = cs[len(cs)-1].ID
		for _, c := range cs {
			// A copy from another system is watched, and supervised, where it lives.
			if c.Supervised || c.ExternalSource != "" {
				continue
			}
			d, ok, err := CaseDeadline(ctx, st, cal, rules, c, now)
			if err != nil {
				errs = append(errs, fmt.Errorf("case %s: %w", c.Number, err))
				continue
			}
			// The petitioner's time to ask for a review running out makes no unit overdue.
			if !ok || PetitionerWindow(d.Rule) || d.Warning(now) < calendar.WarnOverdue {
				continue
			}
			fb, err := cal.Compute(rules[RuleSupervisionAnswer], now)
			if err != nil {
				errs = append(errs, fmt.Errorf("case %s: %w", c.Number, err))
				continue
			}
			unit := c.ResponsibleUnitID
			if unit == 0 || c.Status == StObjectionReturned {
				unit = c.UnitID
			}
			if InReview(c) { // the review body is late, not the unit it reviews
				unit = c.ReviewUnitID
			}
			sv := Supervision{CaseID: c.ID, UnitID: unit, Basis: "逾期未办（系统自动督办）：" + d.Explain(),
				Level: SupLevelRoutine, Method: SupWritten, Deadline: fb.Due, OpenedAt: now}
			if err := st.OpenSupervision(ctx, &sv); err != nil {
				if errors.Is(err, org.ErrConflict) {
					continue // opened meanwhile by a person or another node
				}
				return opened, fmt.Errorf("overdue job: case %s: %w", c.Number, err)
			}
			opened++
		}
	}
	return opened, errors.Join(errs...)
}

// RunOverdueJob runs OpenOverdueSupervisions at every tick until ctx ends, and returns then. The
// caller owns the goroutine it runs in and the ticker. report hears each run's outcome (for logs
// and metrics); it must not block. Each run reads the store's calendar, so a year an operator
// entered counts from the next run; a year still missing is counted provisionally (the item's
// basis then says so) rather than leaving its cases unwatched. Each run also climbs the items
// whose feedback date passed (EscalateOverdueSupervisions); escalated hears each climb (to notify
// the office reached) and must not block.
func RunOverdueJob(ctx context.Context, st ClockStore, rules Rules, tick <-chan time.Time, report func(opened int, err error), escalated func(Escalation)) {
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick:
			n, err := 0, error(nil)
			cal, lerr := calendar.LoadCalendar(ctx, st)
			if lerr != nil {
				err = lerr
			} else {
				pcal := cal.WithProvisional(true)
				// Climb first: an item opened by this run has a feedback date ahead of it.
				ups, uerr := EscalateOverdueSupervisions(ctx, st, pcal, rules, now)
				for _, e := range ups {
					if escalated != nil {
						escalated(e)
					}
				}
				n, err = OpenOverdueSupervisions(ctx, st, pcal, rules, now)
				err = errors.Join(uerr, err)
			}
			if report != nil {
				report(n, err)
			}
		}
	}
}

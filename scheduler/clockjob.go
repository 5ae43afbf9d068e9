package scheduler

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// The clock job: which legal period a case is running now, and opening a supervision item by
// itself when a case goes overdue (shared/domain.md "Rules": going overdue opens a supervision item).

// CaseDeadline is the period a case at its current status runs against; ok is false for a status
// with no running clock (closed, archived …). It reads the case's timeline for when the current
// status began.
func CaseDeadline(ctx context.Context, st Store, cal *Calendar, rules Rules, c Case) (d Deadline, ok bool, err error) {
	since := func() (time.Time, error) {
		evs, err := st.ListCaseEvents(ctx, c.ID)
		if err != nil {
			return time.Time{}, err
		}
		for i := len(evs) - 1; i >= 0; i-- {
			if evs[i].Kind == "status" && evs[i].To == c.Status {
				return evs[i].At, nil
			}
		}
		return c.RegisteredAt, nil
	}
	var rule Rule
	var start time.Time
	switch c.Status {
	case StRegistered, StObjectionReturned:
		rule, start = rules[RuleRegistration], c.RegisteredAt
	case StForwarded, StAssigned:
		rule = rules[RuleAcceptance]
		if start, err = since(); err != nil {
			return Deadline{}, false, err
		}
	case StAccepted, StInProgress, StExtended:
		rule, start = rules[RuleHandling], c.AcceptedAt
		if c.FastTrack {
			rule = rules[RuleFastTrack]
		}
	case StReview, StReReview:
		rule = rules[RuleReviewAnswer]
		if c.Status == StReReview {
			rule = rules[RuleReReviewAnswer]
		}
		if start, err = since(); err != nil {
			return Deadline{}, false, err
		}
	default:
		return Deadline{}, false, nil
	}
	d, err = cal.Compute(rule, start)
	if err != nil {
		return Deadline{}, false, err
	}
	if c.Status == StExtended {
		// The extension's length is not on the case yet: allow the most the law allows, so the
		// job never opens supervision on a case that may still be within its extension.
		if d, err = cal.Extend(d, rules[RuleExtension].Days, rules[RuleExtension]); err != nil {
			return Deadline{}, false, err
		}
	}
	return d, true, nil
}

// OpenOverdueSupervisions opens a supervision item on every case whose running period ended
// before now and that has none open. It returns how many it opened. Cases the calendar cannot
// count (a missing year) are reported in the error after the others are done.
func OpenOverdueSupervisions(ctx context.Context, st Store, cal *Calendar, rules Rules, now time.Time) (int, error) {
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
			if c.Supervised {
				continue
			}
			d, ok, err := CaseDeadline(ctx, st, cal, rules, c)
			if err != nil {
				errs = append(errs, fmt.Errorf("case %s: %w", c.Number, err))
				continue
			}
			if !ok || d.Warning(now) < WarnOverdue {
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
			sv := Supervision{CaseID: c.ID, UnitID: unit, Basis: "逾期未办（系统自动督办）：" + d.Explain(),
				Level: SupLevelRoutine, Method: SupWritten, Deadline: fb.Due, OpenedAt: now}
			if err := st.OpenSupervision(ctx, &sv); err != nil {
				if errors.Is(err, ErrConflict) {
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
// and metrics); it must not block.
func RunOverdueJob(ctx context.Context, st Store, cal *Calendar, rules Rules, tick <-chan time.Time, report func(opened int, err error)) {
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick:
			n, err := OpenOverdueSupervisions(ctx, st, cal, rules, now)
			if report != nil {
				report(n, err)
			}
		}
	}
}

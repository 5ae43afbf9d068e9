package storetest

import (
	"context"
	"fmt"
	"math/rand"
	"reflect"
	"testing"
	"time"

	"sanji/scheduler"
)

// The rates read from the store's counts are the rates computed from every timeline: for a few
// hundred cases of random shape (routed or not, decided late or never, fast track, extended,
// answered late, rated, the same people again, periods reaching a year the calendar lacks), in
// every subtree, at several moments; after a rebuild of the counts too.

func testRateCounts(t *testing.T, s scheduler.Store) {
	tr, cat := treeWithCategory(t, s)
	cat2 := scheduler.Category{Code: "03", Name: "城市建设与管理"}
	if err := s.CreateCategory(ctx, &cat2); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewSource(7))
	units := []scheduler.Unit{tr.City, tr.D1, tr.D2, tr.T1, tr.Dept}
	people := []string{"330102199001011234", "330102198502023456", "330105197703035678", "330102196604047890", "330102********1234"}
	head := member(t, s, "head", scheduler.RoleUnitHead, tr.Dept)
	base := time.Date(2025, 1, 3, 9, 0, 0, 0, scheduler.ChinaTZ)
	for i := range 240 {
		at := base.Add(time.Duration(rng.Intn(760*24)) * time.Hour) // into 2027, which the calendar lacks
		u := units[rng.Intn(len(units))]
		_, hash, _ := scheduler.NewQueryCode()
		c := scheduler.Case{UnitID: u.ID, Territory: "330102", Form: scheduler.FormVisit, Type: scheduler.TypeClaim, CategoryID: cat.ID,
			Title: fmt.Sprint("事项 ", i), QueryCodeHash: hash, RegisteredAt: at, FastTrack: rng.Intn(6) == 0,
			Petitioners: []scheduler.Petitioner{{Name: "某", IDNumber: people[rng.Intn(len(people))], Role: scheduler.PetitionerSelf}}}
		if rng.Intn(3) == 0 {
			c.CategoryID = cat2.ID
		}
		if rng.Intn(5) == 0 {
			c.Petitioners = append(c.Petitioners, scheduler.Petitioner{Name: "另", IDNumber: people[rng.Intn(len(people))], Role: scheduler.PetitionerSelf})
		}
		if err := s.CreateCase(ctx, &c, scheduler.CaseEvent{Actor: "intake", ActorID: 1}); err != nil {
			t.Fatal(err)
		}
		step := func(to scheduler.CaseStatus, days int, mod func(*scheduler.CaseEvent)) bool {
			at = at.Add(time.Duration(days)*24*time.Hour + time.Duration(rng.Intn(8))*time.Hour)
			ev := scheduler.CaseEvent{CaseID: c.ID, From: c.Status, To: to, Reason: "办理", Actor: "h", ActorID: 1, At: at}
			if mod != nil {
				mod(&ev)
			}
			if err := s.TransitionCase(ctx, &ev); err != nil {
				t.Fatalf("case %d %s → %s: %v", c.ID, c.Status, to, err)
			}
			c.Status = to
			return true
		}
		if rng.Intn(2) == 0 {
			resp := units[rng.Intn(len(units))]
			step(scheduler.StAssigned, rng.Intn(10), func(ev *scheduler.CaseEvent) { ev.ResponsibleUnitID = resp.ID })
		}
		switch rng.Intn(6) {
		case 0:
			continue // never decided
		case 1:
			step(scheduler.StNotAccepted, rng.Intn(25), nil)
			continue
		}
		step(scheduler.StAccepted, rng.Intn(25), nil)
		if rng.Intn(5) == 0 {
			continue // accepted, never answered
		}
		step(scheduler.StInProgress, 0, nil)
		if rng.Intn(4) == 0 {
			step(scheduler.StExtended, 20+rng.Intn(30), func(ev *scheduler.CaseEvent) {
				ev.Days, ev.ApprovedBy, ev.Notice = 1+rng.Intn(30), head.ID, "延期告知"
			})
		}
		if rng.Intn(6) == 0 {
			continue
		}
		step(scheduler.StAnswered, rng.Intn(90), func(ev *scheduler.CaseEvent) { ev.Result = scheduler.ResultExplain })
		step(scheduler.StClosed, rng.Intn(3), nil)
		if rng.Intn(2) == 0 {
			score := []string{scheduler.ScoreSatisfied, scheduler.ScoreBasically, scheduler.ScoreUnsatisfied}[rng.Intn(3)]
			if err := s.AddEvaluation(ctx, &scheduler.Evaluation{CaseID: c.ID, Stage: scheduler.EvalResult, Score: score, Via: "terminal", At: at.Add(time.Hour)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	cal, err := scheduler.LoadCalendar(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	rules := scheduler.DefaultRules()
	check := func(when string) {
		t.Helper()
		var seen scheduler.Rates
		for _, root := range []scheduler.Unit{{}, tr.Root, tr.City, tr.D1, tr.D2, tr.T1, tr.Dept} {
			for _, now := range []time.Time{time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC), time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC), time.Date(2027, 3, 1, 12, 0, 0, 0, time.UTC)} {
				want, err := scheduler.RatesFromTimelines(ctx, s, root.Path, cal, rules, now)
				if err != nil {
					t.Fatal(err)
				}
				rows, err := s.RateCounts(ctx, root.Path)
				if err != nil {
					t.Fatal(err)
				}
				got, err := scheduler.RatesFromCounts(rows, cal, rules, now)
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(got, want) {
					t.Errorf("%s: subtree %q at %s: from the counts %+v, from the timelines %+v", when, root.Code, now.Format("2006-01-02"), got, want)
				}
				if via, err := scheduler.RatesFor(ctx, s, root.Path, cal, rules, now); err != nil || !reflect.DeepEqual(via, want) {
					t.Errorf("%s: RatesFor %q: %+v %v", when, root.Code, via, err)
				}
				if root.Path == "" && now.Year() == 2027 {
					seen = want
				}
			}
		}
		// The data must exercise what it claims to.
		if seen.Repeat.Num == 0 || seen.Uncounted == 0 || len(seen.Overdue) == 0 || seen.Satisfaction.Den == 0 ||
			seen.TimelyAcceptance.Num == seen.TimelyAcceptance.Den || seen.OnTimeClosure.Num == seen.OnTimeClosure.Den {
			t.Errorf("%s: the cases do not cover every rate: %+v", when, seen)
		}
	}
	check("as kept")
	if rb, ok := s.(interface{ RebuildRateCounts(context.Context) error }); ok {
		if err := rb.RebuildRateCounts(ctx); err != nil {
			t.Fatal(err)
		}
		check("rebuilt")
	}
}

package storetest

import (
	"context"
	"fmt"
	"math/rand"
	"reflect"
	"testing"
	"time"

	"sanji/scheduler"
	"sanji/scheduler/calendar"
	"sanji/scheduler/casework"
	"sanji/scheduler/org"
	"sanji/scheduler/rates"
)

// The statistics read from the store's counts are those computed from every timeline: for a few
// hundred cases of random shape (routed into another subtree or not, decided late or never, fast
// track, extended, answered late, closed, rated, the same people again, forwarded down one level
// or several and passed on in time, late or never, periods reaching a year the calendar lacks), in
// every subtree, at several moments and "back within" windows, with the default and a province's
// per-level forwarding days; after further changes and after a rebuild of the counts too.

func testRateCounts(t *testing.T, s scheduler.Store) {
	tr, cat := treeWithCategory(t, s)
	cat2 := org.Category{Code: "03", Name: "城市建设与管理"}
	if err := s.CreateCategory(ctx, &cat2); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewSource(7))
	units := []org.Unit{tr.City, tr.D1, tr.D2, tr.T1, tr.Dept}
	people := []string{"330102199001011234", "330102198502023456", "330105197703035678", "33010219660404789X", "33010219660404789x",
		"330102********1234"}
	head := member(t, s, "head", org.RoleUnitHead, tr.Dept)
	chains := [][]org.Unit{{tr.D1, tr.T1}, {tr.D1, tr.Dept}, {tr.D2}, {tr.T1}, {tr.City, tr.D1, tr.T1}}
	base := time.Date(2025, 1, 3, 9, 0, 0, 0, calendar.ChinaTZ)
	for i := range 240 {
		at := base.Add(time.Duration(rng.Intn(760*24)) * time.Hour) // into 2027, which the calendar lacks
		u := units[rng.Intn(len(units))]
		_, hash, _ := casework.NewQueryCode()
		territory := u.Code
		if u.ID == tr.Dept.ID {
			territory = tr.D1.Code
		}
		c := casework.Case{UnitID: u.ID, Territory: territory, Form: casework.FormVisit, Type: casework.TypeClaim, CategoryID: cat.ID,
			Title: fmt.Sprint("事项 ", i), QueryCodeHash: hash, RegisteredAt: at, FastTrack: rng.Intn(6) == 0,
			Petitioners: []casework.Petitioner{{Name: "某", IDNumber: people[rng.Intn(len(people))], Role: casework.PetitionerSelf}}}
		if rng.Intn(3) == 0 {
			c.CategoryID = cat2.ID
		}
		if rng.Intn(5) == 0 {
			c.Petitioners = append(c.Petitioners, casework.Petitioner{Name: "另", IDNumber: people[rng.Intn(len(people))], Role: casework.PetitionerSelf})
		}
		if err := s.CreateCase(ctx, &c, casework.CaseEvent{Actor: "intake", ActorID: 1}); err != nil {
			t.Fatal(err)
		}
		step := func(to casework.CaseStatus, days int, mod func(*casework.CaseEvent)) bool {
			at = at.Add(time.Duration(days)*24*time.Hour + time.Duration(rng.Intn(8))*time.Hour)
			ev := casework.CaseEvent{CaseID: c.ID, From: c.Status, To: to, Reason: "办理", Actor: "h", ActorID: 1, At: at}
			if mod != nil {
				mod(&ev)
			}
			if err := s.TransitionCase(ctx, &ev); err != nil {
				t.Fatalf("case %d %s → %s: %v", c.ID, c.Status, to, err)
			}
			c.Status = to
			return true
		}
		switch rng.Intn(4) {
		case 0, 1:
			resp := units[rng.Intn(len(units))]
			step(casework.StAssigned, rng.Intn(10), func(ev *casework.CaseEvent) { ev.ResponsibleUnitID = resp.ID })
		case 2:
			// Forwarded down a chain of levels (逐级转送), each passing it on after a few days, the
			// last left to decide below.
			chain := chains[rng.Intn(len(chains))]
			for j, to := range chain {
				if j > 0 && rng.Intn(4) == 0 {
					break // not passed on
				}
				step(casework.StForwarded, rng.Intn(12), func(ev *casework.CaseEvent) { ev.ResponsibleUnitID = to.ID })
			}
		}
		switch rng.Intn(6) {
		case 0:
			continue // never decided
		case 1:
			step(casework.StNotAccepted, rng.Intn(25), nil)
			continue
		}
		step(casework.StAccepted, rng.Intn(25), nil)
		if rng.Intn(5) == 0 {
			continue // accepted, never answered
		}
		step(casework.StInProgress, 0, nil)
		if rng.Intn(4) == 0 {
			step(casework.StExtended, 20+rng.Intn(30), func(ev *casework.CaseEvent) {
				ev.Days, ev.ApprovedBy, ev.Notice = 1+rng.Intn(30), head.ID, "延期告知"
			})
		}
		if rng.Intn(6) == 0 {
			continue
		}
		step(casework.StAnswered, rng.Intn(90), func(ev *casework.CaseEvent) { ev.Result = casework.ResultExplain })
		step(casework.StClosed, rng.Intn(3), nil)
		if rng.Intn(2) == 0 {
			score := []string{casework.ScoreSatisfied, casework.ScoreBasically, casework.ScoreUnsatisfied}[rng.Intn(3)]
			if err := s.AddEvaluation(ctx, &casework.Evaluation{CaseID: c.ID, Stage: casework.EvalResult, Score: score, Via: "terminal", At: at.Add(time.Hour)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Two cases of one person registered at the same instant: the one with the smaller id is first.
	for range 2 {
		_, hash, _ := casework.NewQueryCode()
		c := casework.Case{UnitID: tr.D2.ID, Territory: "330105", Form: casework.FormVisit, Type: casework.TypeClaim, CategoryID: cat2.ID,
			Title: "同时登记", QueryCodeHash: hash, RegisteredAt: base.Add(100 * 24 * time.Hour),
			Petitioners: []casework.Petitioner{{Name: "某", IDNumber: "330105200001010011", Role: casework.PetitionerSelf}}}
		if err := s.CreateCase(ctx, &c, casework.CaseEvent{Actor: "intake", ActorID: 1}); err != nil {
			t.Fatal(err)
		}
	}
	// Moments in order (Mondays), and at each, periods still running whose nominal last day L was
	// the weekend before: not overdue yet (the due day moved to the Monday), and one that is.
	nows := []time.Time{time.Date(2025, 6, 2, 12, 0, 0, 0, calendar.ChinaTZ), time.Date(2026, 6, 1, 12, 0, 0, 0, calendar.ChinaTZ),
		time.Date(2027, 3, 1, 12, 0, 0, 0, calendar.ChinaTZ)}
	// register registers a case of nobody in particular at unit on territory at at.
	register := func(unit org.Unit, territory, title string, at time.Time) casework.Case {
		t.Helper()
		_, hash, _ := casework.NewQueryCode()
		c := casework.Case{UnitID: unit.ID, Territory: territory, Form: casework.FormVisit, Type: casework.TypeClaim, CategoryID: cat.ID,
			Title: title, QueryCodeHash: hash, RegisteredAt: at, Petitioners: []casework.Petitioner{{Name: "某", Role: casework.PetitionerSelf}}}
		if err := s.CreateCase(ctx, &c, casework.CaseEvent{Actor: "intake", ActorID: 1}); err != nil {
			t.Fatal(err)
		}
		return c
	}
	for _, now := range nows {
		for _, back := range []int{2, 1, 30} { // L on Saturday, Sunday, a month ago
			l := now.AddDate(0, 0, -back)
			register(tr.T1, "330102", "周末到期", l.AddDate(0, 0, -15))
			h := register(tr.T1, "330102", "周末到期", l.AddDate(0, 0, -70))
			for _, to := range []casework.CaseStatus{casework.StAccepted, casework.StInProgress} {
				cur, _ := s.GetCase(ctx, h.ID)
				if err := s.TransitionCase(ctx, &casework.CaseEvent{CaseID: h.ID, From: cur.Status, To: to, Actor: "h", ActorID: 1, At: l.AddDate(0, 0, -60)}); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	// And at each, a chain the city forwarded to the district (passed on after two days: kept) and
	// on to the township (accepted after fourteen: late), and a forward to the other district the
	// day before (running, not due).
	for _, now := range nows {
		c := register(tr.City, "330100", "逐级转送", now.AddDate(0, 0, -20))
		r := register(tr.City, "330100", "刚转送", now.AddDate(0, 0, -2))
		for _, st := range []struct {
			id   int64
			from casework.CaseStatus
			to   casework.CaseStatus
			unit int64
			back int
		}{
			{c.ID, casework.StRegistered, casework.StForwarded, tr.D1.ID, 19}, {c.ID, casework.StForwarded, casework.StForwarded, tr.T1.ID, 17},
			{c.ID, casework.StForwarded, casework.StAccepted, 0, 3}, {r.ID, casework.StRegistered, casework.StForwarded, tr.D2.ID, 1},
		} {
			ev := casework.CaseEvent{CaseID: st.id, From: st.from, To: st.to, ResponsibleUnitID: st.unit, Reason: "转送", Actor: "h", ActorID: 1, At: now.AddDate(0, 0, -st.back)}
			if err := s.TransitionCase(ctx, &ev); err != nil {
				t.Fatal(err)
			}
		}
	}
	cal, err := calendar.LoadCalendar(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	province := casework.DefaultRules()
	province[casework.RuleForwardLevel] = casework.ForwardRule(3)
	roots := []org.Unit{{}, tr.Root, tr.City, tr.D1, tr.D2, tr.T1, tr.Dept}
	compare := func(when string, now time.Time) rates.Rates {
		t.Helper()
		var all rates.Rates
		for _, root := range roots {
			for i, days := range []int{0, 30, 365} {
				rules := casework.DefaultRules()
				if i == 1 {
					rules = province // the counts keep no forwarding days: any the province sets is answered
				}
				q := rates.RatesQuery{UnderPaths: []string{root.Path}, RepetitionDays: days}
				want, err := rates.RatesFromTimelines(ctx, s, q, cal, rules, now)
				if err != nil {
					t.Fatal(err)
				}
				rows, err := s.RateCounts(ctx, root.Path)
				if err != nil {
					t.Fatal(err)
				}
				got, err := rates.RatesFromCounts(rows, cal, rules, days, now)
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(got, want) {
					t.Errorf("%s: subtree %q at %s, back within %d: from the counts %+v, from the timelines %+v", when, root.Code, now.Format("2006-01-02"), days, got, want)
				}
				if via, err := rates.RatesFor(ctx, s, q, cal, rules, now); err != nil || !reflect.DeepEqual(via, want) {
					t.Errorf("%s: RatesFor %q at %s: %+v %v", when, root.Code, now.Format("2006-01-02"), via, err)
				}
				if root.Path == "" && days == 0 {
					all = want
				}
			}
		}
		return all
	}
	// Each moment folds the running periods up to it first.
	var last rates.Rates
	for _, now := range nows {
		h, err := s.FoldRateCounts(ctx, rates.LegalDayNumber(now))
		if err != nil || h != rates.LegalDayNumber(now) {
			t.Fatalf("fold to %s: %d %v", now.Format("2006-01-02"), h, err)
		}
		last = compare("as kept", now)
	}
	// The data must exercise what it claims to.
	if last.Repeat.Num == 0 || last.Uncounted == 0 || len(last.Overdue) == 0 || last.Satisfaction.Den == 0 || len(last.Scores) < 3 ||
		last.Repetitioned.Num == 0 || last.Repetitioned.Num == last.Repetitioned.Den || len(last.Counts) < 10 ||
		last.TimelyAcceptance.Num == last.TimelyAcceptance.Den || last.OnTimeClosure.Num == last.OnTimeClosure.Den ||
		last.TimelyForwarding.Num == 0 || last.TimelyForwarding.Num == last.TimelyForwarding.Den {
		t.Errorf("the cases do not cover every rate: %+v", last)
	}
	// The horizon does not move back, and a moment before it is still answered right.
	if h, err := s.FoldRateCounts(ctx, rates.LegalDayNumber(nows[0])); err != nil || h != rates.LegalDayNumber(nows[2]) {
		t.Errorf("fold backwards: %d %v", h, err)
	}
	if via, err := rates.RatesFor(ctx, s, rates.RatesQuery{UnderPaths: []string{""}}, cal, casework.DefaultRules(), nows[0]); err != nil || !reflect.DeepEqual(via, mustRates(t, s, cal, nows[0])) {
		t.Errorf("before the horizon: %+v %v", via, err)
	}
	// Periods folded as running end now: their cells move out of the folded ones.
	cs, err := s.ListCases(ctx, casework.CaseFilter{Status: casework.StInProgress})
	if err != nil || len(cs) == 0 {
		t.Fatalf("running cases: %d %v", len(cs), err)
	}
	for _, c := range cs {
		ev := casework.CaseEvent{CaseID: c.ID, From: c.Status, To: casework.StAnswered, Result: casework.ResultSupport, Reason: "答复", Actor: "h", ActorID: 1,
			At: time.Date(2027, 3, 2, 9, 0, 0, 0, calendar.ChinaTZ)}
		if err := s.TransitionCase(ctx, &ev); err != nil {
			t.Fatal(err)
		}
	}
	// People come back: a new case of each person and category after the others' closures.
	for i, id := range people[:4] {
		_, hash, _ := casework.NewQueryCode()
		c := casework.Case{UnitID: units[i].ID, Territory: "330102", Form: casework.FormVisit, Type: casework.TypeClaim, CategoryID: cat.ID,
			Title: "又来了", QueryCodeHash: hash, RegisteredAt: time.Date(2027, 3, 2, 10, 0, 0, 0, calendar.ChinaTZ),
			Petitioners: []casework.Petitioner{{Name: "某", IDNumber: id, Role: casework.PetitionerSelf}}}
		if err := s.CreateCase(ctx, &c, casework.CaseEvent{Actor: "intake", ActorID: 1}); err != nil {
			t.Fatal(err)
		}
	}
	compare("answered and come back after the fold", nows[2].Add(48*time.Hour))
	if rb, ok := s.(interface{ RebuildRateCounts(context.Context) error }); ok {
		if err := rb.RebuildRateCounts(ctx); err != nil {
			t.Fatal(err)
		}
		compare("rebuilt", nows[2].Add(48*time.Hour))
	}
}

func mustRates(t *testing.T, s scheduler.Store, cal *calendar.Calendar, now time.Time) rates.Rates {
	t.Helper()
	r, err := rates.RatesFromTimelines(ctx, s, rates.RatesQuery{UnderPaths: []string{""}}, cal, casework.DefaultRules(), now)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

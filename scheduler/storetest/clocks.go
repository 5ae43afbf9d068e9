package storetest

import (
	"strings"
	"testing"
	"time"

	"sanji/scheduler"
	"sanji/scheduler/calendar"
	"sanji/scheduler/casework"
	"sanji/scheduler/org"
)

// The legal clocks wired to a case's timeline: the approved extension's days, hearing pauses in
// review, the review and re-review windows; and the working-day calendar kept in the store.

func testCaseClocks(t *testing.T, s scheduler.Store) {
	tr, cat := treeWithCategory(t, s)
	cal, rules := calendar.DefaultCalendar(), casework.DefaultRules()
	bj := func(m time.Month, d, h int) time.Time { return time.Date(2026, m, d, h, 0, 0, 0, calendar.ChinaTZ) }
	head := member(t, s, "head", org.RoleUnitHead, tr.Dept)
	// Registered at the township: its review goes to the district, its re-review to the city.
	c := reviewCase(t, s, tr.T1.ID, 0, cat.ID, "时限", "时限的计算", "330102199001011234", bj(3, 2, 9))
	move := func(from, to casework.CaseStatus, at time.Time, mod func(*casework.CaseEvent)) error {
		ev := casework.CaseEvent{CaseID: c.ID, From: from, To: to, Reason: "办理", Result: casework.ResultExplain, At: at, Actor: "officer"}
		if mod != nil {
			mod(&ev)
		}
		return s.TransitionCase(ctx, &ev)
	}
	clock := func(now time.Time) calendar.Deadline {
		t.Helper()
		d, ok, err := casework.CaseDeadline(ctx, s, cal, rules, mustCase(t, s, c.ID), now)
		if err != nil || !ok {
			t.Fatalf("deadline at %s: %v %v", now, ok, err)
		}
		return d
	}
	due := func(now time.Time, rule string, want time.Time) calendar.Deadline {
		t.Helper()
		d := clock(now)
		if d.Rule.Key != rule || !d.Due.Equal(want) {
			t.Errorf("at %s: %s due %s, want %s due %s (%s)", now.Format("01-02"), d.Rule.Key, d.Due.Format("2006-01-02"), rule, want.Format("2006-01-02"), d.Explain())
		}
		return d
	}
	for _, st := range [][2]casework.CaseStatus{{casework.StRegistered, casework.StAccepted}, {casework.StAccepted, casework.StInProgress}} {
		if err := move(st[0], st[1], bj(3, 5, 9), nil); err != nil {
			t.Fatal(err)
		}
	}
	// Accepted 03-05: 60 days end 05-04, in the 劳动节 holiday → 05-06.
	due(bj(4, 1, 9), casework.RuleHandling, calendar.Date(2026, 5, 6))
	// An extension needs days within the rule, the unit head's approval and the notice.
	for what, mod := range map[string]func(*casework.CaseEvent){
		"no days":     func(e *casework.CaseEvent) { e.ApprovedBy, e.Notice = head.ID, "告知书" },
		"31 days":     func(e *casework.CaseEvent) { e.Days, e.ApprovedBy, e.Notice = 31, head.ID, "告知书" },
		"no approval": func(e *casework.CaseEvent) { e.Days, e.Notice = 10, "告知书" },
		"no notice":   func(e *casework.CaseEvent) { e.Days, e.ApprovedBy = 10, head.ID },
	} {
		wantErr(t, move(casework.StInProgress, casework.StExtended, bj(4, 20, 9), mod), org.ErrInvalid, "extension with "+what)
	}
	if err := move(casework.StInProgress, casework.StExtended, bj(4, 20, 9), func(e *casework.CaseEvent) {
		e.Days, e.ApprovedBy, e.Notice = 10, head.ID, "因需调取仲裁材料，延期十日，特此告知"
	}); err != nil {
		t.Fatal(err)
	}
	// 05-04 + 10 days = 05-14, a Thursday: the extension granted 10 days, not the most allowed.
	d := due(bj(4, 21, 9), casework.RuleHandling, calendar.Date(2026, 5, 14))
	if d.ExtendedDays != 10 || !strings.Contains(d.Explain(), "延期 10 日") {
		t.Errorf("extension explained: %s", d.Explain())
	}
	evs, _ := s.ListCaseEvents(ctx, c.ID)
	if e := evs[len(evs)-1]; e.Days != 10 || e.ApprovedBy != head.ID || !strings.HasPrefix(e.Notice, "因需调取") {
		t.Errorf("extension event: %+v", e)
	}
	if err := move(casework.StExtended, casework.StAnswered, bj(5, 10, 9), nil); err != nil {
		t.Fatal(err)
	}
	// Answered 05-10, the 处理意见书 not served yet: the petitioner's window has not begun.
	if _, ok, err := casework.CaseDeadline(ctx, s, cal, rules, mustCase(t, s, c.ID), bj(5, 11, 9)); ok || err != nil {
		t.Errorf("a review window runs before the answer is served: %v %v", ok, err)
	}
	// Served by post, delivered 05-13: 30 days from service, to 06-12 (a Friday), not 06-09.
	serveDoc(t, s, c.ID, casework.DocAnswer, bj(5, 10, 8), bj(5, 13, 15))
	d = due(bj(5, 14, 9), casework.RuleReviewRequest, calendar.Date(2026, 6, 12))
	if !casework.PetitionerWindow(d.Rule) {
		t.Error("the review request period is the petitioner's")
	}
	c0 := mustCase(t, s, c.ID)
	evs, _ = s.ListCaseEvents(ctx, c.ID)
	if err := casework.CheckReviewRequest(c0, evs, casework.StReview, cal, rules, bj(6, 12, 20)); err != nil {
		t.Errorf("a review asked for on the last day counted from service: %v", err)
	}
	if err := casework.CheckReviewRequest(c0, evs, casework.StReview, cal, rules, bj(6, 13, 9)); err == nil {
		t.Error("a review asked for after its 30 days was accepted")
	}
	if err := casework.CheckReviewRequest(c0, evs, casework.StReview, cal, rules, bj(5, 20, 9)); err != nil {
		t.Errorf("a review in time: %v", err)
	}
	note := func(kind string, at time.Time) error {
		return s.AddClockEvent(ctx, &casework.CaseEvent{CaseID: c.ID, Kind: kind, Actor: "reviewer", Reason: "听证", At: at})
	}
	wantErr(t, note(casework.EvClockPaused, bj(5, 12, 9)), org.ErrInvalid, "pause outside review")
	if err := move(casework.StAnswered, casework.StReview, bj(5, 20, 9), nil); err != nil {
		t.Fatal(err)
	}
	// Review from 05-20: 30 days end 06-19, in 端午节 → 06-22.
	due(bj(5, 21, 9), casework.RuleReviewAnswer, calendar.Date(2026, 6, 22))
	wantErr(t, note(casework.EvClockResumed, bj(5, 24, 9)), org.ErrInvalid, "resume a running clock")
	if err := note(casework.EvClockPaused, bj(5, 25, 9)); err != nil {
		t.Fatal(err)
	}
	wantErr(t, note(casework.EvClockPaused, bj(5, 26, 9)), org.ErrInvalid, "pause twice")
	wantErr(t, note(casework.EvReviewAnswered, bj(5, 26, 9)), org.ErrInvalid, "answer during a hearing")
	// Paused since 05-25; on 05-28 three days do not count: 06-22 is now 06-23 (+3 from 06-19 → 06-22 … moved).
	if d := clock(bj(5, 28, 9)); !d.Paused || d.PausedDays != 3 {
		t.Errorf("during the hearing: paused %v, %d days", d.Paused, d.PausedDays)
	}
	if err := note(casework.EvClockResumed, bj(6, 4, 9)); err != nil {
		t.Fatal(err)
	}
	// Hearing 05-25 → 06-04: 10 days; 05-20 + 40 = 06-29, a Monday.
	d = due(bj(6, 5, 9), casework.RuleReviewAnswer, calendar.Date(2026, 6, 29))
	if d.Paused || d.PausedDays != 10 || !strings.Contains(d.Explain(), "中止 10 日") {
		t.Errorf("after the hearing: %+v %s", d, d.Explain())
	}
	if err := note(casework.EvReviewAnswered, bj(6, 15, 9)); err != nil {
		t.Fatal(err)
	}
	wantErr(t, note(casework.EvReviewAnswered, bj(6, 16, 9)), org.ErrInvalid, "answer twice")
	wantErr(t, note(casework.EvClockPaused, bj(6, 16, 9)), org.ErrInvalid, "pause after the answer")
	// The review answered 06-15, its 复查意见书 not served yet: the petitioner's window to ask for
	// a re-review has not begun, and a request is never late.
	if _, ok, err := casework.CaseDeadline(ctx, s, cal, rules, mustCase(t, s, c.ID), bj(6, 16, 9)); ok || err != nil {
		t.Errorf("a re-review window runs before the review opinion is served: %v %v", ok, err)
	}
	c0 = mustCase(t, s, c.ID)
	evs, _ = s.ListCaseEvents(ctx, c.ID)
	if err := casework.CheckReviewRequest(c0, evs, casework.StReReview, cal, rules, bj(9, 1, 9)); err != nil {
		t.Errorf("a re-review before the review opinion is served: %v", err)
	}
	// Served by post, delivered 06-16: 30 days from service, to 07-16 (a Thursday), not 07-15.
	serveDoc(t, s, c.ID, casework.DocReviewOpinion, bj(6, 15, 8), bj(6, 16, 15))
	due(bj(6, 17, 9), casework.RuleReReviewRequest, calendar.Date(2026, 7, 16))
	c0 = mustCase(t, s, c.ID)
	evs, _ = s.ListCaseEvents(ctx, c.ID)
	if err := casework.CheckReviewRequest(c0, evs, casework.StReReview, cal, rules, bj(7, 16, 20)); err != nil {
		t.Errorf("a re-review asked for on the last day counted from service: %v", err)
	}
	if err := casework.CheckReviewRequest(c0, evs, casework.StReReview, cal, rules, bj(7, 17, 9)); err == nil {
		t.Error("a re-review asked for too late was accepted")
	}
	if err := move(casework.StReview, casework.StReReview, bj(7, 10, 9), nil); err != nil {
		t.Fatal(err)
	}
	// Re-review from 07-10: 08-09 is a Sunday → 08-10.
	due(bj(7, 11, 9), casework.RuleReReviewAnswer, calendar.Date(2026, 8, 10))
	wantErr(t, note("memo", bj(7, 12, 9)), org.ErrInvalid, "unknown clock note")
	var kinds []string
	for _, k := range timelineKinds(t, s, c.ID) {
		kinds = append(kinds, strings.TrimSuffix(k, "@"))
	}
	if strings.Join(kinds, " ") != "document@document:1 served@document:1 clock_paused clock_resumed review_answered document@document:2 served@document:2" {
		t.Errorf("clock notes on the timeline: %v", kinds)
	}
}

// testOverdueSkipsPetitionerWindows: the petitioner's review window running out opens nothing.
func testOverdueSkipsPetitionerWindows(t *testing.T, s scheduler.Store) {
	tr, cat := treeWithCategory(t, s)
	bj := func(m time.Month, d int) time.Time { return time.Date(2026, m, d, 9, 0, 0, 0, calendar.ChinaTZ) }
	c := newCase(t, s, tr, cat.ID, "已答复", bj(3, 2))
	for _, st := range [][2]casework.CaseStatus{{casework.StRegistered, casework.StAccepted}, {casework.StAccepted, casework.StInProgress},
		{casework.StInProgress, casework.StAnswered}} {
		ev := casework.CaseEvent{CaseID: c.ID, From: st[0], To: st[1], Reason: "办理", Result: casework.ResultExplain, At: bj(3, 3)}
		if err := s.TransitionCase(ctx, &ev); err != nil {
			t.Fatal(err)
		}
	}
	n, err := casework.OpenOverdueSupervisions(ctx, s, calendar.DefaultCalendar(), casework.DefaultRules(), bj(9, 1))
	if err != nil || n != 0 {
		t.Errorf("opened %d, %v; the petitioner not asking for a review is nobody's delay", n, err)
	}
}

func testCalendarStore(t *testing.T, s scheduler.Store) {
	years, err := s.ListCalendarYears(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := years[2025]; !ok || !v {
		t.Errorf("2025 from holidays.txt: covered %v verified %v", ok, v)
	}
	if v, ok := years[2026]; !ok || !v {
		t.Errorf("2026 from holidays.txt: covered %v verified %v, want covered and verified", ok, v)
	}
	cal, err := calendar.LoadCalendar(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	// The store holds what the file holds: 2025's days too, not only those of migration 0002.
	for day, want := range map[time.Time]bool{calendar.Date(2025, 1, 28): false, calendar.Date(2025, 1, 26): true, calendar.Date(2026, 10, 10): true} {
		if got, err := cal.IsWorkingDay(day); err != nil || got != want {
			t.Errorf("%s: working %v %v, want %v", day.Format("2006-01-02"), got, err, want)
		}
	}
	// A year no one entered: refused by the strict calendar, counted provisionally otherwise.
	rule := casework.DefaultRules()[casework.RuleReviewAnswer] // 30 calendar days
	start := time.Date(2029, 12, 2, 10, 0, 0, 0, calendar.ChinaTZ)
	if _, err := cal.Compute(rule, start); err == nil {
		t.Error("the strict calendar counted a year it lacks")
	}
	d, err := cal.WithProvisional(true).Compute(rule, start)
	// 2029-12-02 + 30 = 2030-01-01, 元旦 by the fixed-date rule → 2030-01-02.
	if err != nil || !d.Due.Equal(calendar.Date(2030, 1, 2)) || !d.Provisional() || d.ProvisionalYears[0] != 2030 {
		t.Fatalf("provisional: %v %v %v", d.Due, d.ProvisionalYears, err)
	}
	// An operator enters the year: the count is exact from then on.
	if err := s.PutHoliday(ctx, calendar.Holiday{Date: "2030-01-03", Kind: calendar.DayOff, Name: "测试"}); err != nil {
		t.Fatal(err)
	}
	if years, _ := s.ListCalendarYears(ctx); !years[2030] {
		t.Errorf("2030 after an operator's entry: %v", years)
	}
	cal, _ = calendar.LoadCalendar(ctx, s)
	d, err = cal.WithProvisional(true).Compute(rule, start)
	if err != nil || d.Provisional() || !d.Due.Equal(calendar.Date(2030, 1, 1)) {
		t.Errorf("after the year was entered: %v %v %v", d.Due, d.ProvisionalYears, err)
	}
}

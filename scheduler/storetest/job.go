package storetest

import (
	"context"
	"strings"
	"testing"
	"time"

	"sanji/scheduler"
	"sanji/scheduler/calendar"
	"sanji/scheduler/casework"
	"sanji/scheduler/org"
)

// testOverdueRunner drives RunOverdueJob with a hand-fed tick channel and checks it ends with ctx.
func testOverdueRunner(t *testing.T, s scheduler.Store) {
	tr := BuildTree(t, s)
	cat := org.Category{Code: "02", Name: "劳动和社会保障"}
	if err := s.CreateCategory(ctx, &cat); err != nil {
		t.Fatal(err)
	}
	c := newCase(t, s, tr, cat.ID, "逾期", time.Date(2026, 3, 2, 9, 0, 0, 0, calendar.ChinaTZ))
	jctx, cancel := context.WithCancel(ctx)
	tick := make(chan time.Time)
	reports := make(chan int, 4)
	done := make(chan struct{})
	go func() {
		defer close(done)
		casework.RunOverdueJob(jctx, s, casework.DefaultRules(), tick, func(n int, err error) {
			if err != nil {
				t.Errorf("job: %v", err)
			}
			reports <- n
		}, nil)
	}()
	tick <- time.Date(2026, 3, 10, 0, 0, 0, 0, calendar.ChinaTZ)
	if n := <-reports; n != 0 {
		t.Errorf("before the deadline: opened %d", n)
	}
	tick <- time.Date(2026, 3, 18, 0, 0, 0, 0, calendar.ChinaTZ)
	if n := <-reports; n != 1 {
		t.Errorf("after the deadline: opened %d", n)
	}
	// A case whose period ends in a year the calendar lacks is still watched, provisionally.
	late := newCase(t, s, tr, cat.ID, "跨年", time.Date(2029, 12, 20, 9, 0, 0, 0, calendar.ChinaTZ))
	tick <- time.Date(2030, 1, 6, 0, 0, 0, 0, calendar.ChinaTZ) // 15 days end 2030-01-04, a Friday
	if n := <-reports; n != 1 {
		t.Errorf("after a provisional deadline: opened %d", n)
	}
	cancel()
	<-done
	if _, err := s.OpenSupervisionFor(ctx, c.ID); err != nil {
		t.Errorf("no supervision opened: %v", err)
	}
	if sv, err := s.OpenSupervisionFor(ctx, late.ID); err != nil || !strings.Contains(sv.Basis, "暂按") {
		t.Errorf("provisional supervision: %+v %v", sv, err)
	}
}

package storetest

import (
	"context"
	"testing"
	"time"

	"sanji/scheduler"
)

// testOverdueRunner drives RunOverdueJob with a hand-fed tick channel and checks it ends with ctx.
func testOverdueRunner(t *testing.T, s scheduler.Store) {
	tr := BuildTree(t, s)
	cat := scheduler.Category{Code: "02", Name: "劳动和社会保障"}
	if err := s.CreateCategory(ctx, &cat); err != nil {
		t.Fatal(err)
	}
	c := newCase(t, s, tr, cat.ID, "逾期", time.Date(2026, 3, 2, 9, 0, 0, 0, scheduler.ChinaTZ))
	jctx, cancel := context.WithCancel(ctx)
	tick := make(chan time.Time)
	reports := make(chan int, 4)
	done := make(chan struct{})
	go func() {
		defer close(done)
		scheduler.RunOverdueJob(jctx, s, scheduler.DefaultCalendar(), scheduler.DefaultRules(), tick, func(n int, err error) {
			if err != nil {
				t.Errorf("job: %v", err)
			}
			reports <- n
		})
	}()
	tick <- time.Date(2026, 3, 10, 0, 0, 0, 0, scheduler.ChinaTZ)
	if n := <-reports; n != 0 {
		t.Errorf("before the deadline: opened %d", n)
	}
	tick <- time.Date(2026, 3, 18, 0, 0, 0, 0, scheduler.ChinaTZ)
	if n := <-reports; n != 1 {
		t.Errorf("after the deadline: opened %d", n)
	}
	cancel()
	<-done
	if _, err := s.OpenSupervisionFor(ctx, c.ID); err != nil {
		t.Errorf("no supervision opened: %v", err)
	}
}

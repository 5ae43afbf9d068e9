package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"sanji/scheduler/calendar"
	"sanji/scheduler/reception"
	"sanji/web/browsertest"
)

// TestE2ESessionsPageAsLeader opens the reception calendar as the demo leader, who reads it but
// does not schedule: the page asks for nothing the leader may not read (every request succeeds,
// the console stays clean) while it shows today's demo reception with its invitations, the
// calendar feeds, and a backfilled record (补录) marked as such.
func TestE2ESessionsPageAsLeader(t *testing.T) {
	chromium := browsertest.Path(t)
	cfg := testConfig(t)
	cfg.Demo = true
	a := startTestApp(t, cfg)
	password := ""
	for _, l := range a.logins {
		if l.Username == "demo-leader" {
			password = l.Password
		}
	}
	ctx := context.Background()
	now := time.Now()
	rs, err := a.store.ListReceptionSessions(ctx, reception.SessionQuery{From: now.Add(-time.Hour), To: now.Add(24 * time.Hour)})
	if err != nil || len(rs) != 1 {
		t.Fatalf("demo reception: %v %v", rs, err)
	}
	demo := rs[0]
	// A record of a reception held in the demo studio a week ago.
	rec := demo
	rec.ID, rec.Title, rec.Backfill = 0, "市领导视频接访（补录）", true
	rec.Start, rec.End = demo.Start.AddDate(0, 0, -7), demo.End.AddDate(0, 0, -7)
	if err := a.store.CreateReceptionSession(ctx, &rec); err != nil {
		t.Fatal(err)
	}

	browser := e2eBrowser(t, chromium)
	p := openScreen(t, t, browser, a.URL(), "demo-leader", password)
	open := func(date string, id int64) {
		t.Helper()
		if err := chromedp.Do(p.ctx, chromedp.Navigate(a.URL()+"/sessions.html?date="+date)); err != nil {
			t.Fatalf("open the calendar: %v", err)
		}
		e2eWait(t, p.ctx, "calendar ready", `window.sanjiSessions && window.sanjiSessions.ready`)
		item := fmt.Sprintf(`.cal-item[data-id="%d"]`, id)
		e2eWait(t, p.ctx, "the session on the calendar", `document.querySelector('`+item+`')`)
		if err := chromedp.Do(p.ctx, chromedp.Click(chromedp.CSS(item))); err != nil {
			t.Fatalf("select session %d: %v", id, err)
		}
		e2eWait(t, p.ctx, "the session's details and invitations",
			`!document.getElementById('detail').hidden && (document.querySelectorAll('#inv-rows tr').length > 0 || !document.getElementById('inv-empty').hidden)`)
		e2eWait(t, p.ctx, "the calendar feeds", `!document.getElementById('feeds').hidden &&
			(document.querySelectorAll('#feed-rows tr').length > 0 || !document.getElementById('feed-empty').hidden)`)
		screenSettled(t, p)
		// Every request of the page succeeded (the browser keeps them per document).
		failed, err := chromedp.Run(p.ctx, chromedp.Evaluate[[]string](`performance.getEntriesByType('resource')
			.filter((e) => e.responseStatus >= 400).map((e) => e.responseStatus + ' ' + e.name)`))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range failed {
			t.Errorf("failed request: %s", f)
		}
	}
	day := func(x time.Time) string { return x.In(calendar.Shanghai).Format("2006-01-02") }

	open(day(demo.Start), demo.ID)
	if hidden, err := chromedp.Run(p.ctx, chromedp.Evaluate[bool](`document.getElementById('d-backfill').hidden`)); err != nil || !hidden {
		t.Errorf("today's reception shown as backfilled (hidden=%v, %v)", hidden, err)
	}
	open(day(rec.Start), rec.ID)
	item, err := chromedp.Run(p.ctx, chromedp.Evaluate[string](fmt.Sprintf(
		`(() => { const b = document.querySelector('.cal-item[data-id="%d"]'); return b.className + '|' + b.textContent; })()`, rec.ID)))
	if err != nil || !strings.Contains(item, "backfill") || !strings.Contains(item, "补录") {
		t.Errorf("the record on the calendar: %q %v", item, err)
	}
	if shown, err := chromedp.Run(p.ctx, chromedp.Evaluate[bool](`!document.getElementById('d-backfill').hidden`)); err != nil || !shown {
		t.Errorf("the record's details do not say it is backfilled (%v)", err)
	}

	// Nothing went to the console as an error (a failed request is logged there too), but the
	// login page's question whether anyone was logged in, asked before the login (a page that
	// found nobody logged in would not have shown the calendar above).
	for _, m := range p.console.all() {
		if strings.Contains(m, "/api/v1/me:") && strings.Contains(m, "status of 401") {
			continue
		}
		if strings.HasPrefix(m, "error ") || strings.HasPrefix(m, "exception ") {
			t.Errorf("console: %s", m)
		}
	}
}

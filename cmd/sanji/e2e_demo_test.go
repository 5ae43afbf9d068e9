package main

import (
	"context"
	"fmt"
	"testing"

	"github.com/chromedp/chromedp"

	"sanji/scheduler"
	"sanji/web/browsertest"
)

// TestE2EDemoWindows is the demo as a new office meets it, in Chromium against the real app with
// the demo data. Every demo account logs in at /login.html and lands on the page its role works
// on (the first admin, whose password is one-time, on the password form). Then the four windows
// of today's demo reception, as `make run` prints them (scheduler.DemoSeats), each open
// /reception.html, find the session in the picker and click their seat — no direct links — and
// are in the call in that seat.
func TestE2EDemoWindows(t *testing.T) {
	chromium := browsertest.Path(t)
	cfg := testConfig(t)
	cfg.Demo = true
	a := startTestApp(t, cfg)
	passwords := map[string]string{}
	for _, l := range a.logins {
		passwords[l.Username] = l.Password
	}
	browser := e2eBrowser(t, chromium)
	login := func(user string) context.Context {
		t.Helper()
		p, cancel := chromedp.NewContext(browser, chromedp.WithNewBrowserContext())
		console := e2eCollectConsole(p)
		t.Cleanup(func() {
			cancel()
			<-console.done
		})
		if err := chromedp.Do(p, chromedp.Navigate(a.URL()+"/login.html")); err != nil {
			t.Fatalf("%s: open the login page: %v", user, err)
		}
		e2eWait(t, p, user+": login form", `document.readyState === "complete" && !!document.getElementById("username")`)
		if err := chromedp.Do(p, chromedp.SendKeys(chromedp.ID("username"), user), chromedp.SendKeys(chromedp.ID("password"), passwords[user]),
			chromedp.Click(chromedp.ID("login-submit"))); err != nil {
			t.Fatalf("%s: log in: %v", user, err)
		}
		return p
	}

	// Where each role works (web/static/js/landing.js).
	homes := map[string]string{
		scheduler.AdminUsername: "/password.html",
		"demo-leader":           "/reception.html",
		"demo-operator":         "/queue.html",
		"demo-operator2":        "/queue.html",
		"demo-intake":           "/cases.html",
		"demo-handler":          "/cases.html",
		"demo-handler2":         "/cases.html",
		"demo-unithead":         "/cases.html",
		"demo-supervisor":       "/cases.html",
		"demo-scheduler":        "/sessions.html",
		"demo-observer":         "/reception.html",
		"demo-district-admin":   "/admin.html",
		"demo-auditor":          "/audit.html",
	}
	if len(homes) != len(a.logins) {
		t.Fatalf("%d accounts printed, %d landings to check", len(a.logins), len(homes))
	}
	for _, l := range a.logins {
		want, ok := homes[l.Username]
		if !ok {
			t.Fatalf("no landing page known for %s (%s)", l.Username, l.Role)
		}
		p := login(l.Username)
		e2eWait(t, p, l.Username+" lands on "+want, fmt.Sprintf(`location.pathname === %q && document.readyState === "complete"`, want))
	}

	// The four windows of the demo reception, each through the picker.
	seats := make([]context.Context, len(scheduler.DemoSeats))
	for i, s := range scheduler.DemoSeats {
		p := login(s.Username)
		e2eWait(t, p, s.Username+": logged in", `!location.pathname.endsWith("/login.html")`)
		if err := chromedp.Do(p, chromedp.Navigate(a.URL()+"/reception.html")); err != nil {
			t.Fatal(err)
		}
		// The button of the seat, with the place's name where the seat has one.
		button := fmt.Sprintf(`[...document.querySelectorAll('#pick-list a[data-seat=%q]')].find((a) => a.textContent.includes(%q))`, s.Seat, s.Place)
		e2eWait(t, p, s.Username+": the picker offers the "+s.Seat+" seat "+s.Place, `document.body.dataset.ready === "true" && !!`+button)
		if _, err := chromedp.Run(p, chromedp.Evaluate[chromedp.Void](button+`.click()`)); err != nil {
			t.Fatalf("%s: click the seat: %v", s.Username, err)
		}
		e2eWait(t, p, s.Username+": in the call as "+s.Seat,
			fmt.Sprintf(`window.sanjiReception && window.sanjiReception.state && window.sanjiReception.state.seat === %q`, s.Seat))
		seats[i] = p
	}
	// All four are in the one call: the leader's console lists the three others and the four
	// petitioners waiting in the two halls.
	e2eWait(t, seats[0], "the leader sees the three other seats and the queue across both halls",
		`document.querySelectorAll("#people li").length === 3 && document.querySelectorAll("#queue li").length === 4`)
}

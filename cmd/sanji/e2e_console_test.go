package main

import (
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/chromedp/chromedp"

	"sanji/web/browsertest"
)

// TestE2EConsoleFitsOneScreen opens the leader's console of the demo reception at 1366×768 with
// a petitioner on stage, the hall in the call and its case panel filled, and checks that the
// stage, the slip, the case panel, the queue and the hands are inside the viewport and that the
// page does not scroll, in both languages.
func TestE2EConsoleFitsOneScreen(t *testing.T) {
	chromium := browsertest.Path(t)
	cfg := testConfig(t)
	cfg.Demo = true
	a := startTestApp(t, cfg)
	session, passwords := demoReception(t, a)
	browser := e2eBrowser(t, chromium)
	leader := openScreen(t, t, browser, a.URL(), "demo-leader", passwords["demo-leader"])
	hall := openScreen(t, t, browser, a.URL(), "demo-operator", passwords["demo-operator"])
	seat := func(p *e2ePage, q url.Values) {
		t.Helper()
		q.Set("session", fmt.Sprint(session.ID))
		if err := chromedp.Do(p.ctx, chromedp.Navigate(a.URL()+"/reception.html?"+q.Encode())); err != nil {
			t.Fatal(err)
		}
		e2eWait(t, p.ctx, "in the call", `window.sanjiReception && !!window.sanjiReception.state`)
	}
	seat(hall, url.Values{"seat": {"hall"}, "hall": {fmt.Sprint(session.HallIDs[0])}})
	seat(leader, url.Values{"seat": {"studio"}})
	e2eWait(t, leader.ctx, "next enabled", `!document.getElementById('btn-next').disabled`)
	if err := chromedp.Do(leader.ctx, chromedp.Click(chromedp.ID("btn-next"))); err != nil {
		t.Fatal(err)
	}
	e2eWait(t, hall.ctx, "the notice at the hall", `!document.getElementById('notice-card').hidden`)
	if err := chromedp.Do(hall.ctx, chromedp.Click(chromedp.ID("btn-ack"))); err != nil {
		t.Fatal(err)
	}
	e2eWait(t, leader.ctx, "the hearing on the console", `window.sanjiReception.state.phase === 'hearing' && !document.getElementById('panel-card').hidden && document.querySelectorAll('#people li').length >= 1`)

	type box struct {
		ID                       string
		Left, Top, Right, Bottom float64
		Shown                    bool
	}
	const measure = `(() => {
		const out = [];
		for (const id of ['main-tile', 'stage-card', 'controls-card', 'slip-card', 'panel-card', 'queue-card', 'hands-card', 'toolbar']) {
			const el = document.getElementById(id);
			const r = el.getBoundingClientRect();
			out.push({ID: id, Left: r.left, Top: r.top, Right: r.right, Bottom: r.bottom, Shown: !el.hidden && r.width > 0 && r.height > 0});
		}
		const s = document.scrollingElement;
		out.push({ID: 'page', Right: Math.max(s.scrollWidth, document.body.scrollWidth), Bottom: Math.max(s.scrollHeight, document.body.scrollHeight), Shown: true});
		return JSON.stringify(out);
	})()`
	dir := screenshotDir(t)
	for _, lang := range []string{"zh", "en"} {
		if err := chromedp.Do(leader.ctx, chromedp.Click(chromedp.CSS(fmt.Sprintf(`#lang button[data-lang=%q]`, lang)))); err != nil {
			t.Fatal(err)
		}
		screenSettled(t, leader)
		raw, err := chromedp.Run(leader.ctx, chromedp.Evaluate[string](measure))
		if err != nil {
			t.Fatal(err)
		}
		var boxes []box
		if err := json.Unmarshal([]byte(raw), &boxes); err != nil {
			t.Fatal(err)
		}
		for _, b := range boxes {
			switch {
			case !b.Shown:
				t.Errorf("%s: #%s is not on screen", lang, b.ID)
			case b.ID == "page" && (b.Right > 1366 || b.Bottom > 768):
				t.Errorf("%s: the page scrolls: %.0f×%.0f in a 1366×768 window", lang, b.Right, b.Bottom)
			case b.ID != "page" && (b.Left < 0 || b.Top < 0 || b.Right > 1366 || b.Bottom > 768):
				t.Errorf("%s: #%s is at (%.0f,%.0f)-(%.0f,%.0f), outside 1366×768", lang, b.ID, b.Left, b.Top, b.Right, b.Bottom)
			}
		}
		if shot, err := chromedp.Run(leader.ctx, chromedp.CaptureScreenshot()); err == nil { // for people; not judged
			_ = os.WriteFile(filepath.Join(dir, "sanji-console-1366-"+lang+".png"), shot, 0o600)
		}
	}
}

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"sanji/scheduler/casework"
	"sanji/scheduler/reception"
	"sanji/web/browsertest"
)

// receptionStats is what window.sanjiReception.stats() reports.
type receptionStats struct {
	Self      string `json:"self"`
	PanelView string `json:"panelView"`
	State     struct {
		Phase string `json:"phase"`
		Stage *struct {
			CaseID int64 `json:"case_id"`
			HallID int64 `json:"hall_id"`
		} `json:"stage"`
		Me struct {
			OnStage  bool `json:"on_stage"`
			Position int  `json:"position"`
		} `json:"me"`
	} `json:"state"`
	Inbound []struct {
		Kind          string `json:"kind"`
		ParticipantID string `json:"participantId"`
		FramesDecoded int    `json:"framesDecoded"`
	} `json:"inbound"`
}

// framesFrom is how many video frames the page decoded of participant id ("" = of anyone).
func (s receptionStats) framesFrom(id string) int {
	n := 0
	for _, in := range s.Inbound {
		if in.Kind == "video" && (id == "" || in.ParticipantID == id) {
			n += in.FramesDecoded
		}
	}
	return n
}

// TestE2EReception runs the weekly reception from the demo data in four browsers: the leader's
// console, hall A (清波, whose petitioner is called first), hall B (湖滨, waiting) and the
// district's 人社局. Hall B decodes nothing of hall A's hearing and shows its place in the
// queue; the leader assigns the case on the call and the assignment is in the case's timeline
// through the HTTP API; ending the hearing and calling the next petitioner moves the stage to
// hall B.
func TestE2EReception(t *testing.T) {
	chromium := browsertest.Path(t)
	cfg := testConfig(t)
	cfg.Demo = true
	cfg.LogLevel = "info"
	a := startTestApp(t, cfg)
	session, passwords := demoReception(t, a)
	ctx := context.Background()
	hallA, hallB := session.HallIDs[0], session.HallIDs[1]
	rsj, err := a.store.GetUnitByCode(ctx, "330102-RSJ")
	if err != nil {
		t.Fatal(err)
	}

	browser := e2eBrowser(t, chromium)
	open := func(user, seat string, hall, unit int64) *e2ePage {
		t.Helper()
		return openReception(t, browser, a.URL(), user, passwords[user], session.ID, seat, hall, unit)
	}
	stats := func(p *e2ePage) receptionStats { t.Helper(); return receptionStatsOf(t, p) }
	click := func(p *e2ePage, what, sel string) {
		t.Helper()
		if err := chromedp.Do(p.ctx, chromedp.Click(chromedp.CSS(sel))); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	until := func(what string, p *e2ePage, cond func(receptionStats) bool) receptionStats {
		t.Helper()
		return untilReception(t, what, p, cond)
	}

	leader := open("demo-leader", "studio", 0, 0)
	pa := open("demo-operator", "hall", hallA, 0)
	pb := open("demo-operator2", "hall", hallB, 0)
	unit := open("demo-handler", "unit", 0, rsj.ID)

	// The leader's queue page opens on a hall where petitioners wait, not on the empty studio.
	leaderQueue, closeLeaderQueue := chromedp.NewContext(leader.ctx)
	if err := chromedp.Do(leaderQueue, chromedp.Navigate(a.URL()+"/queue.html")); err != nil {
		t.Fatal(err)
	}
	e2eWait(t, leaderQueue, "the leader's queue page", `window.sanjiQueue && window.sanjiQueue.ready`)
	e2eWait(t, leaderQueue, "opened on hall A", fmt.Sprintf(`document.getElementById('q-hall').value === '%d' && document.querySelectorAll('#queue-list tr[data-id]').length === 2`, hallA))
	closeLeaderQueue()

	// Hall B waits, second across halls, and sees its number on the waiting screen.
	until("hall B's queue position", pb, func(s receptionStats) bool { return s.State.Phase == "idle" && s.State.Me.Position == 2 })
	e2eWait(t, pb.ctx, "hall B's waiting screen", `!document.getElementById('waiting-screen').hidden && document.getElementById('wait-number').textContent.includes('1')`)

	// The leader calls the next petitioner (hall A's) and brings the unit on stage.
	click(leader, "call next", "#btn-next")
	e2eWait(t, pa.ctx, "recording notice at hall A", `!document.getElementById('notice-card').hidden`)
	// The unit is offered by its name, from the session's roster.
	e2eWait(t, leader.ctx, "the unit offered by name", fmt.Sprintf(`[...document.getElementById('unit-pick').options].some((o) => o.value === '%d' && o.textContent === %q) && !document.getElementById('btn-unit-add').disabled`, rsj.ID, rsj.Name))
	if err := chromedp.Do(leader.ctx, chromedp.SetValue(chromedp.ID("unit-pick"), fmt.Sprint(rsj.ID))); err != nil {
		t.Fatal(err)
	}
	click(leader, "bring the unit on stage", "#btn-unit-add")
	click(pa, "acknowledge the recording notice", "#btn-ack")
	ids := map[string]string{}
	for name, p := range map[string]*e2ePage{"leader": leader, "hallA": pa, "hallB": pb, "unit": unit} {
		ids[name] = stats(p).Self
	}
	until("leader decodes hall A", leader, func(s receptionStats) bool { return s.State.Phase == "hearing" && s.framesFrom(ids["hallA"]) > 0 })
	until("hall A decodes the leader", pa, func(s receptionStats) bool { return s.framesFrom(ids["leader"]) > 0 })
	until("the unit decodes hall A and the leader", unit, func(s receptionStats) bool {
		return s.framesFrom(ids["hallA"]) > 0 && s.framesFrom(ids["leader"]) > 0
	})
	if s := stats(pb); s.framesFrom("") != 0 || s.State.Stage != nil || s.State.Me.Position != 1 {
		t.Fatalf("waiting hall B during hall A's hearing: %+v", s)
	}

	// The pictures name places and the masked petitioner, not the people logged in.
	caption := func(p *e2ePage, id string) string {
		t.Helper()
		c, err := chromedp.Run(p.ctx, chromedp.Evaluate[string](`(document.querySelector('figure[data-participant="`+id+`"] .name') || {}).textContent || ''`))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	e2eWait(t, leader.ctx, "hall A's caption at the studio", `!!document.querySelector('figure[data-participant="`+ids["hallA"]+`"] .name')`)
	if got := caption(leader, ids["hallA"]); got != "清波街道接访室 · 王**" {
		t.Errorf("the studio captions hall A %q", got)
	}
	if got := caption(pa, ids["leader"]); got != "市领导视频接访室 · "+session.LeaderName {
		t.Errorf("hall A captions the studio %q", got)
	}

	// The query code is on hall A's operator's queue page, beside the petitioner, not on the
	// room screen.
	queueTab, closeQueueTab := chromedp.NewContext(pa.ctx)
	defer closeQueueTab()
	if err := chromedp.Do(queueTab, chromedp.Navigate(fmt.Sprintf("%s/queue.html?hall=%d", a.URL(), hallA))); err != nil {
		t.Fatal(err)
	}
	e2eWait(t, queueTab, "the query code beside the petitioner heard", `document.querySelectorAll('.qcode').length === 1 && document.querySelector('.qcode-code').textContent.length === 16`)
	code, err := chromedp.Run(queueTab, chromedp.Evaluate[string](`document.querySelector('.qcode-code').textContent`))
	if err != nil {
		t.Fatal(err)
	}
	if onScreen, err := chromedp.Run(pa.ctx, chromedp.Evaluate[bool](`document.body.innerText.includes(`+strconv.Quote(code)+`) || document.body.innerText.includes(`+strconv.Quote(code[:4])+`)`)); err != nil || onScreen {
		t.Errorf("hall A's room screen shows the query code (%v)", err)
	}

	// The leader assigns the case to the unit from the console; it is in the case's timeline.
	caseID := stats(leader).State.Stage.CaseID
	e2eWait(t, leader.ctx, "slip form", `!document.getElementById('slip-card').hidden && document.getElementById('slip-unit').options.length === 1`)
	if err := chromedp.Do(leader.ctx, chromedp.SendKeys(chromedp.ID("slip-instruction"), "请区人社局十日内反馈")); err != nil {
		t.Fatal(err)
	}
	click(leader, "assign", "#btn-assign")
	e2eWait(t, leader.ctx, "assignment made", `document.getElementById('slip-result').textContent.length > 0`)
	timeline := fmt.Sprintf(`fetch('/api/v1/cases/%d/timeline').then(r => r.json()).then(d => d.events.map(e => e.to))`, caseID)
	steps, err := chromedp.Run(leader.ctx, chromedp.Evaluate[[]string](timeline, chromedp.EvalAwaitPromise))
	if err != nil || len(steps) == 0 || steps[len(steps)-1] != string(casework.StAssigned) {
		t.Fatalf("case timeline after the assignment: %v %v", steps, err)
	}
	e2eWait(t, unit.ctx, "the unit's panel shows the assignment", `document.querySelectorAll('#panel-body .rc-slip').length === 1`)
	click(leader, "take the case (包案)", "#btn-own")
	e2eWait(t, unit.ctx, "the unit's panel shows the owner", `!!document.querySelector('#panel-body .rc-owner')`)

	// Hall A keeps the record; the petitioner confirms it at the terminal.
	if err := chromedp.Do(pa.ctx,
		chromedp.SendKeys(chromedp.ID("record-text"), "信访人反映企业拖欠工资；领导当场交办区人社局。"),
		chromedp.SendKeys(chromedp.ID("record-name"), "王建国"),
	); err != nil {
		t.Fatal(err)
	}
	click(pa, "confirm the record", "#btn-record-confirm")
	e2eWait(t, pa.ctx, "record filed", `!document.getElementById('record-done').hidden`)
	e2eWait(t, leader.ctx, "record shown in the studio", `document.getElementById('stage-record').textContent.includes('拖欠工资')`)

	// End the hearing and call the next: the stage moves to hall B.
	if err := chromedp.Do(leader.ctx, chromedp.SetValue(chromedp.ID("outcome"), "assigned")); err != nil {
		t.Fatal(err)
	}
	click(leader, "end the hearing", "#btn-end")
	until("hall A back to waiting", pa, func(s receptionStats) bool { return s.State.Phase == "idle" && !s.State.Me.OnStage })
	e2eWait(t, queueTab, "the query code gone with its hearing", `document.querySelectorAll('.qcode').length === 0 && document.querySelectorAll('tr[data-status="done"]').length === 1`)
	closeQueueTab()

	// The hearing was recorded and sealed; the hall's operator (who may see the petitioner) plays
	// it back in another tab: the browser decodes the recorded video and the clock advances.
	listing := fmt.Sprintf(`fetch('/api/v1/cases/%d/recordings').then(r => r.json()).then(d => (d.recordings || []).map(r => r.hearing))`, caseID)
	hearings, err := chromedp.Run(pa.ctx, chromedp.Evaluate[[]string](listing, chromedp.EvalAwaitPromise))
	if err != nil || len(hearings) != 1 {
		t.Fatalf("recordings of the case: %v %v", hearings, err)
	}
	tab, closeTab := chromedp.NewContext(pa.ctx)
	defer closeTab()
	if err := chromedp.Do(tab, chromedp.Navigate(fmt.Sprintf("%s/playback.html?case=%d&hearing=%s", a.URL(), caseID, url.QueryEscape(hearings[0])))); err != nil {
		t.Fatal(err)
	}
	e2eWait(t, tab, "playback page", `window.sanjiPlayback && window.sanjiPlayback.ready`)
	if err := chromedp.Do(tab, chromedp.SendKeys(chromedp.ID("purpose"), "复查调阅"), chromedp.Click(chromedp.CSS(`#purpose-form button`))); err != nil {
		t.Fatal(err)
	}
	e2eWait(t, tab, "player", `!document.getElementById('player').hidden`)
	if err := chromedp.Do(tab, chromedp.Click(chromedp.ID("pb-play"))); err != nil {
		t.Fatal(err)
	}
	e2eWait(t, tab, "the recorded hearing plays", `(s => s.playing && s.currentTime > 0.5 && s.videos.length > 0 && s.videos.some(v => v.framesDecoded > 5 && v.currentTime > 0))(window.sanjiPlayback.state())`)
	closeTab()
	e2eWait(t, leader.ctx, "next enabled", `!document.getElementById('btn-next').disabled`)
	click(leader, "call next", "#btn-next")
	e2eWait(t, pb.ctx, "recording notice at hall B", `!document.getElementById('notice-card').hidden`)
	click(pb, "acknowledge at hall B", "#btn-ack")
	until("hall B decodes the leader on its hearing", pb, func(s receptionStats) bool {
		return s.State.Phase == "hearing" && s.State.Me.OnStage && s.framesFrom(ids["leader"]) > 0
	})
	if n := stats(pa).framesFrom(ids["hallB"]); n != 0 {
		t.Errorf("hall A decoded %d frames of hall B's hearing", n)
	}
	for name, p := range map[string]*e2ePage{"leader": leader, "hallA": pa, "hallB": pb, "unit": unit} {
		if exc := p.console.exceptions(); len(exc) > 0 {
			t.Errorf("%s: page exceptions: %v", name, exc)
		}
	}
	for name, p := range map[string]*e2ePage{"leader": leader, "hallB": pb} {
		if shot, err := chromedp.Run(p.ctx, chromedp.CaptureScreenshot()); err == nil {
			path := filepath.Join(screenshotDir(t), "sanji-reception-"+name+".png")
			if err := os.WriteFile(path, shot, 0o600); err != nil {
				t.Errorf("screenshot: %v", err)
			} else {
				t.Logf("screenshot of the %s: %s", name, path)
			}
		}
	}
	b, _ := json.Marshal(stats(pb))
	t.Logf("hall B at the end: %s", b)
}

// openReception logs user in on the node at base and opens its reception page for the seat, in
// a browser context of its own.
func openReception(t *testing.T, browser context.Context, base, user, password string, sessionID int64, seat string, hall, unit int64) *e2ePage {
	t.Helper()
	pctx, cancel := chromedp.NewContext(browser, chromedp.WithNewBrowserContext())
	p := &e2ePage{ctx: pctx}
	p.console = e2eCollectConsole(pctx)
	t.Cleanup(func() {
		cancel()
		<-p.console.done
	})
	if err := chromedp.Do(pctx, chromedp.Navigate(base+"/login.html")); err != nil {
		t.Fatalf("%s: open login page: %v", user, err)
	}
	login := fmt.Sprintf(`fetch('/api/v1/session', {method: 'POST', headers: {'Content-Type': 'application/json'},
		body: JSON.stringify({username: %q, password: %q})}).then(r => r.status)`, user, password)
	if st, err := chromedp.Run(pctx, chromedp.Evaluate[int](login, chromedp.EvalAwaitPromise)); err != nil || st != 200 {
		t.Fatalf("%s: log in: %d %v", user, st, err)
	}
	q := url.Values{"session": {fmt.Sprint(sessionID)}, "seat": {seat}}
	if hall != 0 {
		q.Set("hall", fmt.Sprint(hall))
	}
	if unit != 0 {
		q.Set("unit", fmt.Sprint(unit))
	}
	if err := chromedp.Do(pctx, chromedp.Navigate(base+"/reception.html?"+q.Encode())); err != nil {
		t.Fatalf("%s: open reception page: %v", user, err)
	}
	e2eWait(t, pctx, user+": in the call", `window.sanjiReception && window.sanjiReception.state !== null`)
	return p
}

// receptionStatsOf reads the page's window.sanjiReception.stats().
func receptionStatsOf(t *testing.T, p *e2ePage) receptionStats {
	t.Helper()
	c, cancel := context.WithTimeout(p.ctx, 5*time.Second)
	defer cancel()
	s, err := chromedp.Run(c, chromedp.Evaluate[receptionStats](`window.sanjiReception.stats()`, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("stats: %v", err)
	}
	return s
}

// untilReception polls cond on fresh stats of p up to the media deadline.
func untilReception(t *testing.T, what string, p *e2ePage, cond func(receptionStats) bool) receptionStats {
	t.Helper()
	deadline := time.Now().Add(e2eDeadline)
	for {
		s := receptionStatsOf(t, p)
		if cond(s) {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s; last stats %+v", what, e2eDeadline, s)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// demoReception is the demo's reception session of today on a (started with cfg.Demo) and the
// demo users' passwords.
func demoReception(t *testing.T, a *app) (reception.ReceptionSession, map[string]string) {
	t.Helper()
	passwords := map[string]string{}
	for _, l := range a.logins {
		passwords[l.Username] = l.Password
	}
	rs, err := a.store.ListReceptionSessions(context.Background(), reception.SessionQuery{From: time.Now().Add(-time.Hour), To: time.Now().Add(24 * time.Hour)})
	if err != nil || len(rs) != 1 {
		t.Fatalf("demo reception: %v %v", rs, err)
	}
	return rs[0], passwords
}

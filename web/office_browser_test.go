package web

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/gorilla/websocket"
)

// officeFake serves the pages, a logged-in user, the scripted JSON answers of routes ("GET
// /api/v1/halls" → body) and a seat token; each signaling socket is handed to the test.
func officeFake(t *testing.T, routes map[string]any) (*httptest.Server, chan *websocket.Conn) {
	t.Helper()
	conns := make(chan *websocket.Conn, 2)
	release := make(chan struct{})
	mux := http.NewServeMux()
	mux.Handle("/", Handler())
	mux.HandleFunc("GET /api/v1/me", func(w http.ResponseWriter, r *http.Request) {
		replyJSON(w, http.StatusOK, map[string]any{"user": map[string]any{"id": 3, "username": "op", "display_name": "接访员", "unit_id": 5},
			"grants": []any{}, "can": []string{}, "csrf_token": "csrf"})
	})
	mux.HandleFunc("POST /api/v1/sessions/1/join-token", func(w http.ResponseWriter, r *http.Request) {
		replyJSON(w, http.StatusOK, map[string]any{"token": fakeToken, "participant_id": "hall-7"})
	})
	for route, body := range routes {
		mux.HandleFunc(route, func(w http.ResponseWriter, r *http.Request) { replyJSON(w, http.StatusOK, body) })
	}
	up := websocket.Upgrader{}
	mux.HandleFunc("GET /ws", func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		conns <- c
		<-release
		c.Close()
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(func() {
		close(release)
		srv.Close()
	})
	return srv, conns
}

// joinSeat opens reception.html at a seat and answers its join; it returns the socket.
func joinSeat(t *testing.T, p *tab, conns chan *websocket.Conn, seat string) *websocket.Conn {
	t.Helper()
	p.do("open the "+seat+" seat", chromedp.Navigate(p.url+"/reception.html?session=1&seat="+seat+"&hall=7"))
	c := waitSocket(t, conns)
	join := expect(t, c, "join")
	send(t, c, "joined", join.ID, map[string]any{
		"room":         "call-1",
		"participant":  map[string]any{"id": "hall-7", "name": "清波街道接访大厅", "role": "hall_operator", "tracks": []any{}},
		"participants": []any{},
		"ice_servers":  []any{},
	})
	return c
}

// callState is a call_state for seat; stage nil is no hearing, queue nil an empty queue.
func callState(seat, phase string, onStage bool, stage map[string]any, queue []any, eta string) map[string]any {
	if queue == nil {
		queue = []any{}
	}
	me := map[string]any{"on_stage": onStage, "floor": true, "hand": false}
	if eta != "" {
		me["position"], me["eta"], me["waiting"] = 2, eta, 1
	}
	st := map[string]any{"session_id": 1, "title": "副市长接访", "leader": "王五一", "studio": "市领导视频接访室", "seat": seat,
		"phase": phase, "broadcast": false, "queue": queue, "me": me}
	if stage != nil {
		st["stage"] = stage
	}
	return st
}

func stageOf(appointment int, acknowledged bool) map[string]any {
	return map[string]any{"appointment_id": appointment, "hall_id": 7, "hall_name": "清波街道接访大厅", "units": []any{}, "case_id": 0,
		"case_number": "", "called_at": "2026-12-02T01:00:00Z", "recording_acknowledged": acknowledged, "speakers": []any{},
		"record_confirmed": false, "petitioner": "赵*", "people": 1}
}

// textContrastJS is the WCAG contrast ratio of an element's text against the first opaque
// background behind it (the page's white when none); -1 when a translucent one is in the way.
const textContrastJS = `((el) => {
	const nums = (c) => c.match(/[\d.]+/g).map(Number);
	let bg = [255, 255, 255];
	for (let e = el; e; e = e.parentElement) {
		const c = nums(getComputedStyle(e).backgroundColor);
		if (c.length === 3 || c[3] === 1) { bg = c; break; }
		if (c[3] > 0) return -1;
	}
	const lum = ([r, g, b]) => [r, g, b].map((v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; })
		.reduce((s, v, i) => s + v * [0.2126, 0.7152, 0.0722][i], 0);
	const a = lum(nums(getComputedStyle(el).color)), b = lum(bg);
	return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
})`

// TestReceptionPickerReadable: the picker's heading and its session lines are dark on the white
// card, not the call page's light text.
func TestReceptionPickerReadable(t *testing.T) {
	srv, _ := officeFake(t, map[string]any{
		"GET /api/v1/sessions": map[string]any{"sessions": []any{map[string]any{"id": 1, "title": "副市长视频接访", "start": "2026-12-02T01:00:00Z",
			"end": "2026-12-02T03:00:00Z", "leader_name": "王五一", "leader_post": "副市长", "hall_ids": []int{7}, "unit_ids": []int{}}}},
		"GET /api/v1/halls": map[string]any{"halls": []any{map[string]any{"id": 7, "unit_id": 5, "kind": "hall", "name": "清波街道接访大厅"}}},
		"GET /api/v1/units": map[string]any{"units": []any{}},
	})
	p := &tab{t: t, ctx: newBrowser(t), url: srv.URL}
	noHandlerErrors(t, collectConsole(p.ctx))
	p.do("open the picker", chromedp.Navigate(srv.URL+"/reception.html"))
	p.wait("the session line", `document.body.dataset.ready === "true" && document.querySelectorAll("#pick-list h2").length === 1`)
	for what, sel := range map[string]string{"heading": "#picker h1", "session line": "#pick-list h2", "hint": "#picker .muted"} {
		if r := eval[float64](t, p.ctx, textContrastJS+`(document.querySelector(`+jsString(sel)+`))`); r < 4.5 {
			t.Errorf("picker %s: contrast %.2f:1, want at least 4.5:1", what, r)
		}
	}
}

// TestReceptionQueryCode: at the hall, the query code fits its card on the terminals' screens
// (1280×720, 1366×768), stays through its hearing, and leaves with it.
func TestReceptionQueryCode(t *testing.T) {
	srv, conns := officeFake(t, nil)
	p := &tab{t: t, ctx: newBrowser(t), url: srv.URL}
	noHandlerErrors(t, collectConsole(p.ctx))
	p.do("a 1280×720 terminal", chromedp.EmulateViewport(1280, 720))
	c := joinSeat(t, p, conns, "hall")
	send(t, c, "call_state", "", callState("hall", "called", true, stageOf(1, false), nil, ""))
	p.wait("on stage", `document.body.dataset.seat === "hall" && !document.getElementById("notice-card").hidden`)
	// The widest letters of the alphabet (scheduler.queryAlphabet).
	const code = "WWWWMMMMWWWWMMMM"
	send(t, c, "call_notice", "", map[string]any{"kind": "query_code", "query_code": code,
		"message_zh": "已登记为信访事项，请将查询码交给信访人妥善保管：" + code, "message_en": "query code " + code})
	p.wait("the code", `!document.getElementById("code-card").hidden && document.getElementById("code-text").textContent === "`+code+`"`)
	fits := func(screen string) {
		t.Helper()
		got := p.text(`(() => {
			const out = [];
			for (const id of ["code-text", "code-card"]) {
				const e = document.getElementById(id);
				if (e.scrollWidth > e.clientWidth) out.push(id + " scrollWidth " + e.scrollWidth + " > clientWidth " + e.clientWidth);
			}
			const r = document.getElementById("code-text").getBoundingClientRect();
			if (r.right > innerWidth) out.push("the code ends at " + r.right + " px, past the screen's " + innerWidth);
			return out.join("; ");
		})()`)
		if got != "" {
			t.Errorf("at %s: %s", screen, got)
		}
	}
	fits("1280×720")
	p.do("a 1366×768 terminal", chromedp.EmulateViewport(1366, 768))
	fits("1366×768")

	// The hearing goes on (acknowledged): the code stays.
	send(t, c, "call_state", "", callState("hall", "hearing", true, stageOf(1, true), nil, ""))
	p.wait("the record card", `!document.getElementById("record-card").hidden`)
	if got := p.text(`document.getElementById("code-card").hidden + "/" + document.getElementById("code-text").textContent`); got != "false/"+code {
		t.Errorf("during its hearing the code card is hidden/text %q", got)
	}
	// The hearing ends; the hall waits for its next petitioner: the code is gone.
	send(t, c, "call_state", "", callState("hall", "idle", false, nil, []any{map[string]any{"appointment_id": 2, "hall_id": 7,
		"hall_name": "清波街道接访大厅", "queue_no": 2, "position": 1, "status": "booked", "name": "钱*", "people": 1}}, "2026-12-02T02:00:00Z"))
	p.wait("the waiting screen", `!document.getElementById("waiting-screen").hidden`)
	if got := p.text(`document.getElementById("code-card").hidden + "/" + document.getElementById("code-text").textContent`); got != "true/" {
		t.Errorf("after its hearing the code card is hidden/text %q, want true/ (off screen)", got)
	}
	// A code that came with another hearing leaves when the next one is on stage.
	send(t, c, "call_state", "", callState("hall", "called", true, stageOf(2, false), nil, ""))
	send(t, c, "call_notice", "", map[string]any{"kind": "query_code", "query_code": "23456789ABCDEFGH", "message_zh": "", "message_en": ""})
	p.wait("the second code", `!document.getElementById("code-card").hidden`)
	send(t, c, "call_state", "", callState("hall", "called", true, stageOf(3, false), nil, ""))
	p.wait("the second code gone with its hearing", `document.getElementById("code-card").hidden && document.getElementById("code-text").textContent === ""`)
}

// TestReceptionRecordingBadge: the red "recording" status is for the seats on stage while the
// hearing is recorded; a waiting hall sees that it waits, an observer that a hearing is on.
func TestReceptionRecordingBadge(t *testing.T) {
	srv, conns := officeFake(t, nil)
	p := &tab{t: t, ctx: newBrowser(t), url: srv.URL}
	noHandlerErrors(t, collectConsole(p.ctx))
	c := joinSeat(t, p, conns, "hall")
	phase := `document.getElementById("phase").dataset.phase + "|" + document.getElementById("phase").textContent`
	step := func(what string, st map[string]any, want string) {
		t.Helper()
		send(t, c, "call_state", "", st)
		p.wait(what, phase+` === `+jsString(want))
	}
	queue := []any{map[string]any{"appointment_id": 2, "hall_id": 7, "hall_name": "清波街道接访大厅", "queue_no": 2, "position": 2,
		"status": "booked", "name": "钱*", "people": 1}}

	// Another hall's petitioner is heard and recorded; this hall waits (the server sends it no stage).
	step("a waiting hall", callState("hall", "hearing", false, nil, queue, "2026-12-02T02:00:00Z"), "waiting|候访中")
	if bg := p.text(`getComputedStyle(document.getElementById("phase")).backgroundColor`); bg == "rgb(138, 28, 28)" {
		t.Errorf("the waiting hall's status is red (%s)", bg)
	}
	p.do("switch to English", chromedp.Click(chromedp.CSS(`#lang button[data-lang="en"]`)))
	p.wait("waiting in English", phase+` === "waiting|Waiting"`)
	p.do("switch back to Chinese", chromedp.Click(chromedp.CSS(`#lang button[data-lang="zh"]`)))
	step("a waiting hall between hearings", callState("hall", "idle", false, nil, queue, "2026-12-02T02:00:00Z"), "waiting|候访中")

	// This hall's petitioner is called, then heard on the record.
	step("called to the stage", callState("hall", "called", true, stageOf(2, false), nil, ""), "called|已叫号，待告知录像")
	step("heard and recorded", callState("hall", "hearing", true, stageOf(2, true), nil, ""), "hearing|接访中 · 录像")
	if bg := p.text(`getComputedStyle(document.getElementById("phase")).backgroundColor`); bg != "rgb(138, 28, 28)" {
		t.Errorf("the recorded hall's status is %s, want the red badge", bg)
	}

	// An observer watches the hearing but is neither heard nor recorded.
	step("an observer", callState("observer", "hearing", false, stageOf(2, true), nil, ""), "elsewhere|接访进行中")
}

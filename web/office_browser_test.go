package web

import (
	"io/fs"
	"net/http"
	"net/http/httptest"
	"path"
	"regexp"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/gorilla/websocket"
)

// These tests check the pages as a petition office meets them (issue 15), against a scripted API
// and signaling socket.

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
		"GET /api/v1/sessions/1/seats": map[string]any{"session_id": 1, "seats": []any{map[string]any{"seat": "hall", "hall_id": 7,
			"name": "清波街道接访大厅", "role": "hall_operator"}}},
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

// TestReceptionHallAnnouncesCall: when the hall's petitioner is called, the hall's screen flashes,
// its live region reads "请 N 号到接访室" and the browser says it in Chinese, once per call.
func TestReceptionHallAnnouncesCall(t *testing.T) {
	srv, conns := officeFake(t, nil)
	p := &tab{t: t, ctx: newBrowser(t), url: srv.URL}
	noHandlerErrors(t, collectConsole(p.ctx))
	// A speech stub that records what the page says, before the page's scripts run.
	if _, err := chromedp.Call(p.ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: `
		window.spoken = [];
		window.SpeechSynthesisUtterance = function (text) { this.text = text; this.lang = ""; };
		Object.defineProperty(window, "speechSynthesis", { value: { speak: (u) => window.spoken.push(u.lang + "|" + u.text) } });
	`}); err != nil {
		t.Fatal(err)
	}
	c := joinSeat(t, p, conns, "hall")
	item := func(status string) []any {
		return []any{map[string]any{"appointment_id": 2, "hall_id": 7, "hall_name": "清波街道接访大厅", "queue_no": 12, "position": 1,
			"status": status, "name": "钱*", "people": 1}}
	}
	live := `document.querySelector("#call-announce[role=status], #call-announce[aria-live]")`
	send(t, c, "call_state", "", callState("hall", "idle", false, nil, item("booked"), "2026-12-02T02:00:00Z"))
	p.wait("the waiting screen", `!document.getElementById("waiting-screen").hidden`)
	if got := p.text(live + `.textContent + "|" + window.spoken.length`); got != "|0" {
		t.Fatalf("before the call the hall announces %q", got)
	}

	// Called: the hall's queue shows its petitioner on stage.
	send(t, c, "call_state", "", callState("hall", "called", true, stageOf(2, false), item("on_stage"), ""))
	p.wait("the announcement", live+`.textContent === "请 12 号到接访室"`)
	if got := p.text(`window.spoken.join(",")`); got != "zh-CN|请 12 号到接访室" {
		t.Errorf("spoken %q, want once zh-CN|请 12 号到接访室", got)
	}
	if got := p.text(`document.getElementById("call-announce").className + "|" + getComputedStyle(document.getElementById("call-announce")).animationName`); got != "rc-announce flash|rc-flash" {
		t.Errorf("the announcement's class|animation is %q, want a flash", got)
	}
	// The same call again, then the hearing: said once only.
	send(t, c, "call_state", "", callState("hall", "called", true, stageOf(2, false), item("on_stage"), ""))
	send(t, c, "call_state", "", callState("hall", "hearing", true, stageOf(2, true), item("on_stage"), ""))
	p.wait("the record card", `!document.getElementById("record-card").hidden`)
	if got := p.text(`String(window.spoken.length)`); got != "1" {
		t.Errorf("after unchanged call states the call was spoken %s times, want 1", got)
	}
	p.do("switch to English", chromedp.Click(chromedp.CSS(`#lang button[data-lang="en"]`)))
	p.wait("the announcement in English", live+`.textContent === "Number 12, please come to the reception room"`)
	if got := p.text(`String(window.spoken.length)`); got != "1" {
		t.Errorf("a language switch spoke the call again (%s)", got)
	}

	// Without motion: no animation, still shown.
	if _, err := chromedp.Call(p.ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
		Features: []*emulation.MediaFeature{{Name: "prefers-reduced-motion", Value: "reduce"}}}); err != nil {
		t.Fatal(err)
	}
	if got := p.text(`getComputedStyle(document.getElementById("call-announce")).animationName`); got != "none" {
		t.Errorf("with reduced motion the announcement animates (%s)", got)
	}
	// The hearing ends: the announcement leaves the screen.
	send(t, c, "call_state", "", callState("hall", "idle", false, nil, nil, ""))
	p.wait("the announcement gone", live+`.textContent === ""`)
}

// TestTimesInOfficeZone: in a browser set to New York and en-US, every time the pages print is
// Beijing's, 24-hour, without seconds.
func TestTimesInOfficeZone(t *testing.T) {
	// 11:45:30 and 14:05:30 in Beijing: 10:45 PM and 1:05 AM in New York.
	const morning, afternoon = "2026-12-02T03:45:30Z", "2026-12-02T06:05:30Z"
	session := map[string]any{"id": 1, "title": "副市长视频接访", "start": morning, "end": afternoon, "leader_name": "王五一",
		"leader_post": "副市长", "hall_ids": []int{7}, "unit_ids": []int{}, "place": "市领导接访室", "halls": []string{"清波街道接访大厅"},
		"portfolio": "住房保障"}
	srv, conns := officeFake(t, map[string]any{
		"GET /api/v1/public/sessions":  map[string]any{"sessions": []any{session}},
		"GET /api/v1/sessions":         map[string]any{"sessions": []any{session}},
		"GET /api/v1/halls":            map[string]any{"halls": []any{map[string]any{"id": 7, "unit_id": 5, "kind": "hall", "name": "清波街道接访大厅"}}},
		"GET /api/v1/units":            map[string]any{"units": []any{}},
		"GET /api/v1/sessions/1/seats": map[string]any{"session_id": 1, "seats": []any{map[string]any{"seat": "observer", "role": "observer"}}},
	})
	p := &tab{t: t, ctx: newBrowser(t), url: srv.URL}
	noHandlerErrors(t, collectConsole(p.ctx))
	if _, err := chromedp.Call(p.ctx, emulation.SetTimezoneOverride, emulation.SetTimezoneOverrideParams{TimezoneID: "America/New_York"}); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(p.ctx, emulation.SetLocaleOverride, emulation.SetLocaleOverrideParams{Locale: "en_US"}); err != nil {
		t.Fatal(err)
	}
	wrong := regexp.MustCompile(`(?i)\d\s*[AP]M\b|\d{1,2}:\d{2}:\d{2}|上午|下午`)
	check := func(where, text string, wants ...string) {
		t.Helper()
		for _, w := range wants {
			if !strings.Contains(text, w) {
				t.Errorf("%s: %q lacks %q", where, text, w)
			}
		}
		if m := wrong.FindString(text); m != "" {
			t.Errorf("%s: %q prints %q (12-hour, seconds or the browser's clock)", where, text, m)
		}
	}

	p.do("open the public page", chromedp.Navigate(srv.URL+"/public.html"))
	p.wait("the public row", `document.querySelectorAll("#pub-rows tr").length === 1`)
	if got := p.text(`Intl.DateTimeFormat().resolvedOptions().timeZone + " " + new Date(` + jsString(morning) + `).toLocaleTimeString()`); got != "America/New_York 10:45:30 PM" {
		t.Fatalf("the browser is not in New York and en-US: %q", got)
	}
	check("public page", p.text(`document.getElementById("pub-rows").textContent`), "2026-12-02 11:45–14:05")

	p.do("open the picker", chromedp.Navigate(srv.URL+"/reception.html"))
	p.wait("the session line", `document.querySelectorAll("#pick-list h2").length === 1`)
	check("picker", p.text(`document.querySelector("#pick-list h2").textContent`), "11:45 副市长视频接访")

	c := joinSeat(t, p, conns, "hall")
	item := func(id, no int, status, eta string) map[string]any {
		return map[string]any{"appointment_id": id, "hall_id": 7, "hall_name": "清波街道接访大厅", "queue_no": no, "position": no,
			"status": status, "name": "钱*", "people": 1, "eta": eta}
	}
	send(t, c, "call_state", "", callState("hall", "idle", false, nil, []any{item(2, 2, "booked", afternoon)}, afternoon))
	p.wait("the waiting screen", `!document.getElementById("waiting-screen").hidden && document.getElementById("wait-eta").textContent !== ""`)
	check("waiting screen", p.text(`document.getElementById("wait-eta").textContent`), "预计 14:05 开始")

	// The studio's queue and the case panel's timeline.
	send(t, c, "call_state", "", callState("studio", "idle", true, nil, []any{item(2, 1, "booked", morning), item(3, 2, "checked_in", afternoon)}, ""))
	p.wait("the queue", `document.querySelectorAll("#queue li").length === 2`)
	check("queue", p.text(`document.getElementById("queue").textContent`), "11:45", "14:05")
	send(t, c, "case_panel", "", map[string]any{"case_id": 5, "panel": map[string]any{
		"case":        map[string]any{"id": 5, "number": "330102-2026-V-000005", "title": "欠薪", "view": "full", "petitioners": []any{}},
		"timeline":    []any{map[string]any{"at": afternoon, "actor": "intake", "from": "", "to": "registered", "reason": "登记"}},
		"assignments": []any{},
	}})
	p.wait("the timeline", `document.querySelectorAll(".rc-timeline li").length === 1`)
	check("case timeline", p.text(`document.querySelector(".rc-timeline li").textContent`), "2026-12-02 14:05 intake")
}

// cjkStack is the Chinese font stack every element must use, in this order.
var cjkStack = []string{"Noto Sans CJK SC", "Source Han Sans SC", "PingFang SC", "Microsoft YaHei"}

// TestChineseFontStack: every element of every page, form controls included, draws Chinese with
// the Chinese faces: it starts with a Noto CJK face and holds the whole stack.
func TestChineseFontStack(t *testing.T) {
	pages, err := fs.Glob(static, "static/*.html")
	if err != nil || len(pages) == 0 {
		t.Fatalf("pages: %v %v", pages, err)
	}
	srv, _ := officeFake(t, nil)
	p := &tab{t: t, ctx: newBrowser(t), url: srv.URL}
	stack := `["` + strings.Join(cjkStack, `", "`) + `"]`
	for _, page := range pages {
		name := path.Base(page)
		p.do("open "+name, chromedp.Navigate(srv.URL+"/"+name))
		p.wait(name, `document.readyState === "complete"`)
		got := p.text(`(() => {
			const stack = ` + stack + `;
			const bad = new Map();
			for (const e of document.querySelectorAll("body, body *")) {
				const fams = getComputedStyle(e).fontFamily.split(",").map((f) => f.trim().replace(/^["']|["']$/g, ""));
				const at = fams.indexOf(stack[0]);
				const ok = /^Noto Sans (Mono )?CJK SC$/.test(fams[0]) && at >= 0 && stack.every((f, i) => fams[at + i] === f);
				if (!ok) bad.set(e.tagName.toLowerCase() + (e.id ? "#" + e.id : ""), getComputedStyle(e).fontFamily);
			}
			return [...bad].slice(0, 5).map(([k, v]) => k + ": " + v).join("; ") + (bad.size > 5 ? " … (" + bad.size + ")" : "");
		})()`)
		if got != "" {
			t.Errorf("%s: %s", name, got)
		}
	}
	// The stack is what the pages ask for; whether the machine has the faces is .ci/run's business.
	t.Logf("checked %d pages", len(pages))
}

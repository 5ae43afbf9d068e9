package web

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
)

// These tests check the hall terminal as a room screen and the hall operator's queue page.

// TestHallRoomScreen: the hall's pictures are captioned by place and masked petitioner; the
// operator's controls open only from a held button; a query code never reaches the screen; the
// expected time moves on when the hearing on stage runs over.
func TestHallRoomScreen(t *testing.T) {
	srv, conns := officeFake(t, nil)
	p := &tab{t: t, ctx: newBrowser(t), url: srv.URL}
	noHandlerErrors(t, collectConsole(p.ctx))
	p.do("a 1280×720 terminal", chromedp.EmulateViewport(1280, 720))
	c := joinSeat(t, p, conns, "hall")
	tiles := []any{
		map[string]any{"participant_id": "hall-7", "place": "清波街道接访大厅", "person": "赵*"},
		map[string]any{"participant_id": "studio-1", "place": "市领导视频接访室", "person": "王五一"},
	}
	st := callState("hall", "called", true, stageOf(1, false), nil, "")
	st["tiles"] = tiles
	send(t, c, "call_state", "", st)
	p.wait("the hall's own caption", `document.querySelector("#self-tile .name").textContent === "清波街道接访大厅 · 赵*"`)
	if got := p.text(`document.body.innerText.includes("接访员") ? "operator named" : ""`); got != "" {
		t.Errorf("the room screen names the operator logged in")
	}

	// The operator's controls are not on the screen's face; a tap on the menu's button opens nothing.
	visible := func(id string) bool {
		return eval[bool](t, p.ctx, `document.getElementById(`+jsString(id)+`).checkVisibility()`)
	}
	for _, id := range []string{"btn-leave", "btn-hand", "btn-mic", "btn-cam"} {
		if visible(id) {
			t.Errorf("%s is on the room screen's face", id)
		}
	}
	if !visible("btn-operator") {
		t.Fatal("no operator menu button")
	}
	p.do("tap the menu button", chromedp.Click(chromedp.ID("btn-operator")))
	if got := p.text(`String(document.getElementById("operator-menu").open) + "|" + document.getElementById("btn-operator").className`); got != "false|btn rc-operator" {
		t.Errorf("after a tap the menu|button is %q, want closed and not holding", got)
	}
	// Held: the menu opens with the operator's controls.
	x := eval[float64](t, p.ctx, `(r => r.x + r.width / 2)(document.getElementById("btn-operator").getBoundingClientRect())`)
	y := eval[float64](t, p.ctx, `(r => r.y + r.height / 2)(document.getElementById("btn-operator").getBoundingClientRect())`)
	p.do("press the menu button", chromedp.MouseEvent(chromedp.MousePressed, x, y, chromedp.ButtonLeft, chromedp.ClickCount(1)))
	p.wait("the menu opens while held", `document.getElementById("operator-menu").open`)
	p.do("release", chromedp.MouseEvent(chromedp.MouseReleased, x, y, chromedp.ButtonLeft, chromedp.ClickCount(1)))
	for _, id := range []string{"btn-leave", "btn-hand"} {
		if !visible(id) {
			t.Errorf("%s is not in the open menu", id)
		}
	}
	p.do("close the menu", chromedp.Click(chromedp.ID("btn-operator-close")))
	p.wait("the menu closed", `!document.getElementById("operator-menu").open && !document.getElementById("btn-leave").checkVisibility()`)

	// A query code sent the old way is never drawn.
	const code = "WWWWMMMMWWWWMMMM"
	send(t, c, "call_notice", "", map[string]any{"kind": "query_code", "query_code": code, "message_zh": "查询码：" + code, "message_en": code})
	st = callState("hall", "hearing", true, stageOf(1, true), nil, "")
	st["tiles"] = tiles
	send(t, c, "call_state", "", st)
	p.wait("the record card", `!document.getElementById("record-card").hidden`)
	if got := p.text(`document.body.innerText.includes("` + code + `") || document.body.innerText.includes("WWWW") ? "shown" : ""`); got != "" {
		t.Error("the room screen shows a query code")
	}

	// Waiting: the hearing on stage ran past the estimate — two petitioners ahead... the next in
	// ten minutes at a pace of ten; an estimate still ahead is shown as it is.
	waitingState := func(eta string, pace int) map[string]any {
		st := callState("hall", "hearing", false, nil, []any{map[string]any{"appointment_id": 2, "hall_id": 7,
			"hall_name": "清波街道接访大厅", "queue_no": 2, "position": 2, "status": "booked", "name": "钱*", "people": 1}}, eta)
		st["me"].(map[string]any)["pace"] = pace
		st["tiles"] = tiles[:1]
		return st
	}
	send(t, c, "call_state", "", waitingState("2020-01-01T01:00:00Z", 600))
	p.wait("the waiting screen", `!document.getElementById("waiting-screen").hidden`)
	expect := `import("/js/time.js").then(m => [0, 60000].map(d => "预计 " + m.time(Date.now() + 600000 - d) + " 开始"))`
	p.wait("the estimate follows the overrun", expect+`.then(w => w.includes(document.getElementById("wait-eta").textContent))`)
	send(t, c, "call_state", "", waitingState("2099-12-02T06:05:00Z", 600))
	p.wait("an estimate ahead stands", `document.getElementById("wait-eta").textContent === "预计 14:05 开始"`)
	if got := p.text(`document.getElementById("phase").dataset.phase`); got != "waiting" {
		t.Errorf("the waiting hall's badge is %q, want waiting", got)
	}
}

// queueFake serves queue.html against a scripted API: the leader-like directory (a studio, an
// empty hall first, then the hall where petitioners wait) and the hall's query codes, which the
// test changes.
type queueFake struct {
	mu    sync.Mutex
	codes []any
}

func (f *queueFake) setCodes(c []any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.codes = c
}

func startQueueFake(t *testing.T, f *queueFake) *httptest.Server {
	t.Helper()
	now := time.Now()
	session := map[string]any{"id": 1, "title": "副市长视频接访", "start": now.Add(-time.Hour).UTC().Format(time.RFC3339),
		"end": now.Add(2 * time.Hour).UTC().Format(time.RFC3339), "studio_id": 6, "hall_ids": []int{8, 7}, "unit_ids": []int{}}
	heard := now.Add(-10 * time.Minute).UTC().Format(time.RFC3339)
	row := func(id, no int, status string, extra map[string]any) map[string]any {
		r := map[string]any{"id": id, "session_id": 1, "hall_id": 7, "name": "王*", "matter": "欠薪", "people": 1, "walk_in": false,
			"queue_no": no, "position": no, "status": status, "masked": true}
		for k, v := range extra {
			r[k] = v
		}
		return r
	}
	hallA := []any{
		row(11, 1, "done", map[string]any{"heard_at": heard, "ended_at": heard}),
		row(12, 2, "checked_in", map[string]any{"heard_at": heard}),
		row(13, 3, "booked", nil),
		row(14, 4, "no_show", nil),
		row(15, 5, "cancelled", nil),
	}
	mux := http.NewServeMux()
	mux.Handle("/", Handler())
	mux.HandleFunc("GET /api/v1/me", func(w http.ResponseWriter, r *http.Request) {
		replyJSON(w, http.StatusOK, map[string]any{"user": map[string]any{"id": 3, "username": "op", "display_name": "接访员", "unit_id": 5},
			"grants": []any{}, "can": []string{}, "csrf_token": "csrf"})
	})
	mux.HandleFunc("GET /api/v1/units", func(w http.ResponseWriter, r *http.Request) {
		replyJSON(w, http.StatusOK, map[string]any{"units": []any{}})
	})
	mux.HandleFunc("GET /api/v1/halls", func(w http.ResponseWriter, r *http.Request) {
		replyJSON(w, http.StatusOK, map[string]any{"halls": []any{
			map[string]any{"id": 6, "unit_id": 1, "kind": "studio", "name": "市领导视频接访室"},
			map[string]any{"id": 8, "unit_id": 5, "kind": "hall", "name": "湖滨街道接访室"},
			map[string]any{"id": 7, "unit_id": 5, "kind": "hall", "name": "清波街道接访室"},
		}})
	})
	mux.HandleFunc("GET /api/v1/sessions", func(w http.ResponseWriter, r *http.Request) {
		replyJSON(w, http.StatusOK, map[string]any{"sessions": []any{session}})
	})
	mux.HandleFunc("GET /api/v1/sessions/1/queue", func(w http.ResponseWriter, r *http.Request) {
		q := []any{}
		if r.URL.Query().Get("hall_id") == "7" {
			q = hallA
		}
		replyJSON(w, http.StatusOK, map[string]any{"session": session, "queue": q})
	})
	mux.HandleFunc("GET /api/v1/sessions/1/query-codes", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		c := []any{}
		if r.URL.Query().Get("hall_id") == "7" && f.codes != nil {
			c = f.codes
		}
		replyJSON(w, http.StatusOK, map[string]any{"codes": c})
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

// TestQueueQueryCodeAndSlip: the queue page opens on the hall where petitioners wait; a received
// row offers no check-in, no-show or cancel; the query code of the hearing under way shows beside
// its petitioner, prints as a slip alone on the page, and leaves with the hearing.
func TestQueueQueryCodeAndSlip(t *testing.T) {
	f := &queueFake{}
	const code = "ABCD2345EFGH6789"
	f.setCodes([]any{map[string]any{"appointment_id": 12, "case_number": "330102-2026-V-000012", "query_code": code,
		"issued_at": time.Now().Add(-10 * time.Minute).UTC().Format(time.RFC3339)}})
	srv := startQueueFake(t, f)
	p := &tab{t: t, ctx: newBrowser(t), url: srv.URL}
	noHandlerErrors(t, collectConsole(p.ctx))
	p.open("queue.html", "sanjiQueue")
	p.wait("the queue", `document.querySelectorAll("#queue-list tr[data-id]").length === 5`)
	if got := p.text(`document.getElementById("q-hall").value`); got != "7" {
		t.Errorf("the page opened on hall %s, want 7 (where petitioners wait)", got)
	}

	actions := func(id string) string {
		return p.text(`[...document.querySelectorAll('tr[data-id="` + id + `"] button[data-status]')].map(b => b.dataset.status).join(",")`)
	}
	for id, want := range map[string]string{"11": "", "12": "", "13": "checked_in,no_show,done,cancelled", "14": "", "15": ""} {
		if got := actions(id); got != want {
			t.Errorf("row %s offers %q, want %q", id, got, want)
		}
	}
	if got := p.text(`document.querySelector('tr[data-id="12"]').textContent`); !strings.Contains(got, "正在接访") {
		t.Errorf("the row being heard reads %q", got)
	}

	// The code beside the petitioner heard, in groups of four; nowhere else.
	if got := p.text(`document.querySelector('tr[data-id="12"] .qcode-code').textContent`); got != code {
		t.Errorf("code beside the petitioner: %q", got)
	}
	if n := p.text(`String(document.querySelectorAll(".qcode").length)`); n != "1" {
		t.Errorf("%s codes on the page, want 1", n)
	}

	// The slip: printed alone.
	p.js(`window.printed = 0; window.print = () => { window.printed++; }`)
	p.do("print the slip", chromedp.Click(chromedp.CSS(`tr[data-id="12"] button[data-print]`)))
	p.wait("printed", `window.printed === 1`)
	if _, err := chromedp.Call(p.ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{Media: "print"}); err != nil {
		t.Fatal(err)
	}
	got := p.text(`[document.getElementById("slip").checkVisibility(), document.getElementById("queue-list").checkVisibility(),
		document.querySelector("header").checkVisibility(), document.getElementById("slip").innerText].join("|")`)
	if !strings.HasPrefix(got, "true|false|false|") || !strings.Contains(got, "ABCD 2345 EFGH 6789") && !strings.Contains(got, "ABCD2345EFGH6789") ||
		!strings.Contains(got, "330102-2026-V-000012") || !strings.Contains(got, "/query.html") {
		t.Errorf("printed page (slip|queue|header|slip text): %q", got)
	}
	if _, err := chromedp.Call(p.ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{Media: ""}); err != nil {
		t.Fatal(err)
	}
	if p.text(`String(document.getElementById("slip").checkVisibility())`) != "false" {
		t.Error("the slip shows on the screen")
	}

	// The hearing ends: the code and the slip leave within a poll.
	f.setCodes(nil)
	p.wait("the code gone", `document.querySelectorAll(".qcode").length === 0 && document.getElementById("slip").hidden && document.getElementById("slip-code").textContent === ""`)
}

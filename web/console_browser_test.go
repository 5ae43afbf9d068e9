package web

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestReceptionConsole: the leader's console against a scripted call. Units are offered by name
// and staged by id; every disabled button says why (on its title and under its row), from the
// catalog; the case panel shows the petitioner's earlier cases with the repeat flag.
func TestReceptionConsole(t *testing.T) {
	srv, conns := officeFake(t, nil)
	p := &tab{t: t, ctx: newBrowser(t), url: srv.URL}
	noHandlerErrors(t, collectConsole(p.ctx))
	c := joinSeat(t, p, conns, "studio")
	units := []any{map[string]any{"id": 41, "name": "上城区人力资源和社会保障局"}, map[string]any{"id": 42, "name": "杭州市住房和城乡建设局"}}
	queue := []any{map[string]any{"appointment_id": 2, "hall_id": 7, "hall_name": "清波街道接访大厅", "queue_no": 1, "position": 1,
		"status": "booked", "name": "王*", "people": 1}}
	studio := func(phase string, stage map[string]any, q []any) map[string]any {
		st := callState("studio", phase, true, stage, q, "")
		st["units"], st["hands"], st["held"] = units, []any{}, []any{}
		return st
	}
	why := func(id string) string {
		return p.text(`(document.getElementById("` + id + `").disabled ? "disabled: " : "enabled: ") + (document.getElementById("` + id + `").title || "")`)
	}

	// Idle, nobody waiting: next waits for a petitioner; the hearing's buttons for a call.
	send(t, c, "call_state", "", studio("idle", nil, nil))
	p.wait("the console", `!document.getElementById("controls-card").hidden`)
	for id, want := range map[string]string{
		"btn-next": "disabled: 候访队列中没有等待的信访人。", "btn-end": "disabled: 尚未叫号：请先叫下一位信访人。",
		"btn-unit-add": "disabled: 尚未叫号：请先叫下一位信访人。", "btn-assign": "disabled: 尚未叫号：请先叫下一位信访人。",
		"btn-broadcast": "enabled: ",
	} {
		if got := why(id); got != want {
			t.Errorf("idle %s: %q, want %q", id, got, want)
		}
	}
	if got := p.text(`document.getElementById("why-end").textContent`); got != "尚未叫号：请先叫下一位信访人。" {
		t.Errorf("the visible hint under end: %q", got)
	}
	send(t, c, "call_state", "", studio("idle", nil, queue))
	p.wait("next enabled", `!document.getElementById("btn-next").disabled && document.getElementById("why-host").hidden`)

	// Called, the hall has not acknowledged: end waits for it; the units are offered by name.
	stage := stageOf(2, false)
	stage["case_id"], stage["case_number"] = 9, "330102-2026-V-000009"
	queue[0].(map[string]any)["status"] = "on_stage"
	send(t, c, "call_state", "", studio("called", stage, queue))
	p.wait("the end button waits", `document.getElementById("btn-end").dataset.why === "rc.why.not_acknowledged"`)
	if got := why("btn-end"); !strings.Contains(got, "接访大厅尚未确认录音录像告知") {
		t.Errorf("end before the acknowledgement: %q", got)
	}
	if got := why("btn-next"); !strings.Contains(got, "正在接访中") {
		t.Errorf("next during a hearing: %q", got)
	}
	if got := why("btn-broadcast"); !strings.Contains(got, "候访大厅不得听到他人的接访") {
		t.Errorf("broadcast during a hearing: %q", got)
	}
	if got := why("btn-assign"); !strings.Contains(got, "请先请责任单位上台") {
		t.Errorf("assign with no unit on stage: %q", got)
	}
	if got := p.text(`[...document.getElementById("unit-pick").options].map((o) => o.value + "=" + o.textContent).join(",")`); got != "41=上城区人力资源和社会保障局,42=杭州市住房和城乡建设局" {
		t.Errorf("units offered: %q", got)
	}
	if eval[bool](t, p.ctx, `!!document.getElementById("unit-id")`) {
		t.Error("the console still asks for a unit's internal id")
	}
	p.js(`document.getElementById("unit-pick").value = "42"`)
	p.do("bring the unit on stage", chromedp.Click(chromedp.ID("btn-unit-add")))
	m := expectPast(t, c, "stage_unit", "publish_offer")
	var body struct {
		UnitID int64 `json:"unit_id"`
		On     bool  `json:"on"`
	}
	if err := json.Unmarshal(m.Data, &body); err != nil || body.UnitID != 42 || !body.On {
		t.Errorf("stage_unit %s", m.Data)
	}
	send(t, c, "ok", m.ID, map[string]any{})

	// On stage, acknowledged: the unit leaves the offer and is on the slip; end is enabled.
	stage = stageOf(2, true)
	stage["case_id"], stage["case_number"] = 9, "330102-2026-V-000009"
	stage["units"] = []any{units[1]}
	send(t, c, "call_state", "", studio("hearing", stage, queue))
	p.wait("end enabled", `!document.getElementById("btn-end").disabled && !document.getElementById("btn-assign").disabled`)
	if got := p.text(`[...document.getElementById("unit-pick").options].map((o) => o.value).join(",")`); got != "41" {
		t.Errorf("units offered with 42 on stage: %q", got)
	}
	if got := why("btn-noshow"); !strings.Contains(got, "不能再标记未到场") {
		t.Errorf("no-show once the hearing started: %q", got)
	}

	// The case panel: the petitioner's earlier cases, the repeat flag, their outcomes.
	send(t, c, "case_panel", "", map[string]any{"case_id": 9, "panel": map[string]any{
		"case":     map[string]any{"id": 9, "number": "330102-2026-V-000009", "title": "欠薪", "view": "masked", "petitioners": []any{}},
		"timeline": []any{}, "assignments": []any{}, "consultations": []any{}, "earlier": []any{},
		"history": map[string]any{"repeat": true, "cases": []any{
			map[string]any{"case_id": 3, "number": "330102-2025-F-000003", "registered_at": "2025-05-06T02:00:00Z", "status": "closed",
				"result": "support", "closed_at": "2025-06-06T02:00:00Z", "same_matter": true, "title": "拖欠工资", "view": "masked"},
			map[string]any{"case_id": 4, "number": "330102-2025-F-000004", "registered_at": "2025-07-06T02:00:00Z", "status": "registered",
				"same_matter": false, "view": "redacted"},
		}}}})
	p.wait("the history", `!!document.querySelector("#panel-history li[data-case='4']")`)
	if got := p.text(`document.querySelector("#panel-history .rc-repeat").textContent`); !strings.Contains(got, "重复信访") {
		t.Errorf("repeat flag: %q", got)
	}
	if got := p.text(`document.querySelector("#panel-history li[data-case='3']").textContent`); got != "2025-05-06 · 330102-2025-F-000003 · 拖欠工资 · 已办结 · 结果：支持 · 同一事项" {
		t.Errorf("earlier same matter: %q", got)
	}
	if got := p.text(`document.querySelector("#panel-history li[data-case='4']").textContent`); strings.Contains(got, "undefined") || !strings.HasPrefix(got, "2025-07-06 · 330102-2025-F-000004 · ") {
		t.Errorf("earlier redacted case: %q", got)
	}
	p.do("switch to English", chromedp.Click(chromedp.CSS(`#lang button[data-lang="en"]`)))
	p.wait("the history in English", `document.querySelector("#panel-history .rc-repeat").textContent.startsWith("Repeat petition")`)
	if got := why("btn-noshow"); !strings.Contains(got, "no longer a no-show") {
		t.Errorf("no-show reason in English: %q", got)
	}
}

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"sanji/web/browsertest"
)

// dashboardFigures is what the dashboard shows: the number of cases and each rate's parts.
type dashboardFigures struct {
	Cases  int               `json:"cases"`
	Rates  map[string][2]int `json:"rates"`
	Partly int               `json:"partly"` // cases closed partly resolved
	// Cell is the count of the data table's row for this month, 上城区 and 劳动和社会保障.
	Cell int `json:"cell"`
}

// TestE2ECaseLifecycle runs a case through its life in Chromium against the real app with the
// demo data, each person in their own browser with their own login: the city bureau's intake
// officer registers a claim (the page shows its query code once) and assigns it to the city's
// 住建局; that unit objects; the case goes back to the bureau, which assigns it to 上城区人社局;
// the handler accepts and starts, the unit head approves an extension with the notice to the
// petitioner, the handler answers and closes; the petitioner, with the query code and no login,
// sees the milestones and rates acceptance and result. The leader's dashboard counts the case,
// its timely acceptance, its on-time answer and the rating. Dates are not checked: today's
// deadlines may reach a year the calendar lacks.
func TestE2ECaseLifecycle(t *testing.T) {
	chromium := browsertest.Path(t)
	cfg := testConfig(t)
	cfg.Demo = true
	a := startTestApp(t, cfg)
	passwords := map[string]string{}
	for _, l := range a.logins {
		passwords[l.Username] = l.Password
	}
	zjj, rsj := e2eUnitID(t, a, "330100-ZJJ"), e2eUnitID(t, a, "330102-RSJ")
	pg := newCasePages(t, a, e2eBrowser(t, chromium), passwords)
	tab, do, js, text, choose, login, openCase, step := pg.tab, pg.do, pg.js, pg.text, pg.choose, pg.login, pg.openCase, pg.step
	figures := func(p context.Context) dashboardFigures {
		t.Helper()
		month, err := chromedp.Run(p, chromedp.Evaluate[string](`document.getElementById("f-to").value`))
		if err != nil {
			t.Fatal(err)
		}
		raw, err := chromedp.Run(p, chromedp.Evaluate[string](`JSON.stringify({
			cases: Number(document.getElementById("db-cases").dataset.count),
			rates: Object.fromEntries([...document.querySelectorAll(".db-rate")].map((e) => [e.id, [Number(e.dataset.num), Number(e.dataset.den)]])),
			partly: Number(document.getElementById("outcome-partly").textContent),
			cell: [...document.querySelectorAll("#db-rows tr")].map((tr) => [...tr.children].map((td) => td.textContent))
				.filter((r) => r[0] === "`+month+`" && r[1] === "上城区" && r[2] === "劳动和社会保障").reduce((a, r) => a + Number(r[3]), 0),
		})`))
		if err != nil {
			t.Fatal(err)
		}
		var f dashboardFigures
		if err := json.Unmarshal([]byte(raw), &f); err != nil {
			t.Fatalf("dashboard figures %s: %v", raw, err)
		}
		return f
	}

	// The leader's dashboard before.
	leader := login("demo-leader")
	do(leader, "open the dashboard", chromedp.Navigate(a.URL()+"/dashboard.html"))
	e2eWait(t, leader, "dashboard", `window.sanjiDashboard && window.sanjiDashboard.loads >= 1`)
	before := figures(leader)

	// The intake officer registers a claim: first without a category, in English — the server's
	// answer names the field in the page's language — then in full, in Chinese.
	intake := login("demo-intake")
	do(intake, "intake: open the cases page", chromedp.Navigate(a.URL()+"/cases.html"))
	e2eWait(t, intake, "intake: the register button", `!document.getElementById("new-case").hidden`)
	do(intake, "intake: English, open the form", chromedp.Click(chromedp.CSS(`#lang button[data-lang="en"]`)), chromedp.Click(chromedp.ID("new-case")))
	e2eWait(t, intake, "intake form", `!document.getElementById("intake").hidden && document.getElementById("i-category").options.length > 1`)
	do(intake, "intake: title only", chromedp.SendKeys(chromedp.ID("i-title"), "拖欠工资"), chromedp.Click(chromedp.ID("i-submit")))
	e2eWait(t, intake, "intake: the error in English", `!document.getElementById("i-error").hidden && document.getElementById("i-error").textContent.includes("category")`)
	if focused, _ := chromedp.Run(intake, chromedp.Evaluate[string](`document.activeElement.id`)); focused != "i-category" {
		t.Errorf("the field at fault is not focused: %q", focused)
	}
	do(intake, "intake: Chinese", chromedp.Click(chromedp.CSS(`#lang button[data-lang="zh"]`)))
	js(intake, "intake: choose 劳动和社会保障", `(() => { const s = document.getElementById("i-category");
		s.value = [...s.options].find((o) => o.textContent === "劳动和社会保障").value; })()`)
	js(intake, "intake: territory 上城区", `document.getElementById("i-territory").value = "330102"`)
	do(intake, "intake: the matter and the petitioner",
		chromedp.SendKeys(chromedp.ID("i-content"), "某装修公司拖欠工资三个月，多次讨要未果"),
		chromedp.SendKeys(chromedp.ID("i-name"), "李四"),
		chromedp.SendKeys(chromedp.ID("i-id"), "330102198505050015"),
		chromedp.SendKeys(chromedp.ID("i-phone"), "13900001111"),
		chromedp.Click(chromedp.ID("i-submit")))
	code := pg.registered(intake)
	if !strings.Contains(text(intake, "d-facts"), "已登记") {
		t.Errorf("new case: %s", text(intake, "d-facts"))
	}

	// Assigned to the city's 住建局 …
	assign := func(unit int64, req string) {
		t.Helper()
		choose(intake, "as-unit", fmt.Sprint(unit))
		do(intake, "intake: assign", chromedp.SendKeys(chromedp.ID("as-req"), req), chromedp.Click(chromedp.ID("as-submit")))
		e2eWait(t, intake, "intake: assigned", `!document.getElementById("d-ok").hidden && document.getElementById("d-facts").textContent.includes("已交办")`)
	}
	assign(zjj, "请核实是否涉及在建工程欠薪，十五日内反馈")

	// … which objects, within its 5 working days: first without a reason (refused, in Chinese).
	zj := login("demo-handler2")
	openCase(zj, "住建局", "已交办")
	e2eWait(t, zj, "住建局: the objection control", `!!document.querySelector("#d-assignments .obj-submit")`)
	do(zj, "住建局: object without a reason", chromedp.Click(chromedp.CSS("#d-assignments .obj-submit")))
	e2eWait(t, zj, "住建局: refused", `!document.getElementById("d-error").hidden && document.getElementById("d-error").textContent.includes("异议须写明理由")`)
	do(zj, "住建局: object", chromedp.SendKeys(chromedp.CSS("#d-assignments .obj-reason"), "用人单位为装修公司，非在建工程，不属于本局职责"),
		chromedp.Click(chromedp.CSS("#d-assignments .obj-submit")))
	e2eWait(t, zj, "住建局: returned", `!document.getElementById("d-ok").hidden && document.getElementById("d-facts").textContent.includes("异议退回")`)
	if hidden, _ := chromedp.Run(zj, chromedp.Evaluate[bool](`document.getElementById("assign-form").hidden`)); !hidden {
		t.Error("the objecting unit is offered to route the returned case itself")
	}

	// Back at the bureau, reassigned to 上城区人社局.
	openCase(intake, "intake", "异议退回")
	e2eWait(t, intake, "intake: the assignment form again", `!document.getElementById("assign-form").hidden`)
	assign(rsj, "请依法处理，十五日内反馈")
	if n, _ := chromedp.Run(intake, chromedp.Evaluate[int](`document.querySelectorAll("#d-assignments > li").length`)); n != 2 {
		t.Errorf("%d assignments, want 2", n)
	}

	// The handler accepts and starts; the unit head extends; the handler answers and closes.
	handler := login("demo-handler")
	openCase(handler, "handler", "已交办")
	pg.refused(handler, "handler", "accepted", "请先生成受理告知书") // until the notice is there
	pg.generate(handler, "handler", "accept_notice", "", "")
	step(handler, "handler", "accepted", "", "已受理")
	step(handler, "handler", "in_progress", "", "办理中")
	if ok, _ := chromedp.Run(handler, chromedp.Evaluate[bool](`[...document.getElementById("st-to").options].some((o) => o.value === "extended")`)); ok {
		t.Error("a case handler is offered to approve an extension")
	}
	head := login("demo-unithead")
	openCase(head, "unit head", "办理中")
	e2eWait(t, head, "unit head: step form", `!document.getElementById("step-form").hidden`)
	choose(head, "st-to", "extended")
	js(head, "unit head: 20 days", `document.getElementById("st-days").value = "20"`)
	do(head, "unit head: approve the extension",
		chromedp.SendKeys(chromedp.ID("st-notice"), "李四：您反映的欠薪问题需调取用人单位账目，办理期限延长二十日。"),
		chromedp.SendKeys(chromedp.ID("st-reason"), "需调取账目核实"),
		chromedp.Click(chromedp.ID("st-submit")))
	e2eWait(t, head, "unit head: extended", `!document.getElementById("d-ok").hidden && document.getElementById("d-facts").textContent.includes("已延期")`)
	if tl := text(head, "d-timeline"); !strings.Contains(tl, "+20") || !strings.Contains(tl, "办理期限延长二十日") {
		t.Errorf("the timeline lacks the extension's days: %s", tl)
	}
	openCase(handler, "handler", "已延期")
	pg.generate(handler, "handler", "answer", "", "经核查，用人单位拖欠工资属实，责令其十日内足额支付。")
	pg.answer(handler, "handler", "support", "责令用人单位支付拖欠工资")
	pg.generate(handler, "handler", "closure_report", "", "工资已足额支付，信访人签收处理意见书，无异议。")
	// Closing names how: partly resolved (办理结果), shown on the case.
	pg.close(handler, "handler", "partly", "工资已支付，信访人无异议", "部分解决")

	// The petitioner, with the query code and no login.
	pub := tab("petitioner")
	do(pub, "petitioner: the public page", chromedp.Navigate(a.URL()+"/public.html"))
	e2eWait(t, pub, "petitioner: the query link", `document.readyState === "complete" && !!document.getElementById("query-link")`)
	do(pub, "petitioner: follow the link", chromedp.Click(chromedp.ID("query-link")))
	e2eWait(t, pub, "petitioner: the query page", `location.pathname.endsWith("/query.html") && document.readyState === "complete"`)
	do(pub, "petitioner: look up", chromedp.SendKeys(chromedp.ID("q-code"), code), chromedp.Click(chromedp.ID("q-submit")))
	e2eWait(t, pub, "petitioner: the milestones", `!document.getElementById("q-result").hidden && document.querySelectorAll("#q-milestones li").length >= 8`)
	page := text(pub, "q-result")
	for _, want := range []string{"已登记", "已交办", "异议退回", "已受理", "已延期", "已答复", "已办结"} {
		if !strings.Contains(page, want) {
			t.Errorf("the milestones lack %s: %s", want, page)
		}
	}
	for _, never := range []string{"李四", "330102198505050015", "13900001111", "装修公司"} {
		if strings.Contains(page, never) {
			t.Errorf("the public page shows %q", never)
		}
	}
	for _, stage := range []string{"acceptance", "result"} {
		do(pub, "petitioner: rate "+stage, chromedp.Click(chromedp.CSS(`#q-stage-`+stage+` button[data-score="satisfied"]`)))
		e2eWait(t, pub, "petitioner: "+stage+" rated", `document.getElementById("q-stage-`+stage+`").dataset.rated === "true"`)
	}
	if s := text(pub, "q-status"); s != "已评价" {
		t.Errorf("status after the rating: %q", s)
	}

	// The dashboard counts the case, its timely acceptance, its answer in time and the rating.
	do(leader, "reload the dashboard", chromedp.Navigate(a.URL()+"/dashboard.html"))
	e2eWait(t, leader, "dashboard again", `window.sanjiDashboard && window.sanjiDashboard.loads >= 1`)
	after := figures(leader)
	t.Logf("dashboard before %+v, after %+v", before, after)
	if after.Cases != before.Cases+1 || after.Cell != before.Cell+1 {
		t.Errorf("cases %d → %d, this month's 上城区 劳动和社会保障 cell %d → %d", before.Cases, after.Cases, before.Cell, after.Cell)
	}
	if after.Partly != before.Partly+1 {
		t.Errorf("partly resolved: %d → %d", before.Partly, after.Partly)
	}
	for _, id := range []string{"rate-timely_routing", "rate-timely_acceptance", "rate-on_time_closure", "rate-satisfaction"} {
		b, f := before.Rates[id], after.Rates[id]
		if f[0] != b[0]+1 || f[1] != b[1]+1 {
			t.Errorf("%s: %v → %v, want one more of one more", id, b, f)
		}
	}
	if r := after.Rates["rate-repeat"]; r[1] != before.Rates["rate-repeat"][1]+1 {
		t.Errorf("repeat share's cases: %v → %v", before.Rates["rate-repeat"], r)
	}
}

package main

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"sanji/auth"
	"sanji/scheduler/org"
	"sanji/web/browsertest"
)

// e2eReviewer adds a user of role at the unit of code (the demo has none at a district's own
// level) and gives their password to passwords.
func e2eReviewer(t *testing.T, a *app, passwords map[string]string, username, role, code string) {
	t.Helper()
	ctx := context.Background()
	pw := "review-pw-" + username
	h, err := auth.HashPassword(pw)
	if err != nil {
		t.Fatal(err)
	}
	u := org.User{Kind: org.UserPerson, Username: username, DisplayName: username, UnitID: e2eUnitID(t, a, code), PasswordHash: h}
	if err := a.store.CreateUser(ctx, &u); err != nil {
		t.Fatal(err)
	}
	if err := a.store.AddGrant(ctx, &org.Grant{UserID: u.ID, Role: role, UnitID: u.UnitID}); err != nil {
		t.Fatal(err)
	}
	passwords[username] = pw
}

// TestE2EReviewAtTheHigherBody runs a matter through answer, service, rating, 复查 at the higher
// body and its 复查意见书 in Chromium: the city bureau registers a claim and assigns it to 上城区
// 人社局, which accepts it and answers with its 处理意见书, served in person; the petitioner rates
// the result on the query page before any close. The petitioner asks for 复查: it goes to 上城区,
// the body above 人社局, whose page may no longer act on it (refused, naming 上城区). 上城区's
// closing waits for the 复查意见书; generated, it is signed by 上城区 and names 杭州市 for the
// 复核; served by post, the review is closed; the query page shows the 复查 and keeps the rating,
// and the petitioner rates again: the result of the 复查, which evaluates the closed case.
func TestE2EReviewAtTheHigherBody(t *testing.T) {
	chromium := browsertest.Path(t)
	cfg := testConfig(t)
	cfg.Demo = true
	a := startTestApp(t, cfg)
	passwords := e2eLogins(a)
	e2eReviewer(t, a, passwords, "district-reviewer", org.RoleIntakeOfficer, "330102")
	rsj := e2eUnitID(t, a, "330102-RSJ")
	pg := newCasePages(t, a, e2eBrowser(t, chromium), passwords)
	do, js, text, choose := pg.do, pg.js, pg.text, pg.choose

	// Registered at the city bureau, assigned to 上城区人社局.
	intake := pg.login("demo-intake")
	do(intake, "intake: open the cases page", chromedp.Navigate(a.URL()+"/cases.html"), chromedp.Click(chromedp.ID("new-case")))
	e2eWait(t, intake, "intake form", `!document.getElementById("intake").hidden && document.getElementById("i-category").options.length > 1`)
	js(intake, "intake: category and territory", `(() => { const s = document.getElementById("i-category");
		s.value = [...s.options].find((o) => o.textContent === "劳动和社会保障").value;
		document.getElementById("i-territory").value = "330102"; })()`)
	do(intake, "intake: the matter",
		chromedp.SendKeys(chromedp.ID("i-title"), "工伤待遇未落实"),
		chromedp.SendKeys(chromedp.ID("i-content"), "某厂拒不支付工伤保险待遇，要求落实"),
		chromedp.SendKeys(chromedp.ID("i-name"), "孙八"),
		chromedp.Click(chromedp.ID("i-submit")))
	code := pg.registered(intake)
	choose(intake, "as-unit", fmt.Sprint(rsj))
	do(intake, "intake: assign", chromedp.SendKeys(chromedp.ID("as-req"), "请依法处理"), chromedp.Click(chromedp.ID("as-submit")))
	e2eWait(t, intake, "intake: assigned", `!document.getElementById("d-ok").hidden && document.getElementById("d-facts").textContent.includes("已交办")`)

	// 人社局 accepts and answers with its 处理意见书, served in person.
	handler := pg.login("demo-handler")
	pg.openCase(handler, "handler", "已交办")
	pg.generate(handler, "handler", "accept_notice", "", "")
	pg.step(handler, "handler", "accepted", "", "已受理")
	pg.step(handler, "handler", "in_progress", "", "办理中")
	pg.generate(handler, "handler", "answer", "", "经核查，信访人未提交工伤认定决定书，所请不予支持。")
	pg.answer(handler, "handler", "not_support", "已出具处理意见书")
	pg.serve(handler, "handler", "answer", "in_person", "信访人孙八当面签收")

	// The petitioner rates the result as soon as the answer is served (the case is not closed).
	pub := pg.tab("petitioner")
	query := func(what string) string {
		t.Helper()
		do(pub, "petitioner: the query page "+what, chromedp.Navigate(a.URL()+"/query.html"))
		e2eWait(t, pub, "petitioner: the query form "+what, `document.readyState === "complete" && !!document.getElementById("q-code")`)
		do(pub, "petitioner: look up "+what, chromedp.SendKeys(chromedp.ID("q-code"), code), chromedp.Click(chromedp.ID("q-submit")))
		e2eWait(t, pub, "petitioner: the case "+what, `!document.getElementById("q-result").hidden && !!document.getElementById("q-stage-result")`)
		return text(pub, "q-result")
	}
	query("after the answer")
	do(pub, "petitioner: rate the result", chromedp.Click(chromedp.CSS(`#q-stage-result button[data-score="unsatisfied"]`)))
	e2eWait(t, pub, "petitioner: the result rated", `document.getElementById("q-stage-result").dataset.rated === "true"`)

	// The petitioner asks for 复查 (recorded by the bureau): it goes to 上城区.
	pg.openCase(intake, "intake", "已答复")
	pg.step(intake, "intake", "review", "信访人不服处理意见，申请复查", "复查中")
	// 人社局, whose answer is reviewed, can no longer act on the case.
	pg.openCase(handler, "handler", "复查中")
	pg.refused(handler, "handler", "closed", "该事项正由上城区复查")

	// 上城区 holds the review: its close waits for the 复查意见书.
	reviewer := pg.login("district-reviewer")
	pg.openCase(reviewer, "上城区", "复查中")
	pg.refused(reviewer, "上城区", "closed", "请先生成复查意见书")
	pg.generate(reviewer, "上城区", "review_opinion", "", "经复查，原处理意见认定事实清楚，维持原处理意见。")
	href, err := chromedp.Run(reviewer, chromedp.Evaluate[string](`document.querySelector('#d-documents li[data-kind="review_opinion"] .doc-print').href`))
	if err != nil || href == "" {
		t.Fatalf("print link: %q %v", href, err)
	}
	printer := pg.login("district-reviewer")
	do(printer, "open the 复查意见书", chromedp.Navigate(href))
	e2eWait(t, printer, "the 复查意见书's page", `document.readyState === "complete" && document.body.textContent.includes("复查意见书")`)
	page, _ := chromedp.Run(printer, chromedp.Evaluate[string](`document.body.textContent`))
	sign, _ := chromedp.Run(printer, chromedp.Evaluate[string](`document.querySelector("p.sign").textContent`))
	if !strings.Contains(page, "维持原处理意见") || !strings.Contains(page, "请求杭州市复核") || sign != "上城区" {
		t.Errorf("the 复查意见书: signed %q: %s", sign, page)
	}
	pg.serve(reviewer, "上城区", "review_opinion", "post", "EMS1130000067890")
	pg.close(reviewer, "上城区", "not_supported", "复查维持原处理意见", "不予支持")
	if docs := text(reviewer, "d-documents"); !strings.Contains(docs, "复查意见书") || !strings.Contains(docs, "EMS1130000067890") {
		t.Errorf("the documents after the review: %s", docs)
	}

	// The query page shows the review, and the result stays rated (once per stage).
	q := query("after the review")
	if !strings.Contains(q, "复查") {
		t.Errorf("the milestones lack the review: %s", q)
	}
	if rated, _ := chromedp.Run(pub, chromedp.Evaluate[string](`document.getElementById("q-stage-result").dataset.rated || ""`)); rated != "true" {
		t.Errorf("the result's rating after the review: %q", rated)
	}
	// The 复查意见书 served, the petitioner rates the review's result, once.
	do(pub, "petitioner: rate the review's result", chromedp.Click(chromedp.CSS(`#q-stage-review_result button[data-score="basically"]`)))
	e2eWait(t, pub, "petitioner: the review's result rated", `document.getElementById("q-stage-review_result").dataset.rated === "true"`)
	if st := text(pub, "q-status"); st != "已评价" {
		t.Errorf("the case after the review's rating: %q", st)
	}
	q = query("after rating the review")
	if n, _ := chromedp.Run(pub, chromedp.Evaluate[int](`document.querySelectorAll("#q-stage-result button, #q-stage-review_result button").length`)); n != 0 || !strings.Contains(q, "对复查结果的评价") {
		t.Errorf("after both ratings: %d buttons left: %s", n, q)
	}
}

package main

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"sanji/web/browsertest"
)

// casePages drives the cases page in Chromium, each person in their own browser context.
type casePages struct {
	t         *testing.T
	a         *app
	browser   context.Context
	passwords map[string]string
	caseID    string // the case openCase opens
	loads     int
}

func newCasePages(t *testing.T, a *app, browser context.Context, passwords map[string]string) *casePages {
	return &casePages{t: t, a: a, browser: browser, passwords: passwords}
}

func (pg *casePages) tab(who string) context.Context {
	pg.t.Helper()
	pctx, cancel := chromedp.NewContext(pg.browser, chromedp.WithNewBrowserContext())
	console := e2eCollectConsole(pctx)
	pg.t.Cleanup(func() {
		cancel()
		<-console.done
	})
	return pctx
}

func (pg *casePages) do(p context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
	pg.t.Helper()
	if err := chromedp.Do(p, actions...); err != nil {
		pg.t.Fatalf("%s: %v", what, err)
	}
}

func (pg *casePages) js(p context.Context, what, expr string) {
	pg.t.Helper()
	if _, err := chromedp.Run(p, chromedp.Evaluate[chromedp.Void](expr)); err != nil {
		pg.t.Fatalf("%s: %v", what, err)
	}
}

func (pg *casePages) text(p context.Context, id string) string {
	pg.t.Helper()
	s, err := chromedp.Run(p, chromedp.Evaluate[string](`document.getElementById("`+id+`").textContent`))
	if err != nil {
		pg.t.Fatal(err)
	}
	return s
}

// choose picks an option of a select as a person would: the change event follows.
func (pg *casePages) choose(p context.Context, id, value string) {
	pg.t.Helper()
	pg.js(p, "choose "+value+" in "+id, fmt.Sprintf(`(() => { const s = document.getElementById(%q); s.value = %q;
		if (s.value !== %q) throw new Error("no option " + %q + " in " + %q); s.dispatchEvent(new Event("change")); })()`, id, value, value, value, id))
}

func (pg *casePages) login(user string) context.Context {
	pg.t.Helper()
	p := pg.tab(user)
	pg.do(p, user+": open the login page", chromedp.Navigate(pg.a.URL()+"/login.html"))
	e2eWait(pg.t, p, user+": login page", `document.readyState === "complete" && !!document.getElementById("username")`)
	pg.do(p, user+": log in", chromedp.SendKeys(chromedp.ID("username"), user), chromedp.SendKeys(chromedp.ID("password"), pg.passwords[user]),
		chromedp.Click(chromedp.ID("login-submit")))
	e2eWait(pg.t, p, user+": logged in", `!location.pathname.endsWith("/login.html") && document.readyState === "complete"`)
	return p
}

// openCase loads the cases page afresh in p with the case open, waiting until its facts show
// status.
func (pg *casePages) openCase(p context.Context, who, status string) {
	pg.t.Helper()
	pg.loads++
	pg.do(p, who+": open the case", chromedp.Navigate(fmt.Sprintf("%s/cases.html?load=%d#%s", pg.a.URL(), pg.loads, pg.caseID)))
	e2eWait(pg.t, p, who+": the case, "+status, `!document.getElementById("detail").hidden && document.getElementById("d-facts").textContent.includes("`+status+`")`)
}

// submit chooses `to` in the open case's step form, with reason when not "", and submits it.
func (pg *casePages) submit(p context.Context, who, to, reason string) {
	pg.t.Helper()
	e2eWait(pg.t, p, who+": step form", `!document.getElementById("step-form").hidden`)
	pg.choose(p, "st-to", to)
	if reason != "" {
		pg.do(p, who+": reason", chromedp.SendKeys(chromedp.ID("st-reason"), reason))
	}
	pg.do(p, who+": submit "+to, chromedp.Click(chromedp.ID("st-submit")))
}

// step moves the open case to its next status with the step form.
func (pg *casePages) step(p context.Context, who, to, reason, status string) {
	pg.t.Helper()
	pg.submit(p, who, to, reason)
	e2eWait(pg.t, p, who+": the case is "+status, `!document.getElementById("d-ok").hidden && document.getElementById("d-facts").textContent.includes("`+status+`")`)
}

// refused tries to move the open case to `to` and waits for the refusal naming want.
func (pg *casePages) refused(p context.Context, who, to, want string) {
	pg.t.Helper()
	pg.submit(p, who, to, "")
	e2eWait(pg.t, p, who+": refused: "+want, `!document.getElementById("d-error").hidden && document.getElementById("d-error").textContent.includes("`+want+`")`)
}

// generate makes a document of kind on the open case with the documents form, and waits until
// the case lists it.
func (pg *casePages) generate(p context.Context, who, kind, reason, body string) {
	pg.t.Helper()
	e2eWait(pg.t, p, who+": the documents form", `!document.getElementById("doc-form").hidden`)
	pg.choose(p, "doc-kind", kind)
	if reason != "" {
		pg.do(p, who+": the reason", chromedp.SendKeys(chromedp.ID("doc-reason"), reason))
	}
	if body != "" {
		pg.do(p, who+": the text", chromedp.SendKeys(chromedp.ID("doc-body"), body))
	}
	pg.do(p, who+": generate "+kind, chromedp.Click(chromedp.ID("doc-submit")))
	e2eWait(pg.t, p, who+": "+kind+" listed", `!document.getElementById("d-ok").hidden && !!document.querySelector('#d-documents li[data-kind="`+kind+`"]')`)
}

// answer answers the open case with result (the 处理意见书 generated first) and reason.
func (pg *casePages) answer(p context.Context, who, result, reason string) {
	pg.t.Helper()
	e2eWait(pg.t, p, who+": step form", `!document.getElementById("step-form").hidden`)
	pg.choose(p, "st-to", "answered")
	pg.choose(p, "st-result", result)
	pg.do(p, who+": answer", chromedp.SendKeys(chromedp.ID("st-reason"), reason), chromedp.Click(chromedp.ID("st-submit")))
	e2eWait(pg.t, p, who+": answered", `!document.getElementById("d-ok").hidden && document.getElementById("d-facts").textContent.includes("已答复")`)
}

// close closes the open case naming its outcome, with reason, and waits until its facts show want.
func (pg *casePages) close(p context.Context, who, outcome, reason, want string) {
	pg.t.Helper()
	e2eWait(pg.t, p, who+": step form", `!document.getElementById("step-form").hidden`)
	pg.choose(p, "st-to", "closed")
	e2eWait(pg.t, p, who+": the outcome field", `!document.getElementById("st-outcome-f").hidden`)
	pg.choose(p, "st-outcome", outcome)
	pg.do(p, who+": close", chromedp.SendKeys(chromedp.ID("st-reason"), reason), chromedp.Click(chromedp.ID("st-submit")))
	e2eWait(pg.t, p, who+": closed, "+want, `!document.getElementById("d-ok").hidden && document.getElementById("d-facts").textContent.includes("已办结") && document.getElementById("d-facts").textContent.includes("`+want+`")`)
}

// serve records the service of the open case's document of kind by method with its proof, and
// waits until the case lists it served.
func (pg *casePages) serve(p context.Context, who, kind, method, proof string) {
	pg.t.Helper()
	sel := `#d-documents li[data-kind="` + kind + `"] `
	e2eWait(pg.t, p, who+": the service controls", `!!document.querySelector('`+sel+`.svc-submit')`)
	pg.js(p, who+": "+method, `(() => { const s = document.querySelector('`+sel+`.svc-method'); s.value = "`+method+`";
		s.dispatchEvent(new Event("change")); })()`)
	pg.do(p, who+": record the service", chromedp.SendKeys(chromedp.CSS(sel+".svc-proof"), proof), chromedp.Click(chromedp.CSS(sel+".svc-submit")))
	e2eWait(pg.t, p, who+": served", `!document.getElementById("d-ok").hidden && !!document.querySelector('`+sel+`.doc-served')`)
}

// registered waits, after the intake form was submitted in p, for the query code and the new case
// open; it makes that case the one openCase opens and returns the code.
func (pg *casePages) registered(p context.Context) string {
	pg.t.Helper()
	e2eWait(pg.t, p, "intake: registered, the query code shown", `!document.getElementById("case-created").hidden && !!document.getElementById("query-code")`)
	code, err := chromedp.Run(p, chromedp.Evaluate[string](`document.getElementById("query-code").dataset.code`))
	if err != nil || len(code) != 16 {
		pg.t.Fatalf("query code %q: %v", code, err)
	}
	e2eWait(pg.t, p, "intake: the new case open", `location.hash.length > 1 && !document.getElementById("detail").hidden && !document.getElementById("assign-form").hidden`)
	pg.caseID, _ = chromedp.Run(p, chromedp.Evaluate[string](`location.hash.slice(1)`))
	return code
}

// TestE2ENotAcceptedWithNotice runs a matter from registration through 不予受理 in Chromium: the
// intake officer registers a claim that belongs in court; not accepting it is refused until the
// 不予受理告知书 is there; the notice is generated with its reason and the legal channel, printed
// as a page with the office's header, and the case is not accepted; the notice is listed as not
// served until the officer records its service by post with the postal number.
func TestE2ENotAcceptedWithNotice(t *testing.T) {
	chromium := browsertest.Path(t)
	cfg := testConfig(t)
	cfg.Demo = true
	cfg.Cases.DocumentHeader = "杭州市信访局"
	a := startTestApp(t, cfg)
	passwords := map[string]string{}
	for _, l := range a.logins {
		passwords[l.Username] = l.Password
	}
	pg := newCasePages(t, a, e2eBrowser(t, chromium), passwords)
	intake := pg.login("demo-intake")
	pg.do(intake, "intake: open the cases page", chromedp.Navigate(a.URL()+"/cases.html"), chromedp.Click(chromedp.ID("new-case")))
	e2eWait(t, intake, "intake form", `!document.getElementById("intake").hidden && document.getElementById("i-category").options.length > 1`)
	pg.js(intake, "intake: category and territory", `(() => { const s = document.getElementById("i-category");
		s.value = [...s.options].find((o) => o.textContent === "劳动和社会保障").value;
		document.getElementById("i-territory").value = "330102"; })()`)
	pg.do(intake, "intake: the matter",
		chromedp.SendKeys(chromedp.ID("i-title"), "劳动合同纠纷"),
		chromedp.SendKeys(chromedp.ID("i-content"), "与公司的劳动合同纠纷，已向法院起诉，要求信访部门督促判决"),
		chromedp.SendKeys(chromedp.ID("i-name"), "赵六"),
		chromedp.Click(chromedp.ID("i-submit")))
	e2eWait(t, intake, "intake: registered and open", `location.hash.length > 1 && !document.getElementById("detail").hidden`)
	pg.caseID, _ = chromedp.Run(intake, chromedp.Evaluate[string](`location.hash.slice(1)`))

	pg.refused(intake, "intake", "not_accepted", "请先生成不予受理告知书")
	e2eWait(t, intake, "intake: the reason and channel fields", `!document.getElementById("doc-form").hidden`)
	pg.choose(intake, "doc-kind", "not_accept_notice")
	pg.choose(intake, "doc-channel", "litigation")
	pg.generate(intake, "intake", "not_accept_notice", "该事项已进入诉讼程序，依法应通过诉讼途径解决", "")
	docs := pg.text(intake, "d-documents")
	if !strings.Contains(docs, "不予受理告知书") || !strings.Contains(docs, "未送达") {
		t.Errorf("the documents: %s", docs)
	}

	// The printable page: the header, the reason, the channel, the print stylesheet.
	href, err := chromedp.Run(intake, chromedp.Evaluate[string](`document.querySelector('#d-documents li[data-kind="not_accept_notice"] .doc-print').href`))
	if err != nil || href == "" {
		t.Fatalf("print link: %q %v", href, err)
	}
	printer := intake
	pg.do(printer, "open the page", chromedp.Navigate(href))
	e2eWait(t, printer, "the notice's page", `document.readyState === "complete" && document.body.textContent.includes("不予受理告知书")`)
	page, _ := chromedp.Run(printer, chromedp.Evaluate[string](`document.body.textContent`))
	for _, want := range []string{"杭州市信访局", "该事项已进入诉讼程序", "通过诉讼等法定途径"} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %q: %s", want, page)
		}
	}
	if ok, _ := chromedp.Run(printer, chromedp.Evaluate[bool](`[...document.styleSheets].some((s) => [...s.cssRules].some((r) => r.media && r.media.mediaText === "print"))`)); !ok {
		t.Error("the page has no print stylesheet")
	}

	pg.openCase(intake, "intake", "已登记")
	pg.step(intake, "intake", "not_accepted", "属于诉讼事项，已告知通过诉讼途径解决", "不予受理")

	// Served by post: the method and the postal number.
	pg.serve(intake, "intake", "not_accept_notice", "post", "EMS1130000012345")
	if docs := pg.text(intake, "d-documents"); !strings.Contains(docs, "邮寄送达") || !strings.Contains(docs, "EMS1130000012345") || strings.Contains(docs, "未送达") {
		t.Errorf("the documents after service: %s", docs)
	}
	if tl := pg.text(intake, "d-timeline"); !strings.Contains(tl, "文书送达") || !strings.Contains(tl, "生成文书") {
		t.Errorf("the timeline lacks the document's notes: %s", tl)
	}
}

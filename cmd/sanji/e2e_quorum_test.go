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

// pageAPI calls the API from the page with its own client (web/static/js/api.js: the page's
// session and CSRF token) and decodes the answer; a refusal fails the test.
func pageAPI[T any](t *testing.T, ctx context.Context, method, path string, body any) T {
	t.Helper()
	arg := []byte("undefined") // no body: api.js sends none
	if body != nil {
		var err error
		if arg, err = json.Marshal(body); err != nil {
			t.Fatal(err)
		}
	}
	raw, err := chromedp.Run(ctx, chromedp.Evaluate[string](fmt.Sprintf(
		`import('/js/api.js').then((m) => m.api(%q, %q, %s)).then((r) => JSON.stringify(r), (e) => JSON.stringify({refused: e.message}))`,
		method, path, arg), chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	var out T
	if strings.HasPrefix(raw, `{"refused"`) || json.Unmarshal([]byte(raw), &out) != nil {
		t.Fatalf("%s %s: %s", method, path, raw)
	}
	return out
}

// e2eUnitID is the id of the demo's unit with code.
func e2eUnitID(t *testing.T, a *app, code string) int64 {
	t.Helper()
	u, err := a.store.GetUnitByCode(context.Background(), code)
	if err != nil {
		t.Fatal(err)
	}
	return u.ID
}

// TestE2EConsultationQuorum: the city bureau convenes a 会商 with the city's 住建局 and 人社局;
// 住建局 gives its opinion; on the cases page the bureau's sign button is held back naming 人社局,
// the bureau records 人社局 absent with a reason (the page shows the reason, who recorded it and
// when) and signs. Then the city's supervisor escalates a 督办 item on the case and finds it in the
// list of items escalated to the city.
func TestE2EConsultationQuorum(t *testing.T) {
	chromium := browsertest.Path(t)
	cfg := testConfig(t)
	cfg.Demo = true
	a := startTestApp(t, cfg)
	xfj, zjj, rsj := e2eUnitID(t, a, "330100-XFJ"), e2eUnitID(t, a, "330100-ZJJ"), e2eUnitID(t, a, "330100-RSJ")
	browser := e2eBrowser(t, chromium)
	logins := e2eLogins(a)
	// open logs user in and loads the cases page at hash, waiting until it knows the user.
	open := func(user, hash string) context.Context {
		t.Helper()
		p := openScreen(t, t, browser, a.URL(), user, logins[user]).ctx
		if err := chromedp.Do(p, chromedp.Navigate(a.URL()+"/cases.html#"+hash)); err != nil {
			t.Fatalf("%s: open the cases page: %v", user, err)
		}
		e2eWait(t, p, user+": the cases page", `document.readyState === "complete" && document.getElementById("who").textContent !== "" && !document.getElementById("list-error").textContent`)
		return p
	}
	do := func(p context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(p, actions...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	text := func(p context.Context, sel string) string {
		t.Helper()
		s, err := chromedp.Run(p, chromedp.Evaluate[string](fmt.Sprintf(`document.querySelector(%q)?.textContent ?? ""`, sel)))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	type idView struct {
		ID     int64  `json:"id"`
		Number string `json:"number"`
	}

	intake := open("demo-intake", "")
	cats := pageAPI[struct{ Categories []idView }](t, intake, "GET", "/api/v1/categories", nil)
	c := pageAPI[idView](t, intake, "POST", "/api/v1/cases", map[string]any{"unit_id": xfj, "territory": "330100", "form": "visit", "type": "claim",
		"category_id": cats.Categories[0].ID, "title": "小区加装电梯补贴", "content": "申请加装电梯补贴未获答复", "involved_count": 1,
		"petitioners": []map[string]any{{"name": "周六", "role": "petitioner"}}})
	k := pageAPI[idView](t, intake, "POST", fmt.Sprintf("/api/v1/cases/%d/consultations", c.ID),
		map[string]any{"competent_unit_id": xfj, "unit_ids": []int64{zjj, rsj}, "subject": "补贴由哪个部门承担"})
	handler2 := open("demo-handler2", "")
	pageAPI[idView](t, handler2, "POST", fmt.Sprintf("/api/v1/consultations/%d/opinions", k.ID),
		map[string]any{"unit_id": zjj, "text": "补贴资金属住建口径，本局可牵头"})

	// The bureau's page: 住建局's opinion, 人社局 missing, the signature held back with the reason.
	caseHash := fmt.Sprint(c.ID)
	do(intake, "intake: open the case", chromedp.Navigate(a.URL()+"/cases.html?again#"+caseHash))
	e2eWait(t, intake, "intake: the consultation", `!!document.querySelector("#d-consultations .k-sign")`)
	if s := text(intake, "#d-consultations .k-opinions"); !strings.Contains(s, "杭州市住房和城乡建设局") || !strings.Contains(s, "本局可牵头") {
		t.Errorf("opinions: %q", s)
	}
	if s := text(intake, "#d-consultations .k-missing"); !strings.Contains(s, "杭州市人力资源和社会保障局") || strings.Contains(s, "住房") {
		t.Errorf("missing units: %q", s)
	}
	if disabled, _ := chromedp.Run(intake, chromedp.Evaluate[bool](`document.querySelector("#d-consultations .k-sign").disabled`)); !disabled {
		t.Error("the sign button is enabled while 人社局 is missing")
	}
	if s := text(intake, "#d-consultations .k-sign-why"); !strings.Contains(s, "杭州市人力资源和社会保障局") {
		t.Errorf("the reason the signature waits: %q", s)
	}

	// The absence, with its reason; then the signature.
	do(intake, "intake: record 人社局 absent", chromedp.SendKeys(chromedp.CSS("#d-consultations .k-absent-reason"), "未派员参加，电话通知两次"),
		chromedp.Click(chromedp.CSS("#d-consultations .k-absent-submit")))
	e2eWait(t, intake, "intake: the absence recorded", `!document.getElementById("d-ok").hidden && !!document.querySelector("#d-consultations .k-absences")
		&& !document.querySelector("#d-consultations .k-missing") && !document.querySelector("#d-consultations .k-sign").disabled`)
	if s := text(intake, "#d-consultations .k-absences"); !strings.Contains(s, "杭州市人力资源和社会保障局") || !strings.Contains(s, "电话通知两次") ||
		!strings.Contains(s, "demo-intake") {
		t.Errorf("the absence as shown: %q", s)
	}
	do(intake, "intake: sign", chromedp.SendKeys(chromedp.CSS("#d-consultations .k-conclusion"), "由市住建局牵头办理"),
		chromedp.Click(chromedp.CSS("#d-consultations .k-sign")))
	e2eWait(t, intake, "intake: signed", `document.getElementById("d-consultations").textContent.includes("结论（主管单位已签署）：由市住建局牵头办理")
		&& !document.querySelector("#d-consultations .k-sign")`)
	ks := pageFetch[struct {
		Consultations []struct {
			Final    bool `json:"final"`
			Absences []struct {
				UnitID int64  `json:"unit_id"`
				Reason string `json:"reason"`
			} `json:"absences"`
		} `json:"consultations"`
	}](t, intake, fmt.Sprintf("/api/v1/cases/%d/consultations", c.ID))
	if len(ks.Consultations) != 1 || !ks.Consultations[0].Final || len(ks.Consultations[0].Absences) != 1 || ks.Consultations[0].Absences[0].UnitID != rsj {
		t.Errorf("the consultation after signing: %+v", ks)
	}

	// 督办 on 住建局, escalated by the city's supervisor: it climbs to the city and is listed there.
	sup := open("demo-supervisor", "")
	e2eWait(t, sup, "supervisor: the escalated list", `!document.getElementById("escalated").hidden`)
	if found, _ := chromedp.Run(sup, chromedp.Evaluate[bool](`!!document.querySelector('#esc-rows tr[data-case="`+caseHash+`"]')`)); found {
		t.Fatal("the case is listed as escalated before any 督办")
	}
	pageAPI[idView](t, sup, "POST", fmt.Sprintf("/api/v1/cases/%d/supervisions", c.ID),
		map[string]any{"unit_id": zjj, "basis": "会商结论落实", "level": "routine", "method": "written"})
	pageAPI[idView](t, sup, "POST", fmt.Sprintf("/api/v1/cases/%d/supervision/escalate", c.ID), map[string]any{})
	do(sup, "supervisor: reload", chromedp.Navigate(a.URL()+"/cases.html?again"))
	row := `#esc-rows tr[data-case="` + caseHash + `"]`
	e2eWait(t, sup, "supervisor: the escalated item", `!!document.querySelector('`+row+`')`)
	if s := text(sup, row); !strings.Contains(s, c.Number) || !strings.Contains(s, "杭州市住房和城乡建设局") || !strings.Contains(s, "杭州市") ||
		!strings.Contains(s, "现场督办") {
		t.Errorf("the escalated row: %q", s)
	}
	do(sup, "supervisor: open the case from the list", chromedp.Click(chromedp.CSS(row)))
	e2eWait(t, sup, "supervisor: the case", `!document.getElementById("detail").hidden && document.getElementById("d-heading").textContent.includes("`+c.Number+`")`)
}

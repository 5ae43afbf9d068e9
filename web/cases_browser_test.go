package web

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestCasesPage drives cases.html against a scripted API: the list shows each case's deadline
// with its warning and the provisional mark, a row opens the case with its deadline note,
// timeline and slips (a consultation's dissent and whether the competent unit signed), and a
// leader takes ownership (包案).
func TestCasesPage(t *testing.T) {
	mux := http.NewServeMux()
	mux.Handle("/", Handler())
	js := replyJSON
	note := "期限为暂算：工作日历尚未录入 2027 年的节假日安排 / provisional: no 2027 calendar yet"
	deadline := map[string]any{"rule": "handling", "name": "办理", "party": "unit", "start": "2026-11-27", "due": "2027-01-26",
		"percent": 85, "warning": 80, "provisional": true, "note": note, "explanation": "办理时限 60 日，自 2026-11-27 的次日起算"}
	var owner atomic.Int64
	kase := func() map[string]any {
		return map[string]any{"id": 5, "number": "330102-2026-V-000005", "title": "欠薪", "status": "in_progress", "form": "visit", "type": "claim",
			"unit_id": 3, "responsible_unit_id": 4, "registered_at": "2026-11-27T02:00:00Z", "involved_count": 3, "view": "masked",
			"supervised": true, "owner_leader_id": owner.Load(), "co_unit_ids": []int{},
			"petitioners": []any{map[string]any{"name": "张三", "phone": "138****5678", "role": "petitioner"}}}
	}
	mux.HandleFunc("GET /api/v1/me", func(w http.ResponseWriter, r *http.Request) {
		js(w, 200, map[string]any{"user": map[string]any{"id": 9, "username": "leader", "display_name": "区领导"}, "csrf_token": "c",
			"grants": []any{}, "can": []string{"case.read", "case.own"}})
	})
	mux.HandleFunc("GET /api/v1/units", func(w http.ResponseWriter, r *http.Request) {
		js(w, 200, map[string]any{"units": []any{map[string]any{"id": 3, "name": "上城区信访局"}, map[string]any{"id": 4, "name": "清波街道"},
			map[string]any{"id": 6, "name": "区人社局"}}})
	})
	mux.HandleFunc("GET /api/v1/cases", func(w http.ResponseWriter, r *http.Request) {
		js(w, 200, map[string]any{"cases": []any{map[string]any{"case": kase(), "deadline": deadline}}})
	})
	mux.HandleFunc("GET /api/v1/cases/5", func(w http.ResponseWriter, r *http.Request) { js(w, 200, kase()) })
	mux.HandleFunc("GET /api/v1/cases/5/deadline", func(w http.ResponseWriter, r *http.Request) {
		js(w, 200, map[string]any{"deadline": deadline})
	})
	mux.HandleFunc("GET /api/v1/cases/5/timeline", func(w http.ResponseWriter, r *http.Request) {
		js(w, 200, map[string]any{"events": []any{
			map[string]any{"id": 1, "at": "2026-11-27T02:00:00Z", "kind": "status", "to": "registered", "actor": "intake", "reason": "登记"},
			map[string]any{"id": 2, "at": "2026-11-28T02:00:00Z", "kind": "consultation", "actor": "leader", "reason": "会商：责任认定", "ref": "consultation:1"},
		}})
	})
	mux.HandleFunc("GET /api/v1/cases/5/assignments", func(w http.ResponseWriter, r *http.Request) {
		js(w, 200, map[string]any{"assignments": []any{map[string]any{"id": 1, "responsible_unit_id": 4, "feedback_due": "2026-12-12",
			"objection_due": "2026-12-04", "status": "open"}}})
	})
	mux.HandleFunc("GET /api/v1/cases/5/supervisions", func(w http.ResponseWriter, r *http.Request) {
		js(w, 200, map[string]any{"supervisions": []any{map[string]any{"id": 1, "unit_id": 4, "level": "routine", "escalation": "reminder",
			"deadline": "2027-01-04", "reports": []any{map[string]any{"kind": "progress", "text": "已约谈用人单位"}}}}})
	})
	mux.HandleFunc("GET /api/v1/cases/5/consultations", func(w http.ResponseWriter, r *http.Request) {
		js(w, 200, map[string]any{"consultations": []any{map[string]any{"id": 1, "subject": "责任认定", "final": true, "conclusion": "街道牵头",
			"competent_unit_id": 4, "unit_ids": []int{4, 6, 3}, "missing_unit_ids": []int{},
			"absences": []any{map[string]any{"unit_id": 3, "reason": "未派员参加", "by": 9, "at": "2026-11-28T03:00:00Z"}},
			"opinions": []any{map[string]any{"unit_id": 4, "text": "街道牵头"}, map[string]any{"unit_id": 6, "text": "应由住建局负责", "dissent": true}}}}})
	})
	mux.HandleFunc("GET /api/v1/cases/5/documents", func(w http.ResponseWriter, r *http.Request) {
		js(w, 200, map[string]any{"documents": []any{map[string]any{"id": 3, "case_id": 5, "kind": "accept_notice", "title": "受理告知书",
			"sha256": strings.Repeat("ab", 32), "generated_at": "2026-03-02T01:00:00Z", "served_at": "2026-03-03T02:00:00Z",
			"service_method": "post", "service_proof": "EMS1"}}})
	})
	mux.HandleFunc("POST /api/v1/cases/5/owner", func(w http.ResponseWriter, r *http.Request) {
		owner.Store(9)
		js(w, 200, kase())
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	ctx := newBrowser(t)
	console := collectConsole(ctx)

	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/cases.html")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, "case row", `document.querySelectorAll("#case-rows tr").length === 1`, 10*time.Second)
	row := eval[string](t, ctx, `document.querySelector("#case-rows tr").textContent`)
	for _, want := range []string{"330102-2026-V-000005", "办理中", "清波街道", "2027-01-26", "临近到期", "暂算", "督办中"} {
		if !hasText(row, want) {
			t.Errorf("row %q lacks %q", row, want)
		}
	}
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#case-rows tr"))); err != nil {
		t.Fatal(err)
	}
	// The documents come last (their own request): wait for them too.
	waitFor(t, ctx, "case detail", `!document.getElementById("detail").hidden && document.querySelectorAll("#d-timeline li").length === 2 &&
		document.getElementById("d-documents").textContent.includes("EMS1")`, 10*time.Second)
	for id, wants := range map[string][]string{
		"d-heading":       {"330102-2026-V-000005", "欠薪"},
		"d-deadline":      {"办理期限：2027-01-26（已用 85%）", "期限为暂算", "次日起算"},
		"d-timeline":      {"已登记", "会商"},
		"d-assignments":   {"交办给 清波街道", "异议期限 2026-12-04"},
		"d-supervisions":  {"一般督办 清波街道", "已约谈用人单位"},
		"d-consultations": {"议题：责任认定", "区人社局：应由住建局负责", "（不同意见）", "主管单位已签署", "上城区信访局缺席：未派员参加（#9 记录于"},
		"d-facts":         {"张三", "部分隐藏"},
		"d-documents":     {"受理告知书", "邮寄送达", "EMS1"},
	} {
		got := eval[string](t, ctx, `document.getElementById("`+id+`").textContent`)
		for _, want := range wants {
			if !hasText(got, want) {
				t.Errorf("%s %q lacks %q", id, got, want)
			}
		}
	}
	if eval[bool](t, ctx, `document.getElementById("d-own").hidden`) {
		t.Fatal("a leader sees no 包案 button")
	}
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.ID("d-own"))); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, "owned", `!document.getElementById("d-ok").hidden && !document.getElementById("d-release").hidden`, 10*time.Second)
	if got := eval[string](t, ctx, `document.getElementById("d-ok").textContent`); !hasText(got, "已包案") {
		t.Errorf("after 包案: %q", got)
	}
	if errs := console.errors(); len(errs) > 0 {
		t.Errorf("console errors: %v", errs)
	}
}

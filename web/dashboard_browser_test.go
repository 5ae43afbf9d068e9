package web

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestDashboardPage drives dashboard.html against a scripted rates API: the page asks for the
// last twelve months, draws each rate with its parts (a ring only where something is counted),
// the overdue units as stacked bars, the months as stacked columns and territory × category as a
// grid; the scope offers only the subtrees of the caller's statistics grants and a choice reloads;
// an error of the API is shown in the page's language.
func TestDashboardPage(t *testing.T) {
	mux := http.NewServeMux()
	mux.Handle("/", Handler())
	js := replyJSON
	var mu sync.Mutex
	var queries []url.Values
	mux.HandleFunc("GET /api/v1/me", func(w http.ResponseWriter, r *http.Request) {
		js(w, 200, map[string]any{"user": map[string]any{"id": 9, "username": "leader", "display_name": "区领导", "unit_id": 2}, "csrf_token": "c",
			// A leader at 上城区 who also observes at the city: the city is not a statistics scope.
			"grants": []any{map[string]any{"id": 1, "role": "leader", "unit_id": 2}, map[string]any{"id": 2, "role": "observer", "unit_id": 1}},
			"can":    []string{"case.read", "stats.read"}})
	})
	mux.HandleFunc("GET /api/v1/units", func(w http.ResponseWriter, r *http.Request) {
		js(w, 200, map[string]any{"units": []any{
			map[string]any{"id": 1, "name": "杭州市", "code": "330100", "path": "/1/"},
			map[string]any{"id": 2, "name": "上城区", "code": "330102", "path": "/1/2/"},
			map[string]any{"id": 3, "name": "清波街道", "code": "330102001", "path": "/1/2/3/"},
			map[string]any{"id": 4, "name": "上城区人社局", "code": "330102-RSJ", "path": "/1/2/4/"},
			map[string]any{"id": 5, "name": "拱墅区", "code": "330105", "path": "/1/5/"},
		}})
	})
	mux.HandleFunc("GET /api/v1/categories", func(w http.ResponseWriter, r *http.Request) {
		js(w, 200, map[string]any{"categories": []any{map[string]any{"id": 7, "name": "劳动和社会保障"}, map[string]any{"id": 8, "name": "城市建设与管理"}}})
	})
	rate := func(n, d int) map[string]any {
		v := 0.0
		if d > 0 {
			v = float64(n) / float64(d)
		}
		return map[string]any{"num": n, "den": d, "value": v}
	}
	mux.HandleFunc("GET /api/v1/rates", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		mu.Lock()
		queries = append(queries, q)
		mu.Unlock()
		if q.Get("repetition_days") == "0" {
			msg := "repetition_days 应为 1 到 365 的整数"
			if r.Header.Get("Accept-Language") == "en" {
				msg = "repetition_days is a whole number from 1 to 365"
			}
			js(w, 400, map[string]any{"error": map[string]any{"code": "invalid", "message": msg, "field": "repetition_days"}})
			return
		}
		to := q.Get("to")[:7]
		js(w, 200, map[string]any{"cases": 6, "timely_acceptance": rate(3, 4), "on_time_closure": rate(1, 2), "satisfaction": rate(0, 0),
			"satisfaction_scores": map[string]int{"satisfied": 0, "basically": 0, "unsatisfied": 0}, "participation": rate(0, 2), "repeat": rate(1, 6), "repetitioned": rate(0, 1),
			"repetition_days": 90, "uncounted": 2, "timely_routing": rate(5, 6), "unclassified": 1,
			"timely_forwarding": rate(2, 3), "forward_days_per_level": 3,
			"outcomes": map[string]int{"not_accepted": 1, "legal_channel": 0, "no_longer_accepted": 0, "resolved": 2, "partly": 1, "not_supported": 0, "forwarded": 0, "terminated": 0},
			"overdue":  []any{map[string]any{"unit_id": 4, "routing": 0, "forwarding": 0, "acceptance": 1, "handling": 2, "total": 3}, map[string]any{"unit_id": 3, "routing": 1, "forwarding": 1, "acceptance": 1, "handling": 0, "total": 3}},
			"counts": []any{
				map[string]any{"category_id": 7, "territory": "330102", "month": to, "count": 3},
				map[string]any{"category_id": 8, "territory": "330102001", "month": to, "count": 2},
				map[string]any{"category_id": 7, "territory": "330102001", "month": q.Get("from")[:7], "count": 1},
			}})
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	ctx := newBrowser(t)
	console := collectConsole(ctx)

	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/dashboard.html")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, "first load", `window.sanjiDashboard && window.sanjiDashboard.loads === 1`, 10*time.Second)
	mu.Lock()
	first := queries[0]
	mu.Unlock()
	from, _ := time.Parse("2006-01-02", first.Get("from"))
	to, _ := time.Parse("2006-01-02", first.Get("to"))
	if from.Day() != 1 || to.AddDate(0, 0, 1).Day() != 1 || from.AddDate(1, 0, -1) != to || first.Get("unit_id") != "" || first.Get("repetition_days") != "90" {
		t.Errorf("first query %v: want twelve whole months, the whole scope", first)
	}
	if got := eval[string](t, ctx, `document.getElementById("db-cases").dataset.count`); got != "6" {
		t.Errorf("cases %q", got)
	}
	for id, want := range map[string][2]string{"rate-timely_acceptance": {"3", "4"}, "rate-on_time_closure": {"1", "2"}, "rate-satisfaction": {"0", "0"},
		"rate-participation": {"0", "2"}, "rate-repeat": {"1", "6"}, "rate-repetitioned": {"0", "1"}, "rate-timely_routing": {"5", "6"},
		"rate-timely_forwarding": {"2", "3"}} {
		got := eval[[]string](t, ctx, `(() => { const e = document.getElementById("`+id+`"); return [e.dataset.num, e.dataset.den]; })()`)
		if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
			t.Errorf("%s: %v, want %v", id, got, want)
		}
	}
	if n := eval[int](t, ctx, `document.querySelectorAll("#db-rates svg.chart").length`); n != 7 {
		t.Errorf("%d rings, want 7 (satisfaction has nothing to count)", n)
	}
	if got := eval[string](t, ctx, `document.querySelector("#rate-timely_forwarding p.muted").textContent`); !hasText(got, "每级 3 个工作日") {
		t.Errorf("forwarding rate's definition %q", got)
	}
	// Each outcome on its own row, and the unclassified closes.
	if got := eval[[]string](t, ctx, `["outcome-resolved", "outcome-partly", "outcome-legal_channel", "outcome-unclassified"].map((id) => document.getElementById(id).textContent)`); strings.Join(got, ",") != "2,1,0,1" {
		t.Errorf("outcomes %v", got)
	}
	if got := eval[string](t, ctx, `document.querySelector("#rate-timely_acceptance text").textContent`); got != "75.0%" {
		t.Errorf("ring label %q", got)
	}
	if got := eval[string](t, ctx, `document.getElementById("db-uncounted").textContent`); !hasText(got, "另有 2 件") {
		t.Errorf("uncounted note %q", got)
	}
	bars := eval[[]string](t, ctx, `[...document.querySelectorAll("#db-overdue .bar-row")].map((g) => g.dataset.label + ":" + [...g.querySelectorAll("rect")].map((r) => r.dataset.value).join("+"))`)
	if len(bars) != 2 || bars[0] != "上城区人社局:1+2" || bars[1] != "清波街道:1+1+1" { // routing, forwarding, acceptance
		t.Errorf("overdue bars %v", bars)
	}
	cols := eval[[]string](t, ctx, `[...document.querySelectorAll("#db-months .column")].map((g) => g.dataset.total)`)
	if len(cols) != 12 || cols[0] != "1" || cols[11] != "5" {
		t.Errorf("month columns %v", cols)
	}
	cells := eval[[]string](t, ctx, `[...document.querySelectorAll("#db-territory rect.cell")].map((r) => r.dataset.row + "/" + r.dataset.col + "=" + r.dataset.value)`)
	want := []string{"上城区/劳动和社会保障=3", "上城区/城市建设与管理=0", "清波街道/劳动和社会保障=1", "清波街道/城市建设与管理=2"}
	if len(cells) != len(want) {
		t.Fatalf("grid cells %v", cells)
	}
	for i := range want {
		if cells[i] != want[i] {
			t.Errorf("grid cell %d: %s, want %s", i, cells[i], want[i])
		}
	}
	if n := eval[int](t, ctx, `document.querySelectorAll("#db-rows tr").length`); n != 3 {
		t.Errorf("%d table rows", n)
	}
	scope := eval[[]string](t, ctx, `[...document.getElementById("f-unit").options].map((o) => o.value)`)
	if len(scope) != 4 || scope[0] != "" || scope[1] != "2" { // all, 上城区, 清波街道, 人社局 — not the city or 拱墅区
		t.Errorf("scope choices %v", scope)
	}
	if err := chromedp.Do(ctx, chromedp.Evaluate[chromedp.Void](`(() => { const s = document.getElementById("f-unit"); s.value = "3";
		s.dispatchEvent(new Event("change")); })()`)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, "reload for 清波街道", `window.sanjiDashboard.loads === 2`, 10*time.Second)
	mu.Lock()
	if q := queries[len(queries)-1]; q.Get("unit_id") != "3" {
		t.Errorf("scope query %v", q)
	}
	mu.Unlock()

	// An error of the API, in English after switching.
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`#lang button[data-lang="en"]`)),
		chromedp.SetValue(chromedp.ID("f-days"), "0"), chromedp.Click(chromedp.CSS(`#db-filters button[type="submit"]`))); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, "error banner", `!document.getElementById("db-error").hidden`, 10*time.Second)
	if got := eval[string](t, ctx, `document.getElementById("db-error").textContent`); got != "repetition_days is a whole number from 1 to 365" {
		t.Errorf("error banner %q", got)
	}
	if got := eval[string](t, ctx, `document.querySelector("#rate-timely_acceptance h3").textContent`); got != "Timely acceptance" {
		t.Errorf("English rate name %q", got)
	}
	for _, e := range console.errors() {
		// The browser logs the refused request itself; the page raised nothing.
		if !strings.Contains(e, "status of 400") {
			t.Errorf("console error: %s", e)
		}
	}
}

package web

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestReceptionPages drives public.html and sessions.html against a scripted API: the public
// page lists the 五公开 fields without login, the staff calendar shows the session on its day,
// and a clash shows inline with the server's message naming the other session.
func TestReceptionPages(t *testing.T) {
	mux := http.NewServeMux()
	mux.Handle("/", Handler())
	js := replyJSON
	session := map[string]any{"id": 7, "title": "副市长张三视频接访", "start": "2026-12-02T09:00:00+08:00", "end": "2026-12-02T11:00:00+08:00",
		"place": "市领导接访室", "halls": []string{"上城区接访大厅"}, "leader_name": "张三", "leader_post": "副市长", "portfolio": "住房保障"}
	mux.HandleFunc("GET /api/v1/public/sessions", func(w http.ResponseWriter, r *http.Request) {
		js(w, 200, map[string]any{"sessions": []any{session}})
	})
	mux.HandleFunc("GET /api/v1/me", func(w http.ResponseWriter, r *http.Request) {
		js(w, 200, map[string]any{"user": map[string]any{"id": 1, "username": "staff", "display_name": "排班员"}, "csrf_token": "c", "grants": []any{},
			"can": []string{"session.read", "session.write"}})
	})
	mux.HandleFunc("GET /api/v1/units", func(w http.ResponseWriter, r *http.Request) {
		js(w, 200, map[string]any{"units": []any{map[string]any{"id": 1, "kind": "city", "code": "330100", "name": "杭州市", "path": "/1/"}}})
	})
	mux.HandleFunc("GET /api/v1/halls", func(w http.ResponseWriter, r *http.Request) {
		js(w, 200, map[string]any{"halls": []any{map[string]any{"id": 2, "unit_id": 1, "kind": "hall", "name": "市接访大厅"}}})
	})
	mux.HandleFunc("GET /api/v1/leaders", func(w http.ResponseWriter, r *http.Request) {
		js(w, 200, map[string]any{"leaders": []any{map[string]any{"id": 5, "display_name": "张三", "unit_id": 1}}})
	})
	mux.HandleFunc("GET /api/v1/sessions", func(w http.ResponseWriter, r *http.Request) {
		js(w, 200, map[string]any{"sessions": []any{map[string]any{"id": 7, "title": "副市长张三视频接访", "start": "2026-12-02T09:00:00+08:00",
			"end": "2026-12-02T11:00:00+08:00", "leader_name": "张三", "leader_post": "副市长", "hall_ids": []int{2, 3}, "unit_ids": []int{},
			"status": "scheduled"}}})
	})
	mux.HandleFunc("POST /api/v1/sessions", func(w http.ResponseWriter, r *http.Request) {
		js(w, 409, map[string]any{"error": map[string]any{"code": "session_conflict", "field": "leader_id",
			"message": "领导 5 已在会次 7（副市长张三视频接访，2026-12-02 09:00–11:00）中，时间重叠，请改期或更换"}})
	})
	mux.HandleFunc("GET /api/v1/sessions/7/invitations", func(w http.ResponseWriter, r *http.Request) {
		js(w, 200, map[string]any{"invitations": []any{map[string]any{"id": 3, "session_id": 7, "kind": "unit", "target_id": 4,
			"target_name": "市人社局", "status": "declined", "reason": "另有督查", "answered_by": "李科长", "on_roster": false}}})
	})
	var feeds []any
	mux.HandleFunc("GET /api/v1/feeds", func(w http.ResponseWriter, r *http.Request) {
		js(w, 200, map[string]any{"feeds": append([]any{}, feeds...)})
	})
	mux.HandleFunc("POST /api/v1/feeds", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Kind     string `json:"kind"`
			TargetID int64  `json:"target_id"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.Kind != "hall" || req.TargetID != 2 {
			js(w, 400, map[string]any{"error": map[string]any{"code": "invalid", "field": "target_id", "message": "bad request"}})
			return
		}
		f := map[string]any{"id": 9, "kind": "hall", "target_id": 2, "target_name": "市接访大厅", "unit_id": 1, "name": "市接访大厅 · 接访日程",
			"created_by": "排班员", "created_at": "2026-12-01T10:00:00+08:00"}
		feeds = append(feeds, f)
		js(w, 201, map[string]any{"feed": f, "token": "tok123", "path": "/api/v1/ical/tok123.ics"})
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	ctx := newBrowser(t)

	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/public.html")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, "public row", `document.querySelectorAll("#pub-rows tr").length === 1`, 10*time.Second)
	row := eval[string](t, ctx, `document.getElementById("pub-rows").textContent`)
	for _, want := range []string{"张三", "副市长", "住房保障", "市领导接访室、上城区接访大厅"} {
		if !hasText(row, want) {
			t.Errorf("public row %q lacks %q", row, want)
		}
	}

	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/sessions.html?date=2026-12-02")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, "calendar item", `document.querySelectorAll(".cal-day[data-date='2026-12-02'] .cal-item").length === 1`, 10*time.Second)
	if got := eval[string](t, ctx, `document.querySelector(".cal-item").textContent`); !hasText(got, "09:00") || !hasText(got, "副市长张三视频接访") {
		t.Errorf("calendar item %q", got)
	}
	// The session's details: a declined unit shows off the roster.
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(".cal-item"))); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, "invitation row", `document.querySelectorAll("#inv-rows tr").length === 1`, 10*time.Second)
	if got := eval[string](t, ctx, `document.getElementById("inv-rows").textContent`); !hasText(got, "另有督查") || !hasText(got, "已移出参会名单") {
		t.Errorf("declined invitation %q", got)
	}

	// A calendar feed of the hall: the link to copy, in https and webcal form, and the list.
	waitFor(t, ctx, "feed card", `!document.getElementById("feeds").hidden && document.getElementById("feed-target").options.length > 0`, 10*time.Second)
	if err := chromedp.Do(ctx, chromedp.SetValue(chromedp.ID("feed-kind"), "hall")); err != nil {
		t.Fatal(err)
	}
	eval[bool](t, ctx, `document.getElementById("feed-kind").dispatchEvent(new Event("change"))`)
	err := chromedp.Do(ctx, chromedp.SetValue(chromedp.ID("feed-target"), "2"), chromedp.Click(chromedp.ID("feed-make")))
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, "feed link", `!document.getElementById("feed-made").hidden`, 10*time.Second)
	if got := eval[string](t, ctx, `document.getElementById("feed-url").value`); got != srv.URL+"/api/v1/ical/tok123.ics" {
		t.Errorf("feed link %q", got)
	}
	if got := eval[string](t, ctx, `document.getElementById("feed-webcal").href`); got != strings.Replace(srv.URL, "http:", "webcal:", 1)+"/api/v1/ical/tok123.ics" {
		t.Errorf("webcal link %q", got)
	}
	waitFor(t, ctx, "feed row", `document.querySelectorAll("#feed-rows tr").length === 1`, 10*time.Second)
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.ID("feed-copy"))); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, "copy status", `!document.getElementById("feed-copied").hidden`, 10*time.Second)

	waitFor(t, ctx, "leader picker", `document.getElementById("s-leader").options.length === 2`, 10*time.Second)
	err = chromedp.Do(ctx,
		chromedp.SetValue(chromedp.ID("s-title"), "会商"), chromedp.SetValue(chromedp.ID("s-leader"), "5"),
		chromedp.SetValue(chromedp.ID("s-start"), "2026-12-02T10:00"), chromedp.SetValue(chromedp.ID("s-minutes"), "60"),
		chromedp.Click(chromedp.CSS("#sess-form button[type=submit]")))
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, "conflict banner", `!document.getElementById("sess-error").hidden`, 10*time.Second)
	if got := eval[string](t, ctx, `document.getElementById("sess-error").textContent`); !hasText(got, "会次 7") {
		t.Errorf("conflict banner %q", got)
	}
	if got := eval[string](t, ctx, `document.activeElement.id`); got != "s-leader" {
		t.Errorf("focus on %q, want the leader field", got)
	}
}

func hasText(s, sub string) bool { return strings.Contains(s, sub) }

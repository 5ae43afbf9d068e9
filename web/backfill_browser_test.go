package web

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestBackfillForm: staff who may backfill see the 补录 box for a single session (not for a
// recurring one), and a ticked box sends backfill: true with the session.
func TestBackfillForm(t *testing.T) {
	mux := http.NewServeMux()
	mux.Handle("/", Handler())
	js := replyJSON
	mux.HandleFunc("GET /api/v1/me", func(w http.ResponseWriter, r *http.Request) {
		js(w, 200, map[string]any{"user": map[string]any{"id": 1, "username": "staff", "display_name": "排班员"}, "csrf_token": "c", "grants": []any{},
			"can": []string{"session.read", "session.write", "session.backfill"}})
	})
	mux.HandleFunc("GET /api/v1/units", func(w http.ResponseWriter, r *http.Request) {
		js(w, 200, map[string]any{"units": []any{map[string]any{"id": 1, "kind": "city", "code": "330100", "name": "杭州市", "path": "/1/"}}})
	})
	mux.HandleFunc("GET /api/v1/halls", func(w http.ResponseWriter, r *http.Request) { js(w, 200, map[string]any{"halls": []any{}}) })
	mux.HandleFunc("GET /api/v1/leaders", func(w http.ResponseWriter, r *http.Request) { js(w, 200, map[string]any{"leaders": []any{}}) })
	mux.HandleFunc("GET /api/v1/feeds", func(w http.ResponseWriter, r *http.Request) { js(w, 200, map[string]any{"feeds": []any{}}) })
	mux.HandleFunc("GET /api/v1/sessions", func(w http.ResponseWriter, r *http.Request) { js(w, 200, map[string]any{"sessions": []any{}}) })
	sent := make(chan map[string]any, 1)
	mux.HandleFunc("POST /api/v1/sessions", func(w http.ResponseWriter, r *http.Request) {
		var req map[string]any
		_ = json.NewDecoder(r.Body).Decode(&req)
		sent <- req
		js(w, 201, map[string]any{"id": 9, "title": req["title"], "start": req["start"], "end": req["end"], "hall_ids": []int{}, "unit_ids": []int{},
			"status": "scheduled", "backfill": true})
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	ctx := newBrowser(t)
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/sessions.html?date=2026-03-02")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, "backfill box", `!document.getElementById("s-backfill-field").hidden`, 10*time.Second)
	eval[bool](t, ctx, `(() => { const k = document.getElementById("s-kind"); k.value = "weekly"; return k.dispatchEvent(new Event("change")); })()`)
	if !eval[bool](t, ctx, `document.getElementById("s-backfill-field").hidden`) {
		t.Error("the backfill box is offered for a recurring schedule")
	}
	eval[bool](t, ctx, `(() => { const k = document.getElementById("s-kind"); k.value = "once"; return k.dispatchEvent(new Event("change")); })()`)
	err := chromedp.Do(ctx, chromedp.SetValue(chromedp.ID("s-title"), "补录接访"), chromedp.SetValue(chromedp.ID("s-start"), "2026-03-02T09:00"),
		chromedp.Click(chromedp.ID("s-backfill")), chromedp.Click(chromedp.CSS("#sess-form button[type=submit]")))
	if err != nil {
		t.Fatal(err)
	}
	select {
	case req := <-sent:
		if req["backfill"] != true {
			t.Errorf("sent %v, want backfill: true", req)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the form sent nothing")
	}
}

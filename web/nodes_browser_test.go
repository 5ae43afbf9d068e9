package web

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestAdminPageShowsAndDrainsNodes: an admin at the root sees the cluster's nodes on the admin
// page and drains one; the row then says so.
func TestAdminPageShowsAndDrainsNodes(t *testing.T) {
	var mu sync.Mutex
	draining := map[string]bool{}
	var drained []string
	mux := http.NewServeMux()
	mux.Handle("/", Handler())
	mux.HandleFunc("GET /api/v1/me", func(w http.ResponseWriter, r *http.Request) {
		replyJSON(w, http.StatusOK, map[string]any{"user": map[string]any{"id": 1, "username": "admin", "display_name": "管理员", "unit_id": 1},
			"grants": []any{map[string]any{"id": 1, "role": "admin", "unit_id": 1}},
			"can":    []string{"unit.read", "unit.write", "user.read", "user.write", "node.admin"}, "csrf_token": "csrf"})
	})
	mux.HandleFunc("GET /api/v1/units", func(w http.ResponseWriter, r *http.Request) {
		replyJSON(w, http.StatusOK, map[string]any{"units": []any{map[string]any{"id": 1, "parent_id": 0, "kind": "root", "code": "000000", "name": "本系统", "path": "/1/"}}})
	})
	mux.HandleFunc("GET /api/v1/halls", func(w http.ResponseWriter, r *http.Request) {
		replyJSON(w, http.StatusOK, map[string]any{"halls": []any{}})
	})
	mux.HandleFunc("GET /api/v1/users", func(w http.ResponseWriter, r *http.Request) {
		replyJSON(w, http.StatusOK, map[string]any{"users": []any{}})
	})
	mux.HandleFunc("GET /api/v1/nodes", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		node := func(id, url string, parts int) map[string]any {
			return map[string]any{"id": id, "http_url": url, "serves": []string{"330102"}, "participants": parts, "tracks": 2 * parts,
				"bitrate_bps": 2_500_000, "cpu": 0.12, "rooms": 1, "draining": draining[id], "self": id == "a"}
		}
		replyJSON(w, http.StatusOK, map[string]any{"clustered": true, "nodes": []any{node("a", "http://10.0.0.1:8080", 4), node("b", "http://10.0.0.2:8080", 9)}})
	})
	mux.HandleFunc("POST /api/v1/nodes/{id}/drain", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Draining bool `json:"draining"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil || r.Header.Get("X-CSRF-Token") != "csrf" {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		mu.Lock()
		draining[r.PathValue("id")] = req.Draining
		drained = append(drained, r.PathValue("id"))
		mu.Unlock()
		replyJSON(w, http.StatusOK, req)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	p := &tab{t: t, ctx: newBrowser(t), url: srv.URL}
	p.do("open the admin page", chromedp.Navigate(srv.URL+"/admin.html"))
	p.wait("two nodes listed", `!document.getElementById("nodes").hidden && document.querySelectorAll("#node-rows tr").length === 2`)
	p.wait("b's address and load", `(() => { const r = document.querySelector('#node-rows tr[data-node="b"]');
		return r && r.textContent.includes("http://10.0.0.2:8080") && r.textContent.includes("330102") && r.textContent.includes("2.5"); })()`)
	p.do("drain b", chromedp.Click(chromedp.CSS(`#node-rows tr[data-node="b"] button`)))
	p.wait("b shown draining", `(() => { const r = document.querySelector('#node-rows tr[data-node="b"]');
		return r && r.children[8].dataset.i18n === "nodes.draining" && r.querySelector("button").dataset.i18n === "nodes.resume"; })()`)
	mu.Lock()
	defer mu.Unlock()
	if len(drained) != 1 || drained[0] != "b" || !draining["b"] {
		t.Fatalf("drained %v", drained)
	}
}

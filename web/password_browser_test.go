package web

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/chromedp/chromedp"
)

// passwordFake serves the pages to a user with role whose password must change (a reset one),
// until POST /api/v1/me/password changes it.
func passwordFake(t *testing.T, role string) *httptest.Server {
	t.Helper()
	var mu sync.Mutex
	mustChange := true
	mux := http.NewServeMux()
	mux.Handle("/", Handler())
	mux.HandleFunc("GET /api/v1/me", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		must := mustChange
		mu.Unlock()
		replyJSON(w, http.StatusOK, map[string]any{"user": map[string]any{"id": 3, "username": "u", "display_name": "张三", "unit_id": 5},
			"grants": []any{map[string]any{"id": 1, "role": role, "unit_id": 5}}, "can": roleCan[role], "csrf_token": "csrf",
			"must_change_password": must})
	})
	mux.HandleFunc("POST /api/v1/me/password", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		mustChange = false
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

// changePassword fills and sends the password form, which must be showing.
func changePassword(p *tab) {
	p.t.Helper()
	p.wait("the password form", `location.pathname === "/password.html" && !document.getElementById("password-must").hidden`)
	p.do("change the password", chromedp.SendKeys(chromedp.ID("old-password"), "one-time-pw"),
		chromedp.SendKeys(chromedp.ID("new-password"), "my-own-password"), chromedp.SendKeys(chromedp.ID("new-password2"), "my-own-password"),
		chromedp.Click(chromedp.ID("password-submit")))
}

// TestLandingAfterPasswordChange: after a forced password change (the first login, or a password
// reset on the server) the user goes where their role works, not to the admin's page; a page that
// sent the user to log in is still where they end up.
func TestLandingAfterPasswordChange(t *testing.T) {
	for role, want := range map[string]string{
		"leader":         "/reception.html",
		"hall_operator":  "/queue.html",
		"case_handler":   "/cases.html",
		"intake_officer": "/cases.html",
		"admin":          "/admin.html",
		"auditor":        "/audit.html",
	} {
		t.Run(role, func(t *testing.T) {
			srv := passwordFake(t, role)
			p := &tab{t: t, ctx: newBrowser(t), url: srv.URL}
			p.do("open the login page", chromedp.Navigate(srv.URL+"/login.html"))
			changePassword(p)
			p.wait("landed at "+want, `location.pathname === `+jsString(want))
		})
	}
	t.Run("next", func(t *testing.T) {
		srv := passwordFake(t, "case_handler")
		p := &tab{t: t, ctx: newBrowser(t), url: srv.URL}
		p.do("open the invitations", chromedp.Navigate(srv.URL+"/invitations.html"))
		changePassword(p)
		p.wait("back at the invitations", `location.pathname === "/invitations.html"`)
	})
}

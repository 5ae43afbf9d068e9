package web

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/chromedp/chromedp"
)

// These tests check where a user lands (landing.js) and the header's links to their work
// (nav.js), against a scripted /me.

// roleCan is what /me lists for a role (the policy table, scheduler/org/policy.go), enough for
// the header's links.
var roleCan = map[string][]string{
	"leader":          {"unit.read", "call.join", "call.moderate", "session.read", "case.read", "case.handle", "case.own"},
	"hall_operator":   {"unit.read", "call.join", "session.read", "appointment.read", "appointment.write", "case.read"},
	"case_handler":    {"unit.read", "call.join", "session.read", "case.read", "case.handle", "invitation.answer"},
	"unit_head":       {"unit.read", "call.join", "session.read", "case.read", "case.handle", "invitation.answer"},
	"intake_officer":  {"unit.read", "call.join", "session.read", "case.register", "case.read", "case.handle"},
	"scheduler_staff": {"unit.read", "call.join", "session.read", "session.write", "appointment.write", "case.read"},
	"admin":           {"unit.read", "unit.write", "user.read", "user.write"},
	"auditor":         {"unit.read", "user.read", "audit.read"},
}

// landingFake serves the pages and answers /me (and a login) for a user with role; "" is nobody
// logged in until the login form is sent.
func landingFake(t *testing.T, role string) *httptest.Server {
	t.Helper()
	meOf := func(role string) map[string]any {
		return map[string]any{"user": map[string]any{"id": 3, "username": "u", "display_name": "张三", "unit_id": 5},
			"grants": []any{map[string]any{"id": 1, "role": role, "unit_id": 5}}, "can": roleCan[role], "csrf_token": "csrf"}
	}
	var mu sync.Mutex
	loggedIn := role
	mux := http.NewServeMux()
	mux.Handle("/", Handler())
	mux.HandleFunc("GET /api/v1/me", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		role := loggedIn
		mu.Unlock()
		if role == "" {
			replyJSON(w, http.StatusUnauthorized, map[string]any{"error": map[string]any{"code": "unauthenticated", "message": "请先登录"}})
			return
		}
		replyJSON(w, http.StatusOK, meOf(role))
	})
	mux.HandleFunc("POST /api/v1/session", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		loggedIn = "hall_operator"
		mu.Unlock()
		replyJSON(w, http.StatusOK, meOf("hall_operator"))
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

// TestLandingByRole: a logged-in user who opens the login page or / goes where their role works.
func TestLandingByRole(t *testing.T) {
	for role, want := range map[string]string{
		"leader":          "/reception.html",
		"hall_operator":   "/queue.html",
		"case_handler":    "/cases.html",
		"unit_head":       "/cases.html",
		"intake_officer":  "/cases.html",
		"scheduler_staff": "/sessions.html",
		"admin":           "/admin.html",
		"auditor":         "/audit.html",
	} {
		t.Run(role, func(t *testing.T) {
			srv := landingFake(t, role)
			p := &tab{t: t, ctx: newBrowser(t), url: srv.URL}
			for _, from := range []string{"/login.html", "/"} {
				p.do("open "+from, chromedp.Navigate(srv.URL+from))
				p.wait("landed from "+from, `location.pathname === `+jsString(want))
			}
		})
	}
}

// TestLandingAfterLogin: the login form sends the user to their page, or to ?next= when given;
// a page that needs a login sends the browser there with ?next= naming itself.
func TestLandingAfterLogin(t *testing.T) {
	login := func(p *tab) {
		t.Helper()
		p.wait("the login form", `document.readyState === "complete" && !!document.getElementById("username")`)
		p.do("log in", chromedp.SendKeys(chromedp.ID("username"), "op"), chromedp.SendKeys(chromedp.ID("password"), "secret-pass"),
			chromedp.Click(chromedp.ID("login-submit")))
	}
	srv := landingFake(t, "")
	p := &tab{t: t, ctx: newBrowser(t), url: srv.URL}
	p.do("open the login page", chromedp.Navigate(srv.URL+"/login.html"))
	login(p)
	p.wait("the hall's day", `location.pathname === "/queue.html"`)

	srv = landingFake(t, "")
	p = &tab{t: t, ctx: newBrowser(t), url: srv.URL}
	p.do("open the invitations", chromedp.Navigate(srv.URL+"/invitations.html"))
	p.wait("sent to log in", `location.pathname === "/login.html" && new URLSearchParams(location.search).get("next") === "/invitations.html"`)
	login(p)
	p.wait("back at the invitations", `location.pathname === "/invitations.html"`)

	// Another origin is never a next.
	srv = landingFake(t, "hall_operator")
	p = &tab{t: t, ctx: newBrowser(t), url: srv.URL}
	p.do("open a foreign next", chromedp.Navigate(srv.URL+"/login.html?next=https://example.com/x.html"))
	p.wait("the own page instead", `location.pathname === "/queue.html"`)
}

// TestWorkLinks: the header links 视频接访 and 信访事项 (and a unit's invitations) for those who may
// use them, and hides them from the admin and the auditor.
func TestWorkLinks(t *testing.T) {
	links := `[...document.querySelectorAll(".topbar a")].filter((a) => !a.hidden && ["reception.html", "cases.html", "invitations.html"].includes(a.getAttribute("href"))).map((a) => a.getAttribute("href") + "=" + a.textContent).join(" ")`
	for _, c := range []struct{ role, page, want string }{
		{"case_handler", "/invitations.html", "invitations.html=会商邀请 reception.html=进入视频接访 cases.html=信访事项"},
		{"case_handler", "/cases.html", "reception.html=视频接访 invitations.html=会商邀请"},
		{"leader", "/cases.html", "reception.html=视频接访"},
		{"leader", "/password.html", "reception.html=视频接访 cases.html=信访事项"},
		{"admin", "/admin.html", ""},
		{"auditor", "/audit.html", ""},
	} {
		t.Run(c.role+c.page, func(t *testing.T) {
			srv := landingFake(t, c.role)
			p := &tab{t: t, ctx: newBrowser(t), url: srv.URL}
			p.do("open "+c.page, chromedp.Navigate(srv.URL+c.page))
			p.wait("the header", `document.getElementById("who").textContent !== ""`)
			if got := p.text(links); got != c.want {
				t.Errorf("%s at %s: links %q, want %q", c.role, c.page, got, c.want)
			}
		})
	}
}

// frontFake serves the pages to nobody logged in, the public schedule, and POST /dev/token when
// dev (as --dev does: a request without a room is a 400).
func frontFake(t *testing.T, dev bool) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.Handle("/", Handler())
	mux.HandleFunc("GET /api/v1/me", func(w http.ResponseWriter, r *http.Request) {
		replyJSON(w, http.StatusUnauthorized, map[string]any{"error": map[string]any{"code": "unauthenticated", "message": "请先登录"}})
	})
	mux.HandleFunc("GET /api/v1/public/sessions", func(w http.ResponseWriter, r *http.Request) {
		replyJSON(w, http.StatusOK, map[string]any{"sessions": []any{map[string]any{"id": 1, "title": "副市长视频接访",
			"start": "2026-12-02T01:00:00Z", "end": "2026-12-02T03:00:00Z", "leader_name": "王五一", "leader_post": "副市长",
			"place": "市领导接访室", "halls": []string{"清波街道接访大厅"}, "portfolio": "住房保障"}}})
	})
	if dev {
		mux.HandleFunc("POST /dev/token", func(w http.ResponseWriter, r *http.Request) {
			replyJSON(w, http.StatusBadRequest, map[string]any{"error": map[string]any{"code": "invalid"}})
		})
	}
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

// TestFrontPage: / is the system's front page — its name and office, the staff login, the case
// query and the public schedule — with no role picker; the development form is at /dev.html,
// linked only when the server is in development mode.
func TestFrontPage(t *testing.T) {
	srv := frontFake(t, false)
	p := &tab{t: t, ctx: newBrowser(t), url: srv.URL}
	noHandlerErrors(t, collectConsole(p.ctx))
	p.do("open /", chromedp.Navigate(srv.URL+"/"))
	p.wait("the schedule", `document.querySelectorAll("#pub-rows tr").length === 1`)
	got := p.text(`[document.querySelector("h1").textContent, document.getElementById("front-office").textContent,
		!!document.querySelector("#role, select, #join-form"), !!document.querySelector('a[href="login.html"]'),
		!!document.querySelector('a[href="query.html"]'), !!document.querySelector('a[href="public.html"]'),
		document.getElementById("pub-rows").textContent.includes("王五一")].join("|")`)
	if want := "三级视频接访系统|信访工作机构|false|true|true|true|true"; got != want {
		t.Errorf("front page name|office|role picker|login|query|public|schedule = %q, want %q", got, want)
	}
	// The probe of the token endpoint has answered by the time the page settles.
	p.wait("the dev probe", `performance.getEntriesByType("resource").some((e) => e.name.endsWith("/dev/token"))`)
	if got := p.text(`String(document.getElementById("dev-foot").hidden)`); got != "true" {
		t.Errorf("outside development mode the dev form is linked (hidden=%s)", got)
	}
	p.do("switch to English", chromedp.Click(chromedp.CSS(`#lang button[data-lang="en"]`)))
	if got := p.text(`document.querySelector("h1").textContent + "|" + document.getElementById("front-office").textContent`); got != "Three-tier video reception system|Petition office" {
		t.Errorf("in English: %q", got)
	}

	dev := frontFake(t, true)
	p = &tab{t: t, ctx: newBrowser(t), url: dev.URL}
	p.do("open / in development mode", chromedp.Navigate(dev.URL+"/"))
	p.wait("the dev link", `!document.getElementById("dev-foot").hidden && document.querySelector("#dev-foot a").getAttribute("href") === "dev.html"`)
	p.do("follow it", chromedp.Click(chromedp.CSS("#dev-foot a")))
	p.wait("the development form", `location.pathname === "/dev.html" && document.body.dataset.ready === "true" && document.querySelectorAll("#role option").length > 0`)
}

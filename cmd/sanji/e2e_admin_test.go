package main

import (
	"regexp"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"sanji/scheduler"
	"sanji/scheduler/org"
	"sanji/web/browsertest"
)

// TestE2EAdminCreatesDistrictUser drives the identity pages in Chromium against the real app with
// the demo tree: the first admin logs in with the printed one-time password, must change it,
// creates a leader in 上城区, logs out; the new user logs in, changes the one-time password and
// sees only 上城区's subtree.
func TestE2EAdminCreatesDistrictUser(t *testing.T) {
	chromium := browsertest.Path(t)
	cfg := testConfig(t)
	cfg.Demo = true
	a := startTestApp(t, cfg)
	var adminPW string
	for _, l := range a.logins {
		if l.Username == scheduler.AdminUsername {
			adminPW = l.Password
		}
	}
	if adminPW == "" {
		t.Fatal("no admin login printed on the first start")
	}
	ctx := e2eBrowser(t, chromium)
	base := a.URL()
	at := func(page string) string {
		return "location.pathname.endsWith('/" + page + "') && document.readyState === 'complete'"
	}
	run := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, actions...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	login := func(user, pw string) {
		t.Helper()
		run("open login page", chromedp.Navigate(base+"/login.html"))
		e2eWait(t, ctx, "login page", at("login.html")+" && !!document.getElementById('username')")
		run("log in as "+user,
			chromedp.SendKeys(chromedp.ID("username"), user),
			chromedp.SendKeys(chromedp.ID("password"), pw),
			chromedp.Click(chromedp.ID("login-submit")))
	}
	// changePassword changes a one-time password; the user then lands where their role works.
	changePassword := func(old, neu, lands string) {
		t.Helper()
		e2eWait(t, ctx, "password page", at("password.html")+" && !document.getElementById('password-must').hidden")
		run("change password",
			chromedp.SendKeys(chromedp.ID("old-password"), old),
			chromedp.SendKeys(chromedp.ID("new-password"), neu),
			chromedp.SendKeys(chromedp.ID("new-password2"), neu),
			chromedp.Click(chromedp.ID("password-submit")))
		e2eWait(t, ctx, lands+" after the password change", at(lands))
	}

	login(scheduler.AdminUsername, adminPW)
	changePassword(adminPW, "admin-new-password-1", "admin.html")
	e2eWait(t, ctx, "the admin page ready", "window.sanjiAdmin && window.sanjiAdmin.ready")

	run("choose 上城区", chromedp.Click(chromedp.CSS(`#tree li[data-code="330102"] > button`)))
	e2eWait(t, ctx, "user form", "!document.getElementById('user-form').hidden && document.getElementById('unit-title').textContent === '上城区'")
	run("create a leader in 上城区",
		chromedp.SendKeys(chromedp.ID("new-username"), "shangcheng-leader"),
		chromedp.SendKeys(chromedp.ID("new-display-name"), "上城区领导"),
		chromedp.SetValue(chromedp.ID("new-role"), "leader"),
		chromedp.Click(chromedp.ID("user-submit")))
	e2eWait(t, ctx, "created user", "!!document.getElementById('admin-ok').dataset.password && !!document.querySelector('#users li[data-username=\"shangcheng-leader\"]')")
	newPW, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById('admin-ok').dataset.password`))
	if err != nil {
		t.Fatal(err)
	}
	run("create a terminal for 上城区's hall",
		chromedp.SendKeys(chromedp.ID("device-username"), "shangcheng-terminal"),
		chromedp.SendKeys(chromedp.ID("device-display-name"), "上城区接访大厅终端"),
		chromedp.Click(chromedp.ID("device-submit")))
	e2eWait(t, ctx, "pairing code shown", `/配对码：\d{10}/.test(document.getElementById('admin-ok').textContent)`)
	banner, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById('admin-ok').textContent`))
	if err != nil {
		t.Fatal(err)
	}
	code := regexp.MustCompile(`\d{10}`).FindString(banner)
	resp, err := testHTTPClient(t).Post(base+"/api/v1/devices/pair", "application/json", strings.NewReader(`{"code":"`+code+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("pairing with the code shown on the admin page: %d", resp.StatusCode)
	}
	run("log out", chromedp.Click(chromedp.ID("logout")))
	e2eWait(t, ctx, "login page after logout", at("login.html"))

	login("shangcheng-leader", newPW)
	changePassword(newPW, "leader-new-password-1", "reception.html") // a leader lands on today's receptions
	run("open the organisation page", chromedp.Navigate(base+"/admin.html"))
	e2eWait(t, ctx, "the admin page as the leader", at("admin.html")+" && window.sanjiAdmin && window.sanjiAdmin.ready")
	codes, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll('#tree li')).map((li) => li.dataset.code)`))
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(codes, " ")
	for _, want := range []string{"330102", "330102001", "330102002", "330102-XFJ", "330102-RSJ"} {
		if !strings.Contains(" "+got+" ", " "+want+" ") {
			t.Errorf("the district user's tree lacks %s: %s", want, got)
		}
	}
	for _, code := range codes {
		if !strings.HasPrefix(code, "330102") {
			t.Errorf("the district user sees %s outside 上城区: %s", code, got)
		}
	}
	// Users of the district are not theirs to see (a leader has no user.read), and the audit
	// link is hidden.
	hidden, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.getElementById('nav-audit').hidden`))
	if err != nil {
		t.Fatal(err)
	}
	if !hidden {
		t.Error("a leader sees the audit link")
	}

	// The leader joins the call of 上城区's hall with a join token from the API.
	run("choose 上城区 again", chromedp.Click(chromedp.CSS(`#tree li[data-code="330102"] > button`)))
	e2eWait(t, ctx, "join button", "!!document.querySelector('#halls .join-hall')")
	run("join the hall's call", chromedp.Click(chromedp.CSS(`#halls .join-hall`)))
	e2eWait(t, ctx, "call page joined with an API join token",
		`location.pathname.endsWith("/call.html") && !!window.sanjiCall && document.getElementById("room-label").textContent.includes("hall-")`)

	// The demo auditor, in a fresh browser context, finds the user's creation in the audit log.
	var auditorPW string
	for _, l := range a.logins {
		if l.Role == org.RoleAuditor {
			auditorPW = l.Password
		}
	}
	actx, cancel := chromedp.NewContext(ctx, chromedp.WithNewBrowserContext())
	defer cancel()
	ctx = actx
	login("demo-auditor", auditorPW)
	e2eWait(t, ctx, "audit page", at("audit.html")+" && document.querySelectorAll('#audit-rows tr').length > 0")
	run("search user creations",
		chromedp.SendKeys(chromedp.ID("f-action"), "user.create"),
		chromedp.Click(chromedp.ID("audit-submit")))
	e2eWait(t, ctx, "the creation of shangcheng-leader in the audit log",
		`[...document.querySelectorAll('#audit-rows tr')].some((tr) => tr.textContent.includes('user.create') && tr.textContent.includes('shangcheng-leader'))`)
}

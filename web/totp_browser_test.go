package web

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"sanji/auth"
	"sanji/scheduler/api"
	"sanji/scheduler/org"
)

// TestE2ETOTPLogin: under the default policy a hall operator's first login goes to the
// enrolment page, which shows the otpauth link and the key; the code computed here from the
// key confirms it, the ten recovery codes are shown once, and the operator lands on the queue.
// The next login asks for a code on the login page (the next step's: the first one is used).
func TestE2ETOTPLogin(t *testing.T) {
	a := startReceptionApp(t, func(c *api.Config) { c.TwoFactor = api.TwoFactor{} })
	ctx := context.Background()
	u := org.User{Kind: org.UserPerson, Username: "totp-operator", DisplayName: "值班员", UnitID: a.unit("330102").ID, PasswordHash: "test:totp-operator"}
	if err := a.st.CreateUser(ctx, &u); err != nil {
		t.Fatal(err)
	}
	if err := a.st.AddGrant(ctx, &org.Grant{UserID: u.ID, Role: org.RoleHallOperator, UnitID: u.UnitID}); err != nil {
		t.Fatal(err)
	}
	p := a.login(t, u.Username)
	p.wait("the enrolment page", `location.pathname === "/totp.html" && document.getElementById("totp-secret").value !== ""`)
	uri, secret := p.text(`document.getElementById("totp-uri").value`), p.text(`document.getElementById("totp-secret").value`)
	secret = strings.ReplaceAll(secret, " ", "")
	if !strings.HasPrefix(uri, "otpauth://totp/") || !strings.Contains(uri, "secret="+secret) || p.text(`document.getElementById("totp-required").hidden ? "" : "shown"`) != "shown" {
		t.Fatalf("enrolment shows %q and %q", uri, secret)
	}
	step := auth.TOTPStep(time.Now())
	code, err := auth.TOTPCode(secret, step)
	if err != nil {
		t.Fatal(err)
	}
	p.do("confirm", chromedp.SendKeys(chromedp.ID("totp-code"), code), chromedp.Click(chromedp.ID("totp-confirm")))
	p.wait("the recovery codes", `!document.getElementById("totp-codes").hidden && document.querySelectorAll("#totp-code-list li").length === 10`)
	p.do("continue", chromedp.Click(chromedp.ID("totp-saved")))
	p.wait("the hall's queue", `location.pathname === "/queue.html"`)

	q := &tab{t: t, ctx: newBrowser(t), url: a.url}
	q.do("open the login page", chromedp.Navigate(a.url+"/login.html"))
	q.wait("login form", `document.readyState === 'complete' && !!document.getElementById('username')`)
	q.do("log in", chromedp.SendKeys(chromedp.ID("username"), u.Username), chromedp.SendKeys(chromedp.ID("password"), u.Username),
		chromedp.Click(chromedp.ID("login-submit")))
	q.wait("the code form", `!document.getElementById("totp-form").hidden && document.getElementById("login-form").hidden`)
	next, _ := auth.TOTPCode(secret, step+1)
	q.do("give the code", chromedp.SendKeys(chromedp.ID("totp-code"), next), chromedp.Click(chromedp.ID("totp-submit")))
	q.wait("the hall's queue", `location.pathname === "/queue.html"`)
}

package main

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"

	"sanji/scheduler"
	"sanji/scheduler/casework"
	"sanji/scheduler/exchange"
	"sanji/web/browsertest"
)

// The staff pages over routes the API served before any page did: case exchange, roles and
// users on the admin page, and the holiday calendar. Each test drives its page in Chromium as the
// demo user whose role may use it, and checks the effect through the API.

// e2eLogins are the one-time passwords of the demo's users, by username.
func e2eLogins(a *app) map[string]string {
	out := map[string]string{}
	for _, l := range a.logins {
		out[l.Username] = l.Password
	}
	return out
}

// pageFetch runs fetch(path) in the page (its session cookie) and decodes the JSON answer.
func pageFetch[T any](t *testing.T, ctx context.Context, path string) T {
	t.Helper()
	raw, err := chromedp.Run(ctx, chromedp.Evaluate[string](fmt.Sprintf(
		`fetch(%q, {headers: {'Accept': 'application/json'}}).then(async (r) => JSON.stringify({status: r.status, body: await r.json()}))`, path),
		chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	var res struct {
		Status int
		Body   T
	}
	if err := json.Unmarshal([]byte(raw), &res); err != nil || res.Status != 200 {
		t.Fatalf("GET %s: %d %v: %s", path, res.Status, err, raw)
	}
	return res.Body
}

// peerCase is a claim registered at 上城区 by another system; with events > 1, its later state (accepted).
func peerCase(number string, at time.Time, events int) exchange.CaseRecord {
	rec := exchange.CaseRecord{Number: number, Unit: "330102", Territory: "330102", Form: casework.FormLetter,
		Type: casework.TypeClaim, Category: "02", Title: "外地转来的欠薪事项", Content: "工资被拖欠三个月",
		Petitioners: []exchange.PetitionerRecord{{Name: "王五", Role: casework.PetitionerSelf}}, InvolvedCount: 1,
		Status: casework.StRegistered, RegisteredAt: at, UpdatedAt: at,
		Timeline: []exchange.EventRecord{{At: at, Kind: casework.EvStatus, Actor: "peer-intake", To: casework.StRegistered, Reason: "登记"}}}
	if events > 1 {
		// The later state: the office there accepted it.
		rec.Timeline = append(rec.Timeline, exchange.EventRecord{At: at.Add(time.Hour), Kind: casework.EvStatus, Actor: "peer-intake",
			From: casework.StRegistered, To: casework.StAccepted, Reason: "受理"})
		rec.Status, rec.AcceptedAt, rec.UpdatedAt = casework.StAccepted, at.Add(time.Hour), at.Add(time.Hour)
	}
	return rec
}

// writePeerBundle writes a bundle of recs signed by key into dir/name and returns its path; with
// tamper, cases.json is changed after signing (the manifest keeps the old hash).
func writePeerBundle(t *testing.T, dir, name string, key ed25519.PrivateKey, tamper bool, recs ...exchange.CaseRecord) string {
	t.Helper()
	at := recs[0].UpdatedAt
	doc, err := json.Marshal(exchange.ExchangeCases{Format: exchange.ExchangeFormat, Identity: exchange.IdentityMasked, ExportedAt: at, Cases: recs})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := exchange.WriteBundle(&buf, doc, nil, key, at); err != nil {
		t.Fatal(err)
	}
	out := buf.Bytes()
	if tamper {
		zr, err := zip.NewReader(bytes.NewReader(out), int64(len(out)))
		if err != nil {
			t.Fatal(err)
		}
		var changed bytes.Buffer
		zw := zip.NewWriter(&changed)
		for _, f := range zr.File {
			r, err := f.Open()
			if err != nil {
				t.Fatal(err)
			}
			body, err := io.ReadAll(r)
			r.Close()
			if err != nil {
				t.Fatal(err)
			}
			if f.Name == exchange.BundleCases {
				body = bytes.Replace(body, []byte("三个月"), []byte("五个月"), 1)
			}
			w, err := zw.Create(f.Name)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := w.Write(body); err != nil {
				t.Fatal(err)
			}
		}
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
		out = changed.Bytes()
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, out, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestE2EExchangePage: the demo supervisor imports another system's bundle on the exchange page
// (a copy is created, as the API's case list shows), imports an older state of it (left alone,
// the reason in the page's language, Chinese and then English), is refused a tampered bundle with
// the part at fault named, is refused a full-identity export without a purpose, and exports the
// district's cases: the downloaded file is a bundle signed by this system that holds the copy.
func TestE2EExchangePage(t *testing.T) {
	chromium := browsertest.Path(t)
	peerPub, peer, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(t)
	cfg.Demo = true
	cfg.Exchange.TrustedKeys = []string{base64.StdEncoding.EncodeToString(peerPub)}
	a := startTestApp(t, cfg)
	files := t.TempDir()
	at := time.Now().Add(-48 * time.Hour).UTC().Truncate(time.Second)
	const number = "330102-2026-W-000042"
	newer := writePeerBundle(t, files, "newer.zip", peer, false, peerCase(number, at, 2))
	older := writePeerBundle(t, files, "older.zip", peer, false, peerCase(number, at, 1))
	tampered := writePeerBundle(t, files, "tampered.zip", peer, true, peerCase("330102-2026-W-000043", at, 1))

	p := openScreen(t, t, e2eBrowser(t, chromium), a.URL(), "demo-supervisor", e2eLogins(a)["demo-supervisor"])
	ctx := p.ctx
	run := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, actions...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Evaluate[string](fmt.Sprintf(`document.querySelector(%q).textContent`, sel)))
		if err != nil {
			t.Fatalf("read %s: %v", sel, err)
		}
		return s
	}
	// The header of another page links the exchange page for the supervisor.
	run("open the cases page", chromedp.Navigate(a.URL()+"/cases.html"))
	e2eWait(t, ctx, "exchange link in the header", `!!document.querySelector('.topbar a[href="exchange.html"]:not([hidden])')`)
	run("open the exchange page", chromedp.Click(chromedp.CSS(`.topbar a[href="exchange.html"]`)))
	e2eWait(t, ctx, "exchange page", `location.pathname.endsWith('/exchange.html') && window.sanjiExchange && window.sanjiExchange.ready`)

	importFile := func(path string) {
		t.Helper()
		run("import "+filepath.Base(path),
			chromedp.SetUploadFiles(chromedp.ID("i-file"), []string{path}),
			chromedp.Click(chromedp.ID("import-submit")))
	}
	importFile(newer)
	e2eWait(t, ctx, "the copy created", `!!document.querySelector('#import-rows tr[data-number="`+number+`"][data-outcome="created"]')`)
	if s := text("#import-rows tr"); !strings.Contains(s, "新建副本") {
		t.Errorf("the created row: %q", s)
	}
	cases := pageFetch[struct {
		Cases []struct {
			Case struct {
				ExternalID string `json:"external_id"`
				Number     string `json:"number"`
			} `json:"case"`
		} `json:"cases"`
	}](t, ctx, "/api/v1/cases")
	var copyNumber string
	for _, c := range cases.Cases {
		if c.Case.ExternalID == number {
			copyNumber = c.Case.Number
		}
	}
	if copyNumber == "" {
		t.Fatalf("the API lists no copy of %s: %+v", number, cases)
	}
	if s := text("#import-rows tr"); !strings.Contains(s, copyNumber) {
		t.Errorf("the row does not name the copy's number %s: %q", copyNumber, s)
	}

	importFile(older)
	e2eWait(t, ctx, "the older state left alone", `!!document.querySelector('#import-rows tr[data-outcome="stale"]')`)
	if s := text("#import-rows tr"); !strings.Contains(s, "本系统中的副本比数据包新") {
		t.Errorf("the stale row's reason in Chinese: %q", s)
	}
	run("switch to English", chromedp.Click(chromedp.CSS(`#lang button[data-lang="en"]`)))
	importFile(older)
	e2eWait(t, ctx, "the reason in English", `(document.querySelector('#import-rows tr[data-outcome="stale"]')?.textContent || '').includes('the copy here is newer')`)

	importFile(tampered)
	e2eWait(t, ctx, "the tampered bundle refused", `!document.getElementById('import-error').hidden`)
	if s := text("#import-error"); !strings.Contains(s, "does not match its SHA-256") || !strings.Contains(s, "cases.json") {
		t.Errorf("the refusal: %q", s)
	}
	if hidden, _ := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.getElementById('import-result').hidden`)); !hidden {
		t.Error("a refused import still shows a result")
	}

	run("ask for a full export without a purpose",
		chromedp.SetValue(chromedp.ID("x-identity"), "full"),
		chromedp.Click(chromedp.ID("export-submit")))
	e2eWait(t, ctx, "the export refused", `!document.getElementById('export-error').hidden`)
	if s := text("#export-error"); !strings.Contains(strings.ToLower(s), "purpose") {
		t.Errorf("the refusal of a full export without a purpose: %q", s)
	}

	downloads := t.TempDir()
	// The tab has a browser context of its own: downloads are allowed there.
	if _, err := chromedp.CallBrowser(ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
		Behavior: browser.SetDownloadBehaviorBehaviorAllow, DownloadPath: downloads, BrowserContextID: chromedp.FromContext(ctx).BrowserContextID}); err != nil {
		t.Fatal(err)
	}
	unit, err := chromedp.Run(ctx, chromedp.Evaluate[string](`[...document.querySelectorAll('#x-unit option')].find((o) => o.textContent.includes('(330102)')).value`))
	if err != nil {
		t.Fatal(err)
	}
	run("export 上城区's cases, masked",
		chromedp.SetValue(chromedp.ID("x-identity"), "masked"),
		chromedp.SetValue(chromedp.ID("x-unit"), unit),
		chromedp.Click(chromedp.ID("export-submit")))
	e2eWait(t, ctx, "the export done", `!document.getElementById('export-ok').hidden`)
	bundle := waitDownload(t, downloads)
	pub := pageFetch[struct {
		PublicKey string `json:"public_key"`
	}](t, ctx, "/api/v1/exchange/public-key")
	key, err := exchange.ParsePublicKey(pub.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	b, err := exchange.ReadBundle(bytes.NewReader(bundle), int64(len(bundle)), exchange.ExchangeKeys{Trusted: []crypto.PublicKey{key}})
	if err != nil {
		t.Fatalf("the downloaded bundle does not verify against this system's key: %v", err)
	}
	doc, err := exchange.ParseCases(b)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, c := range doc.Cases {
		found = found || c.Number == copyNumber
	}
	if !found || doc.Identity != exchange.IdentityMasked {
		t.Errorf("the export holds %d cases (identity %s), not the copy %s", len(doc.Cases), doc.Identity, copyNumber)
	}
	if exc := p.console.exceptions(); len(exc) > 0 {
		t.Errorf("exceptions: %v", exc)
	}
}

// waitDownload waits for the browser to finish writing one .zip into dir and returns its bytes.
func waitDownload(t *testing.T, dir string) []byte {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		zips, _ := filepath.Glob(filepath.Join(dir, "*.zip"))
		if len(zips) == 1 {
			if b, err := os.ReadFile(zips[0]); err == nil {
				if _, err := zip.NewReader(bytes.NewReader(b), int64(len(b))); err == nil {
					return b
				}
			}
		}
		if time.Now().After(deadline) {
			entries, _ := os.ReadDir(dir)
			t.Fatalf("no complete download in 20s: %v", entries)
		}
		time.Sleep(100 * time.Millisecond) // polling the file system for the condition, not a fixed wait
	}
}

// e2eUser is a user as GET /api/v1/users lists them.
type e2eUser struct {
	ID       int64  `json:"id"`
	Username string `json:"username"`
	Disabled bool   `json:"disabled"`
	Grants   []struct {
		ID     int64  `json:"id"`
		Role   string `json:"role"`
		UnitID int64  `json:"unit_id"`
	} `json:"grants"`
}

// TestE2EAdminRolesAndUsers: the demo district admin grants a role on the admin page, is refused
// a grant that breaks the separation of duties (the reason shown in Chinese, then in English after
// switching), revokes the grant, and disables and re-enables a user; the API's user list shows each
// change, and the disabled user cannot log in.
func TestE2EAdminRolesAndUsers(t *testing.T) {
	chromium := browsertest.Path(t)
	cfg := testConfig(t)
	cfg.Demo = true
	a := startTestApp(t, cfg)
	logins := e2eLogins(a)
	p := openScreen(t, t, e2eBrowser(t, chromium), a.URL(), "demo-district-admin", logins["demo-district-admin"])
	ctx := p.ctx
	run := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, actions...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	operator := func() e2eUser {
		t.Helper()
		us := pageFetch[struct{ Users []e2eUser }](t, ctx, "/api/v1/users")
		for _, u := range us.Users {
			if u.Username == "demo-operator" {
				return u
			}
		}
		t.Fatalf("the API lists no demo-operator")
		return e2eUser{}
	}
	hasRole := func(u e2eUser, role string) bool {
		for _, g := range u.Grants {
			if g.Role == role {
				return true
			}
		}
		return false
	}
	const item = `#users li[data-username="demo-operator"]`
	run("open the admin page", chromedp.Navigate(a.URL()+"/admin.html"))
	e2eWait(t, ctx, "admin page", `window.sanjiAdmin && window.sanjiAdmin.ready`)
	run("choose 清波街道", chromedp.Click(chromedp.CSS(`#tree li[data-code="330102001"] > button`)))
	e2eWait(t, ctx, "the operator's grant form", `!!document.querySelector('`+item+` .grant-form')`)

	run("grant the operator the observer role at 清波街道",
		chromedp.SetValue(chromedp.CSS(item+` .grant-role`), "observer"),
		chromedp.Click(chromedp.CSS(item+` .grant-submit`)))
	e2eWait(t, ctx, "the observer grant listed", `!!document.querySelector('`+item+` .grants li[data-role="observer"]')`)
	if u := operator(); !hasRole(u, "observer") {
		t.Fatalf("the API shows no observer grant: %+v", u)
	}

	run("grant the operator the auditor role",
		chromedp.SetValue(chromedp.CSS(item+` .grant-role`), "auditor"),
		chromedp.Click(chromedp.CSS(item+` .grant-submit`)))
	e2eWait(t, ctx, "the separation refused in Chinese", `!document.getElementById('admin-error').hidden && document.getElementById('admin-error').textContent.includes('三员分立')`)
	run("switch to English", chromedp.Click(chromedp.CSS(`#lang button[data-lang="en"]`)))
	run("grant the auditor role again",
		chromedp.SetValue(chromedp.CSS(item+` .grant-role`), "auditor"),
		chromedp.Click(chromedp.CSS(item+` .grant-submit`)))
	e2eWait(t, ctx, "the separation refused in English", `document.getElementById('admin-error').textContent.includes('separation of duties')`)
	if u := operator(); hasRole(u, "auditor") {
		t.Fatalf("the refused grant is there: %+v", u)
	}

	run("revoke the observer grant", chromedp.Click(chromedp.CSS(item+` .grants li[data-role="observer"] .revoke`)))
	e2eWait(t, ctx, "the observer grant gone", `!document.querySelector('`+item+` .grants li[data-role="observer"]') && !document.getElementById('admin-ok').hidden`)
	if u := operator(); hasRole(u, "observer") || !hasRole(u, "hall_operator") {
		t.Fatalf("after the revocation: %+v", u)
	}

	run("disable the operator", chromedp.Click(chromedp.CSS(item+` .toggle-disabled`)))
	e2eWait(t, ctx, "the operator disabled", `document.querySelector('`+item+`').dataset.disabled === 'true'`)
	if u := operator(); !u.Disabled {
		t.Fatalf("the API shows the operator enabled: %+v", u)
	}
	resp, err := testHTTPClient(t).Post(a.URL()+"/api/v1/session", "application/json",
		strings.NewReader(fmt.Sprintf(`{"username":"demo-operator","password":%q}`, logins["demo-operator"])))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode == 200 {
		t.Error("a disabled user logs in")
	}
	run("enable the operator again", chromedp.Click(chromedp.CSS(item+` .toggle-disabled`)))
	e2eWait(t, ctx, "the operator enabled", `document.querySelector('`+item+`').dataset.disabled === 'false'`)
	if u := operator(); u.Disabled {
		t.Fatalf("the API shows the operator disabled: %+v", u)
	}
	if exc := p.console.exceptions(); len(exc) > 0 {
		t.Errorf("exceptions: %v", exc)
	}
}

// e2eRootAdmin readies the first admin (the one at the root, who keeps the calendar) for a
// browser: logs in with the one-time password printed at start, sets a new one and returns it.
func e2eRootAdmin(t *testing.T, a *app) string {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	hc := testHTTPClient(t)
	hc.Jar = jar
	post := func(path, csrf, body string) []byte {
		t.Helper()
		req, err := http.NewRequest("POST", a.URL()+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-CSRF-Token", csrf)
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode/100 != 2 {
			t.Fatalf("POST %s: %d %s", path, resp.StatusCode, b)
		}
		return b
	}
	old := e2eLogins(a)[scheduler.AdminUsername]
	var me struct {
		CSRF string `json:"csrf_token"`
	}
	if err := json.Unmarshal(post("/api/v1/session", "", fmt.Sprintf(`{"username":%q,"password":%q}`, scheduler.AdminUsername, old)), &me); err != nil {
		t.Fatal(err)
	}
	const pw = "calendar-keeper-password-1"
	post("/api/v1/me/password", me.CSRF, fmt.Sprintf(`{"old_password":%q,"new_password":%q}`, old, pw))
	return pw
}

// TestE2EHolidayCalendarPage: the root admin finds the calendar in the header, sees a year not
// entered marked provisional, is refused a day without a name (the server's reason shown), enters
// a run of days off and a make-up working day, and the year turns entered; the calendar's API
// holds the days.
func TestE2EHolidayCalendarPage(t *testing.T) {
	chromium := browsertest.Path(t)
	cfg := testConfig(t)
	cfg.Demo = true
	a := startTestApp(t, cfg)
	pw := e2eRootAdmin(t, a)
	p := openScreen(t, t, e2eBrowser(t, chromium), a.URL(), scheduler.AdminUsername, pw)
	ctx := p.ctx
	run := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, actions...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	run("open the admin page", chromedp.Navigate(a.URL()+"/admin.html"))
	e2eWait(t, ctx, "the calendar linked in the header", `!!document.querySelector('.topbar a[href="holidays.html"]:not([hidden])')`)
	run("open the calendar", chromedp.Click(chromedp.CSS(`.topbar a[href="holidays.html"]`)))
	e2eWait(t, ctx, "calendar page", `location.pathname.endsWith('/holidays.html') && window.sanjiHolidays && window.sanjiHolidays.ready`)

	const year = "2099"
	// A number field's change event is what a person's edit fires.
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(() => { const y = document.getElementById('hol-year');
		y.value = '`+year+`'; return y.dispatchEvent(new Event('change')); })()`)); err != nil {
		t.Fatalf("open %s: %v", year, err)
	}
	e2eWait(t, ctx, year+" provisional", `document.querySelector('#hol-years tr[data-year="`+year+`"]')?.dataset.state === 'provisional' && !document.getElementById('hol-empty').hidden`)

	run("save a day without a name",
		chromedp.SetValue(chromedp.ID("hol-from"), year+"-01-01"),
		chromedp.Click(chromedp.ID("hol-submit")))
	e2eWait(t, ctx, "the nameless day refused", `!document.getElementById('hol-form-error').hidden && document.getElementById('hol-form-error').textContent.includes('春节')`)
	if focused, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.activeElement.id`)); focused != "hol-name" {
		t.Errorf("the refusal focuses %q, not the name", focused)
	}

	run("enter 元旦 as three days off",
		chromedp.SetValue(chromedp.ID("hol-to"), year+"-01-03"),
		chromedp.SetValue(chromedp.ID("hol-kind"), "holiday"),
		chromedp.SendKeys(chromedp.ID("hol-name"), "元旦"),
		chromedp.Click(chromedp.ID("hol-submit")))
	e2eWait(t, ctx, "three days listed", `document.querySelectorAll('#hol-days tr[data-kind="holiday"]').length === 3`)
	run("enter a make-up working day",
		chromedp.SetValue(chromedp.ID("hol-from"), year+"-01-04"),
		chromedp.SetValue(chromedp.ID("hol-to"), ""),
		chromedp.SetValue(chromedp.ID("hol-kind"), "workday"),
		chromedp.SetValue(chromedp.ID("hol-name"), "元旦调休上班"),
		chromedp.Click(chromedp.ID("hol-submit")))
	e2eWait(t, ctx, "the working day listed and the year entered",
		`!!document.querySelector('#hol-days tr[data-date="`+year+`-01-04"][data-kind="workday"]') && document.querySelector('#hol-years tr[data-year="`+year+`"]').dataset.state === 'entered'`)

	cal := pageFetch[struct {
		Holidays []struct{ Date, Kind, Name string }
		Covered  bool
		Verified bool
	}](t, ctx, "/api/v1/holiday-calendar?year="+year)
	want := map[string]string{year + "-01-01": "holiday", year + "-01-02": "holiday", year + "-01-03": "holiday", year + "-01-04": "workday"}
	if !cal.Covered || !cal.Verified || len(cal.Holidays) != len(want) {
		t.Fatalf("the calendar after the entries: %+v", cal)
	}
	for _, h := range cal.Holidays {
		if want[h.Date] != h.Kind || h.Name == "" {
			t.Errorf("day %+v, want kind %q", h, want[h.Date])
		}
	}
	if exc := p.console.exceptions(); len(exc) > 0 {
		t.Errorf("exceptions: %v", exc)
	}
}

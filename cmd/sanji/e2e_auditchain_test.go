package main

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/chromedp/chromedp"

	"sanji/scheduler/org"
	"sanji/web/browsertest"
)

// TestE2EAuditChainHead: the demo auditor (granted at the root) sees the audit chain's head on
// the audit page, a head the chain verifies through, and exports it as a JSON file.
func TestE2EAuditChainHead(t *testing.T) {
	chromium := browsertest.Path(t)
	cfg := testConfig(t)
	cfg.Demo = true
	a := startTestApp(t, cfg)
	var pw string
	for _, l := range a.logins {
		if l.Role == org.RoleAuditor {
			pw = l.Password
		}
	}
	ctx := e2eBrowser(t, chromium)
	run := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, actions...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	run("open the login page", chromedp.Navigate(a.URL()+"/login.html"))
	e2eWait(t, ctx, "login page", "document.readyState === 'complete' && !!document.getElementById('username')")
	run("log in as the auditor", chromedp.SendKeys(chromedp.ID("username"), "demo-auditor"),
		chromedp.SendKeys(chromedp.ID("password"), pw), chromedp.Click(chromedp.ID("login-submit")))
	e2eWait(t, ctx, "the chain head on the audit page", `location.pathname.endsWith('/audit.html') && !document.getElementById('chain').hidden
		&& /^[0-9a-f]{64}$/.test(document.getElementById('chain-head').textContent)`)
	shown, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById('chain-head').textContent`))
	if err != nil {
		t.Fatal(err)
	}
	if c, err := a.store.VerifyAudit(context.Background(), shown); err != nil || !c.OK {
		t.Fatalf("the page's head %s: VerifyAudit = %+v, %v", shown, c, err)
	}

	// The export: the file's contents, caught as the page hands them to the browser.
	run("catch the export", chromedp.Evaluate[chromedp.Void](`(() => {
		const orig = URL.createObjectURL;
		URL.createObjectURL = (b) => { b.text().then((s) => { window.exportedHead = s; }); return orig(b); };
	})()`))
	run("export the head", chromedp.Click(chromedp.ID("chain-export")))
	e2eWait(t, ctx, "the exported file", `typeof window.exportedHead === 'string'`)
	raw, err := chromedp.Run(ctx, chromedp.Evaluate[string](`window.exportedHead`))
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Hash      string `json:"hash"`
		Algorithm string `json:"algorithm"`
		EntryID   int64  `json:"entry_id"`
	}
	if err := json.Unmarshal([]byte(raw), &got); err != nil || got.Hash != shown || got.Algorithm != org.AuditHashSHA256 || got.EntryID == 0 {
		t.Fatalf("exported %s (%v), want the head %s", raw, err, shown)
	}
}

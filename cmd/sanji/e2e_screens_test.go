package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"sanji/scheduler"
	"sanji/scheduler/reception"
	"sanji/web/browsertest"
)

// TestE2EScreensReadWell opens the main pages of the demo at 1366×768, as the people who use them,
// in both languages, and measures the contrast of every piece of visible text against what is
// behind it (WCAG AA: 4.5:1, 3:1 for large text). The office pages are the light theme; the
// reception console and the hall terminal in a running call are the dark one. A screenshot of each
// page is kept for people (the test does not look at it).
func TestE2EScreensReadWell(t *testing.T) {
	chromium := browsertest.Path(t)
	cfg := testConfig(t)
	cfg.Demo = true
	a := startTestApp(t, cfg)
	passwords := map[string]string{}
	for _, l := range a.logins {
		passwords[l.Username] = l.Password
	}
	// The calendar's keeper is the first admin, whose printed password must be changed first.
	passwords[scheduler.AdminUsername] = e2eRootAdmin(t, a)
	rs, err := a.store.ListReceptionSessions(context.Background(), reception.SessionQuery{From: time.Now().Add(-time.Hour), To: time.Now().Add(24 * time.Hour)})
	if err != nil || len(rs) != 1 {
		t.Fatalf("demo reception: %v %v", rs, err)
	}
	session := rs[0]
	console := url.Values{"session": {fmt.Sprint(session.ID)}, "seat": {"studio"}}
	terminal := url.Values{"session": {fmt.Sprint(session.ID)}, "seat": {"hall"}, "hall": {fmt.Sprint(session.HallIDs[0])}}
	inCall := `window.sanjiReception && !!window.sanjiReception.state`

	screens := []struct {
		name, user, path, ready string
	}{
		{"front", "", "/", ""},
		{"login", "", "/login.html", ""},
		{"public", "", "/public.html", ""},
		{"query", "", "/query.html", ""},
		{"sessions", "demo-leader", "/sessions.html", ""},
		{"cases", "demo-leader", "/cases.html", ""},
		{"dashboard", "demo-leader", "/dashboard.html", ""},
		{"picker", "demo-leader", "/reception.html", ""},
		{"console", "demo-leader", "/reception.html?" + console.Encode(), inCall},
		{"queue", "demo-operator", "/queue.html", ""},
		{"terminal", "demo-operator", "/reception.html?" + terminal.Encode(), inCall},
		{"book", "demo-scheduler", "/book.html", ""},
		{"invitations", "demo-handler", "/invitations.html", ""},
		{"admin", "demo-district-admin", "/admin.html", ""},
		{"roles", "demo-district-admin", "/admin.html?unit=330102001", `!!document.querySelector('#users .grant-form')`},
		{"audit", "demo-auditor", "/audit.html", ""},
		{"exchange", "demo-supervisor", "/exchange.html", `window.sanjiExchange && window.sanjiExchange.ready`},
		{"holidays", scheduler.AdminUsername, "/holidays.html", `window.sanjiHolidays && window.sanjiHolidays.ready`},
	}
	browser := e2eBrowser(t, chromium)
	dir := screenshotDir(t)
	t.Run("the measure sees grey on white", func(t *testing.T) {
		p := openScreen(t, t, browser, a.URL(), "", "")
		// Styled through the CSSOM: the pages' policy refuses inline style attributes.
		inject := `(() => { const p = document.createElement('p'); p.textContent = '浅灰文字';
			p.style.color = '#aaa'; p.style.background = '#fff'; document.body.append(p); })()`
		if _, err := chromedp.Run(p.ctx, chromedp.Evaluate[any](inject)); err != nil {
			t.Fatal(err)
		}
		raw, err := chromedp.Run(p.ctx, chromedp.Evaluate[string](contrastScript))
		if err != nil || !strings.Contains(raw, `"Text":"浅灰文字"`) || !strings.Contains(raw, `"Ratio":2.3`) {
			t.Fatalf("grey #aaa on white (2.32:1) not reported: %s %v", raw, err)
		}
	})
	// One tab per user, logged in once (the login throttle counts per address).
	tabs := map[string]*e2ePage{}
	owner := t
	for _, lang := range []string{"zh", "en"} {
		for _, s := range screens {
			t.Run(lang+"/"+s.name, func(t *testing.T) {
				p := tabs[s.user]
				if p == nil {
					p = openScreen(t, owner, browser, a.URL(), s.user, passwords[s.user])
					tabs[s.user] = p
				}
				setLang := fmt.Sprintf(`localStorage.setItem('sanji.lang', %q)`, lang)
				if _, err := chromedp.Run(p.ctx, chromedp.Evaluate[any](setLang)); err != nil {
					t.Fatalf("choose %s: %v", lang, err)
				}
				if err := chromedp.Do(p.ctx, chromedp.Navigate(a.URL()+s.path)); err != nil {
					t.Fatalf("open %s: %v", s.path, err)
				}
				if s.ready != "" {
					e2eWait(t, p.ctx, s.name+": ready", s.ready)
				}
				screenSettled(t, p)
				var bad []contrastFailure
				raw, err := chromedp.Run(p.ctx, chromedp.Evaluate[string](contrastScript))
				if err != nil {
					t.Fatalf("measure contrast: %v", err)
				}
				if err := json.Unmarshal([]byte(raw), &bad); err != nil {
					t.Fatalf("contrast result %q: %v", raw, err)
				}
				for _, f := range bad {
					t.Errorf("%s: %q in <%s class=%q> has contrast %.2f:1 (want %.1f:1): %s on %s", s.path, f.Text, f.Tag, f.Class, f.Ratio, f.Want, f.FG, f.BG)
				}
				if shot, err := chromedp.Run(p.ctx, chromedp.CaptureScreenshot()); err == nil {
					_ = os.WriteFile(filepath.Join(dir, "sanji-screen-"+lang+"-"+s.name+".png"), shot, 0o600)
				}
			})
		}
	}
	for user, p := range tabs {
		if exc := p.console.exceptions(); len(exc) > 0 {
			t.Errorf("%s's pages: exceptions: %v", user, exc)
		}
	}
	t.Logf("screenshots in %s", dir)
}

type contrastFailure struct {
	Text, Tag, Class, FG, BG string
	Ratio, Want              float64
}

// openScreen is a fresh 1366×768 tab in its own browser context, logged in as user (nobody when
// user is ""). It lives as long as owner.
func openScreen(t, owner *testing.T, browser context.Context, base, user, password string) *e2ePage {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browser, chromedp.WithNewBrowserContext())
	p := &e2ePage{ctx: ctx}
	p.console = e2eCollectConsole(ctx)
	owner.Cleanup(func() {
		cancel()
		<-p.console.done
	})
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1366, 768), chromedp.Navigate(base+"/login.html")); err != nil {
		t.Fatalf("open login page: %v", err)
	}
	if user == "" {
		return p
	}
	login := fmt.Sprintf(`fetch('/api/v1/session', {method: 'POST', headers: {'Content-Type': 'application/json'},
		body: JSON.stringify({username: %q, password: %q})}).then(r => r.status)`, user, password)
	if st, err := chromedp.Run(ctx, chromedp.Evaluate[int](login, chromedp.EvalAwaitPromise)); err != nil || st != 200 {
		t.Fatalf("%s: log in: %d %v", user, st, err)
	}
	return p
}

// screenSettled waits until the page has loaded and its text has stopped changing (the pages fill
// themselves from the API after load).
func screenSettled(t *testing.T, p *e2ePage) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	last, same := "", 0
	for same < 4 {
		text, err := chromedp.Run(p.ctx, chromedp.Evaluate[string](`document.readyState === 'complete' ? document.body.innerText : ''`))
		if err == nil && text != "" && text == last {
			same++
		} else {
			same = 0
		}
		last = text
		if time.Now().After(deadline) {
			t.Fatalf("the page's text is still changing after 20s: %.200s", strings.ReplaceAll(text, "\n", " | "))
		}
		time.Sleep(150 * time.Millisecond)
	}
}

// contrastScript measures every element that shows text of its own (and every form field with a
// value): its colour, blended over the backgrounds behind it, against the nearest opaque background.
// Text over a video or an image cannot be judged this way and is left out; so are disabled controls
// (WCAG exempts them).
const contrastScript = `(() => {
  const parse = (c) => {
    const m = /rgba?\(([^)]+)\)/.exec(c || '');
    if (!m) return null;
    const p = m[1].split(/[\s,\/]+/).filter(Boolean).map(Number);
    return { r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1 };
  };
  const over = (top, bot) => ({ r: top.r * top.a + bot.r * (1 - top.a), g: top.g * top.a + bot.g * (1 - top.a), b: top.b * top.a + bot.b * (1 - top.a), a: 1 });
  const lum = (c) => {
    const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(c.r) + 0.7152 * f(c.g) + 0.0722 * f(c.b);
  };
  const css = (c) => 'rgb(' + [c.r, c.g, c.b].map(Math.round).join(',') + ')';
  const background = (el) => {
    const layers = [];
    for (let e = el; e; e = e.parentElement) {
      if (['VIDEO', 'CANVAS', 'IMG'].includes(e.tagName)) return null;
      const cs = getComputedStyle(e);
      if (cs.backgroundImage !== 'none') return null;
      const c = parse(cs.backgroundColor);
      if (c && c.a > 0) { layers.push(c); if (c.a >= 1) break; }
    }
    let bg = { r: 255, g: 255, b: 255, a: 1 };
    for (let i = layers.length - 1; i >= 0; i--) bg = over(layers[i], bg);
    return bg;
  };
  const out = [];
  for (const el of document.body.querySelectorAll('*')) {
    if (['SCRIPT', 'STYLE', 'OPTION', 'VIDEO', 'CANVAS', 'svg'].includes(el.tagName)) continue;
    const field = ['INPUT', 'SELECT', 'TEXTAREA'].includes(el.tagName) && el.value && el.type !== 'hidden' && el.type !== 'checkbox' && el.type !== 'radio' && el.type !== 'color';
    const own = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
    if (!own && !field) continue;
    if (el.closest(':disabled, [aria-disabled="true"]')) continue;
    const rects = el.getClientRects();
    if (!rects.length || rects[0].width === 0 || rects[0].height === 0) continue;
    const cs = getComputedStyle(el);
    if (cs.visibility !== 'visible') continue;
    let opacity = 1;
    for (let e = el; e; e = e.parentElement) opacity *= Number(getComputedStyle(e).opacity);
    if (opacity < 0.05) continue;
    const bg = background(el);
    if (!bg) continue;
    const fg0 = parse(cs.color);
    const fg = over({ ...fg0, a: fg0.a * opacity }, bg);
    const [hi, lo] = [lum(fg), lum(bg)].sort((x, y) => y - x);
    const ratio = (hi + 0.05) / (lo + 0.05);
    const size = parseFloat(cs.fontSize), bold = Number(cs.fontWeight) >= 700;
    const want = size >= 24 || (size >= 18.66 && bold) ? 3 : 4.5;
    if (ratio + 0.005 < want) {
      const text = field ? el.value : [...el.childNodes].filter((n) => n.nodeType === 3).map((n) => n.textContent.trim()).join(' ');
      out.push({ Text: text.slice(0, 40), Tag: el.tagName.toLowerCase(), Class: String(el.className || ''), FG: css(fg), BG: css(bg), Ratio: ratio, Want: want });
    }
  }
  return JSON.stringify(out);
})()`

package web

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	code := m.Run()
	// The shared browser of browser_test.go ends before the leak check, which would otherwise
	// count its goroutines.
	stopBrowser()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintf(os.Stderr, "goleak: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}

func get(t *testing.T, srv *httptest.Server, method, path string, hdr map[string]string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+path, nil)
	if err != nil {
		t.Fatalf("new request %s %s: %v", method, path, err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	res, err := srv.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	return res, string(body)
}

func TestServesPagesAndModules(t *testing.T) {
	srv := httptest.NewServer(Handler())
	defer srv.Close()

	cases := []struct {
		path, contentType, contains string
	}{
		{"/", "text/html; charset=utf-8", `src="js/front.js"`},
		{"/index.html", "text/html; charset=utf-8", `href="login.html"`},
		{"/dev.html", "text/html; charset=utf-8", `id="join-form"`},
		{"/call.html", "text/html; charset=utf-8", `src="js/call.js"`},
		{"/reception.html", "text/html; charset=utf-8", `src="js/reception.js"`},
		{"/dashboard.html", "text/html; charset=utf-8", `src="js/dashboard.js"`},
		{"/query.html", "text/html; charset=utf-8", `src="js/query.js"`},
		{"/js/charts.js", "text/javascript; charset=utf-8", "export function columns("},
		{"/js/reception.js", "text/javascript; charset=utf-8", "window.sanjiReception"},
		{"/js/i18n.js", "text/javascript; charset=utf-8", "export function t("},
		{"/js/catalog.js", "text/javascript; charset=utf-8", `"cases.title": ["信访事项 · 三级视频接访","Cases · Sanji"]`},
		{"/js/signaling.js", "text/javascript; charset=utf-8", "export class SignalingClient"},
		{"/js/session.js", "text/javascript; charset=utf-8", "export class CallSession"},
		{"/js/call.js", "text/javascript; charset=utf-8", "window.sanjiCall"},
		{"/js/join.js", "text/javascript; charset=utf-8", "dev/token"},
		{"/css/app.css", "text/css; charset=utf-8", ".tile"},
		{"/img/icon.svg", "image/svg+xml", "<svg"},
	}
	for _, c := range cases {
		res, body := get(t, srv, http.MethodGet, c.path, nil)
		if res.StatusCode != http.StatusOK {
			t.Errorf("GET %s: status %d, want 200", c.path, res.StatusCode)
			continue
		}
		if got := res.Header.Get("Content-Type"); got != c.contentType {
			t.Errorf("GET %s: Content-Type %q, want %q", c.path, got, c.contentType)
		}
		if got := res.Header.Get("Cache-Control"); got != "no-cache" {
			t.Errorf("GET %s: Cache-Control %q, want no-cache", c.path, got)
		}
		if got := res.Header.Get("X-Content-Type-Options"); got != "nosniff" {
			t.Errorf("GET %s: X-Content-Type-Options %q, want nosniff", c.path, got)
		}
		if !strings.Contains(body, c.contains) {
			t.Errorf("GET %s: body lacks %q", c.path, c.contains)
		}
		isHTML := strings.HasPrefix(c.contentType, "text/html")
		if csp := res.Header.Get("Content-Security-Policy"); isHTML != (csp != "") {
			t.Errorf("GET %s: Content-Security-Policy %q (html: %v)", c.path, csp, isHTML)
		}
	}
}

func TestContentSecurityPolicy(t *testing.T) {
	srv := httptest.NewServer(Handler())
	defer srv.Close()

	res, _ := get(t, srv, http.MethodGet, "/call.html", nil)
	csp := res.Header.Get("Content-Security-Policy")
	host := strings.TrimPrefix(srv.URL, "http://")
	for _, want := range []string{
		"default-src 'self'",
		"script-src 'self'",
		"connect-src 'self' ws://" + host + " wss://" + host,
		"media-src 'self' blob: mediastream:",
		"object-src 'none'",
		"frame-ancestors 'none'",
	} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
		t.Errorf("CSP %q allows inline or eval", csp)
	}

	// A Host header that tries to add a directive must not reach the policy.
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.Host = "evil.example; script-src *"
	Handler().ServeHTTP(rec, req)
	csp = rec.Header().Get("Content-Security-Policy")
	if strings.Contains(csp, "evil") || !strings.Contains(csp, "connect-src 'self';") {
		t.Errorf("CSP with hostile Host: %q", csp)
	}
}

// TestClusterContentSecurityPolicy: a node's pages may open the other nodes' WebSockets (where
// wrong_node sends them), and no more.
func TestClusterContentSecurityPolicy(t *testing.T) {
	h := HandlerForCluster(func() []string { return []string{"10.0.0.2:8080", "bad host; script-src *"} })
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "/reception.html", nil)
	req.Host = "10.0.0.1:8080"
	h.ServeHTTP(rec, req)
	csp := rec.Header().Get("Content-Security-Policy")
	if !strings.Contains(csp, "connect-src 'self' ws://10.0.0.1:8080 wss://10.0.0.1:8080 ws://10.0.0.2:8080 wss://10.0.0.2:8080;") {
		t.Errorf("cluster CSP: %q", csp)
	}
}

func TestUnknownPathsAndMethods(t *testing.T) {
	srv := httptest.NewServer(Handler())
	defer srv.Close()

	for _, p := range []string{"/nope.html", "/js/", "/js", "/static/index.html", "/js/missing.js", "/../web.go", "/web.go"} {
		res, body := get(t, srv, http.MethodGet, p, nil)
		if res.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: status %d, want 404", p, res.StatusCode)
		}
		if !strings.Contains(body, "页面不存在") || !strings.Contains(body, "page not found") {
			t.Errorf("GET %s: 404 body %q is not bilingual", p, body)
		}
	}

	res, _ := get(t, srv, http.MethodPost, "/index.html", nil)
	if res.StatusCode != http.StatusMethodNotAllowed || res.Header.Get("Allow") != "GET, HEAD" {
		t.Errorf("POST: status %d Allow %q, want 405 with Allow", res.StatusCode, res.Header.Get("Allow"))
	}

	res, body := get(t, srv, http.MethodHead, "/js/call.js", nil)
	if res.StatusCode != http.StatusOK || body != "" || res.Header.Get("Content-Type") != "text/javascript; charset=utf-8" {
		t.Errorf("HEAD: status %d, body %d bytes, type %q", res.StatusCode, len(body), res.Header.Get("Content-Type"))
	}
}

func TestRevalidation(t *testing.T) {
	srv := httptest.NewServer(Handler())
	defer srv.Close()

	res, _ := get(t, srv, http.MethodGet, "/js/session.js", nil)
	etag := res.Header.Get("ETag")
	if etag == "" {
		t.Fatal("no ETag")
	}
	res, body := get(t, srv, http.MethodGet, "/js/session.js", map[string]string{"If-None-Match": etag})
	if res.StatusCode != http.StatusNotModified || body != "" {
		t.Errorf("conditional GET: status %d, body %d bytes, want 304 and none", res.StatusCode, len(body))
	}
}

// Every page's scripts and styles and every module's imports must be served: a broken relative
// path only shows up in a browser otherwise.
func TestReferencesResolve(t *testing.T) {
	h, ok := Handler().(*handler)
	if !ok {
		t.Fatal("Handler is not *handler")
	}
	attr := regexp.MustCompile(`(?:src|href)="([^"#:]+)"`)
	imp := regexp.MustCompile(`(?m)^\s*(?:import|export)\s[^'"]*from\s+'(\./[^']+)'`)
	checked := 0
	for p, a := range h.assets {
		var refs []string
		switch {
		case strings.HasSuffix(p, ".html"):
			for _, m := range attr.FindAllStringSubmatch(string(a.body), -1) {
				refs = append(refs, "/"+m[1])
			}
		case strings.HasSuffix(p, ".js"):
			for _, m := range imp.FindAllStringSubmatch(string(a.body), -1) {
				refs = append(refs, "/js/"+strings.TrimPrefix(m[1], "./"))
			}
		}
		for _, r := range refs {
			checked++
			if _, ok := h.assets[r]; !ok {
				t.Errorf("%s refers to %s, which is not served", p, r)
			}
		}
	}
	if checked < 10 {
		t.Errorf("only %d references checked; the patterns no longer match the files", checked)
	}
}

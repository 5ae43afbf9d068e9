// Package web holds the browser client: plain HTML, CSS and ES modules embedded in the binary and
// served as they are, with no build step.
package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"

	"sanji/i18n"
)

//go:embed static
var static embed.FS

// contentTypes is explicit rather than mime.TypeByExtension, whose answer depends on the host's
// mime.types files: a browser refuses an ES module served as anything but JavaScript.
var contentTypes = map[string]string{
	".html":  "text/html; charset=utf-8",
	".js":    "text/javascript; charset=utf-8",
	".css":   "text/css; charset=utf-8",
	".svg":   "image/svg+xml",
	".png":   "image/png",
	".ico":   "image/x-icon",
	".json":  "application/json",
	".woff2": "font/woff2",
	".txt":   "text/plain; charset=utf-8",
}

type asset struct {
	body        []byte
	contentType string
	etag        string
}

// Handler serves the web client at "/": "/" is the front page, every other path is a file under
// static/ or a 404. Only GET and HEAD are answered.
func Handler() http.Handler {
	assets, err := load()
	if err != nil {
		// The assets are compiled in; failing to read them is a build defect, not a runtime condition.
		panic(fmt.Sprintf("web: embedded assets: %v", err))
	}
	return &handler{assets: assets}
}

// HandlerForCluster is Handler for a node of a cluster: the pages may also open the WebSocket of
// the hosts peers returns (host:port of every node), where a join refused with wrong_node sends
// them.
func HandlerForCluster(peers func() []string) http.Handler {
	h := Handler().(*handler)
	h.peers = peers
	return h
}

func load() (map[string]*asset, error) {
	root, err := fs.Sub(static, "static")
	if err != nil {
		return nil, fmt.Errorf("open static dir: %w", err)
	}
	assets := make(map[string]*asset)
	err = fs.WalkDir(root, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		ct, ok := contentTypes[path.Ext(p)]
		if !ok {
			return fmt.Errorf("asset %s: no content type for its extension", p)
		}
		body, err := fs.ReadFile(root, p)
		if err != nil {
			return fmt.Errorf("read asset %s: %w", p, err)
		}
		assets["/"+p] = newAsset(body, ct)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("walk static dir: %w", err)
	}
	// The messages are not a file here: they come from the one catalog the server renders too.
	if _, clash := assets[catalogPath]; clash {
		return nil, fmt.Errorf("asset %s: the catalog module is generated, remove the file", catalogPath)
	}
	assets[catalogPath] = newAsset(i18n.WebModule(), contentTypes[".js"])
	return assets, nil
}

// catalogPath is where the web client imports its messages from (i18n.js).
const catalogPath = "/js/catalog.js"

func newAsset(body []byte, contentType string) *asset {
	sum := sha256.Sum256(body)
	return &asset{body: body, contentType: contentType, etag: `"` + base64.RawURLEncoding.EncodeToString(sum[:12]) + `"`}
}

type handler struct {
	assets map[string]*asset
	peers  func() []string // nil on a single node
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, i18n.T("web.method_not_allowed").String(), http.StatusMethodNotAllowed)
		return
	}
	p := r.URL.Path
	if p == "/" {
		p = "/index.html"
	}
	a, ok := h.assets[p]
	if !ok {
		http.Error(w, i18n.T("web.page_not_found").String(), http.StatusNotFound)
		return
	}
	hdr := w.Header()
	hdr.Set("Content-Type", a.contentType)
	// Files keep their names across releases (no build step, no hashed names), so every
	// response is revalidated; the ETag makes that a cheap 304.
	hdr.Set("Cache-Control", "no-cache")
	hdr.Set("ETag", a.etag)
	hdr.Set("X-Content-Type-Options", "nosniff")
	// The join token travels in the URL fragment, which is never sent, but no page needs to tell
	// another site where it came from either.
	hdr.Set("Referrer-Policy", "no-referrer")
	if strings.HasSuffix(p, ".html") {
		var peers []string
		if h.peers != nil {
			peers = h.peers()
		}
		hdr.Set("Content-Security-Policy", csp(r.Host, peers...))
		hdr.Set("X-Frame-Options", "DENY")
		hdr.Set("Permissions-Policy", "camera=(self), microphone=(self), geolocation=()")
	}
	http.ServeContent(w, r, p, time.Time{}, bytes.NewReader(a.body))
}

// csp allows only this origin, and the WebSockets of a cluster's other nodes. The WebSocket is
// named with its ws:/wss: origin explicitly because older browsers do not let 'self' cover a
// scheme change from http to ws.
func csp(host string, peers ...string) string {
	connect := "'self'"
	for _, h := range append([]string{host}, peers...) {
		if safeHost(h) {
			connect += " ws://" + h + " wss://" + h
		}
	}
	return strings.Join([]string{
		"default-src 'self'",
		"script-src 'self'",
		"style-src 'self'",
		"img-src 'self' data: blob:",
		"media-src 'self' blob: mediastream:",
		"connect-src " + connect,
		"font-src 'self'",
		"object-src 'none'",
		"base-uri 'none'",
		"form-action 'self'",
		"frame-ancestors 'none'",
	}, "; ")
}

// safeHost keeps a Host header from adding directives to the policy: only host names, IPv4/IPv6
// literals and a port pass.
func safeHost(h string) bool {
	if h == "" || len(h) > 255 {
		return false
	}
	for _, c := range h {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '.', c == '-', c == ':', c == '[', c == ']':
		default:
			return false
		}
	}
	return true
}

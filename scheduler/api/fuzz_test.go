package api

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"sanji/scheduler/ical/icaltest"
	"sanji/scheduler/org"
)

// FuzzRequestBodies sends any JSON body to any route of the route table that takes one, as an
// admin of the whole city, with the path's parameters filled from the input. Invariants: no
// panic and no 500 (bad input is the client's error, never the server's); every refusal is the
// API's error body with a code and a message in the request's language (Chinese by default) with
// no unfilled {parameter}; a refused request writes nothing to the audit log but the refusals it
// records by design.
func FuzzRequestBodies(f *testing.F) {
	fx := newFixture(f, Config{})
	admin := fx.loginUser(fx.user(org.RoleAdmin, fx.root))
	var routes []RouteInfo
	for _, rt := range fx.api.routeTable() {
		switch {
		case rt.method == "GET":
			continue
		case rt.pattern == "/api/v1/session" || rt.pattern == "/api/v1/me/password":
			continue // they would log the fuzzing client out or change its password
		}
		routes = append(routes, RouteInfo{Method: rt.method, Pattern: rt.pattern})
	}
	if len(routes) < 20 {
		f.Fatalf("only %d routes take a body", len(routes))
	}
	for i := range routes {
		f.Add(uint8(i), []byte(`{}`), "1", false)
		f.Add(uint8(i), []byte(`{"name":"名","id":1,"kind":"hall","target_id":1}`), strconv.FormatInt(fx.hall1.ID, 10), true)
		f.Add(uint8(i), []byte(`[]`), "x", false)
		f.Add(uint8(i), []byte(`{"name":`), "-1", false)
	}
	f.Add(uint8(0), []byte(`{"kind":"unit","target_id":`+strconv.FormatInt(fx.t1.ID, 10)+`,"name":"日历"}`), "1", false)
	f.Add(uint8(0), []byte(`{"start":"2026-13-45T99:00:00Z","end":1e400}`), "2026-03-02", false)
	f.Add(uint8(0), []byte("\xef\xbb\xbf{\"name\":\"\\ud800\"}"), "9223372036854775808", false)

	lastAudit := func(t *testing.T) int64 {
		es, err := fx.st.SearchAudit(bg, org.AuditQuery{Limit: 1})
		if err != nil {
			t.Fatal(err)
		}
		if len(es) == 0 {
			return 0
		}
		return es[0].ID
	}

	f.Fuzz(func(t *testing.T, which uint8, body []byte, param string, english bool) {
		rt := routes[int(which)%len(routes)]
		path := rt.Pattern
		for {
			i := strings.IndexByte(path, '{')
			if i < 0 {
				break
			}
			j := strings.IndexByte(path[i:], '}')
			path = path[:i] + urlSegment(param) + path[i+j+1:]
		}
		before := lastAudit(t)
		req, err := http.NewRequest(rt.Method, fx.srv.URL+path, bytes.NewReader(body))
		if err != nil {
			return // a path http cannot send
		}
		req.Header.Set("Content-Type", "application/json")
		req.AddCookie(admin.cookie)
		req.Header.Set(csrfHeader, admin.csrf)
		lang := "zh-CN"
		if english {
			lang = "en"
		}
		req.Header.Set("Accept-Language", lang)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode >= 500 {
			t.Fatalf("%s %s %q: %d %s", rt.Method, path, body, resp.StatusCode, raw)
		}
		if resp.StatusCode < 400 {
			return
		}
		var eb errorBody
		if err := json.Unmarshal(raw, &eb); err != nil || eb.Error.Code == "" || eb.Error.Message == "" {
			t.Fatalf("%s %s %q: %d without an error body: %s", rt.Method, path, body, resp.StatusCode, raw)
		}
		msg := eb.Error.Message
		if !english && !strings.ContainsFunc(msg, func(r rune) bool { return r >= 0x4e00 && r <= 0x9fff }) {
			t.Fatalf("%s %s %q: the Chinese message is not Chinese: %q", rt.Method, path, body, msg)
		}
		if i := strings.IndexByte(msg, '{'); i >= 0 && strings.IndexByte(msg[i:], '}') > 0 {
			t.Fatalf("%s %s %q: an unfilled parameter in %q", rt.Method, path, body, msg)
		}
		es, err := fx.st.SearchAudit(bg, org.AuditQuery{Limit: 50})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range es {
			if e.ID > before && !refusalAudited(e.Action) {
				t.Fatalf("%s %s %q was refused (%d %s) but audited %q", rt.Method, path, body, resp.StatusCode, eb.Error.Code, e.Action)
			}
		}
	})
}

// refusalAudited says whether an audit action records a refusal, which is logged by design.
func refusalAudited(action string) bool {
	return strings.HasSuffix(action, ".fail") || strings.HasSuffix(action, "_fail") || strings.HasSuffix(action, ".denied") || strings.HasSuffix(action, ".refused")
}

// urlSegment makes s one path segment (the fuzzer's parameter may hold anything).
func urlSegment(s string) string {
	var b strings.Builder
	for _, c := range []byte(s) {
		if c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '-' || c == '.' || c == '_' {
			b.WriteByte(c)
		} else {
			b.WriteString("%" + strconv.FormatUint(uint64(c)>>4, 16) + strconv.FormatUint(uint64(c)&15, 16))
		}
	}
	if b.Len() == 0 {
		return "0"
	}
	return b.String()
}

// FuzzFeedFetch fetches /api/v1/ical/<file> without logging in, for any file name: a live feed's
// token with anything after it, or anything at all. Invariants: never a 500; a feed is served only
// for exactly its token (with or without .ics) as a calendar; anything else is the one bilingual
// "not found" that says nothing of whether the token exists.
func FuzzFeedFetch(f *testing.F) {
	fx := newFixture(f, Config{})
	staff := fx.loginUser(fx.user(org.RoleSchedulerStaff, fx.d1))
	resp, body := staff.do("POST", "/api/v1/feeds", map[string]any{"kind": "unit", "target_id": fx.t1.ID, "name": "清波街道;日历,\\"})
	if resp.StatusCode != http.StatusCreated {
		f.Fatalf("make a feed: %d %s", resp.StatusCode, body)
	}
	var made struct {
		Token string `json:"token"`
	}
	if err := json.Unmarshal(body, &made); err != nil || made.Token == "" {
		f.Fatalf("feed made: %s", body)
	}
	f.Add(made.Token+".ics", false)
	f.Add(made.Token, true)
	f.Add(made.Token+"x.ics", false)
	f.Add(strings.ToUpper(made.Token)+".ics", false)
	f.Add(".ics", false)
	f.Add(strings.Repeat("a", 101)+".ics", true)
	f.Add("%00.ics", false)

	f.Fuzz(func(t *testing.T, file string, english bool) {
		if file == "." || file == ".." || strings.Contains(file, "/") {
			return // not a file name: the path is cleaned to another route
		}
		fx.clock.add(time.Hour) // past the per-address limit of feed fetches
		req, err := http.NewRequest("GET", fx.srv.URL+feedPrefix+urlSegment(file), nil)
		if err != nil {
			return
		}
		if english {
			req.Header.Set("Accept-Language", "en")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		tok, _ := strings.CutSuffix(file, ".ics")
		switch {
		case resp.StatusCode == http.StatusOK:
			if tok != made.Token {
				t.Fatalf("%q served the feed of %q", file, made.Token)
			}
			icaltest.Parse(t, raw)
		case resp.StatusCode == http.StatusNotFound:
			if tok == made.Token {
				t.Fatalf("the feed's own token %q: 404", file)
			}
			var eb errorBody
			if err := json.Unmarshal(raw, &eb); err != nil || eb.Error.Code != CodeNotFound {
				t.Fatalf("%q: 404 without the not-found body: %s", file, raw)
			}
			if want := errFeedNotFound.msg.ZH; english {
				if eb.Error.Message != errFeedNotFound.msg.EN {
					t.Fatalf("%q: %q", file, eb.Error.Message)
				}
			} else if eb.Error.Message != want {
				t.Fatalf("%q: %q", file, eb.Error.Message)
			}
		default:
			t.Fatalf("%q: %d %s", file, resp.StatusCode, raw)
		}
	})
}

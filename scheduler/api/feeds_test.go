package api

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // the parser looks the feeds' TZID up

	goical "github.com/emersion/go-ical"

	"sanji/auth"
	"sanji/scheduler/calendar"
	"sanji/scheduler/ical/icaltest"
	"sanji/scheduler/org"
	"sanji/scheduler/reception"
)

type feedMade struct {
	Feed  FeedView `json:"feed"`
	Token string   `json:"token"`
	Path  string   `json:"path"`
}

func makeFeed(t *testing.T, c *client, kind string, target int64) feedMade {
	t.Helper()
	resp, body := c.do("POST", "/api/v1/feeds", map[string]any{"kind": kind, "target_id": target})
	wantStatus(t, resp, body, 201)
	var m feedMade
	if err := json.Unmarshal(body, &m); err != nil || m.Token == "" || m.Path != "/api/v1/ical/"+m.Token+".ics" {
		t.Fatalf("feed made: %s", body)
	}
	return m
}

// fetchFeed fetches a feed without logging in and reads it back strictly; events by UID.
func fetchFeed(t *testing.T, f *fixture, path string) ([]byte, map[string]goical.Event) {
	t.Helper()
	resp, body := f.anon().do("GET", path, nil)
	wantStatus(t, resp, body, 200)
	if ct := resp.Header.Get("Content-Type"); ct != "text/calendar; charset=utf-8" {
		t.Errorf("Content-Type %q", ct)
	}
	cal := icaltest.Parse(t, body)
	byUID := map[string]goical.Event{}
	for _, e := range cal.Events() {
		uid := e.Props.Get("UID").Value
		if _, dup := byUID[uid]; dup {
			t.Errorf("UID %s twice", uid)
		}
		byUID[uid] = e
	}
	return body, byUID
}

func prop(e goical.Event, name string) string {
	if p := e.Props.Get(name); p != nil {
		return p.Value
	}
	return ""
}

// TestCalendarFeed: a hall's feed as a calendar client reads it — the hall's sessions in the
// window, cancelled ones marked, text escaped and folded, no petitioner data — and the same
// UID with a higher SEQUENCE after a change; then the leader's and a unit's feeds, and 404 once
// revoked.
func TestCalendarFeed(t *testing.T) {
	f := newFixture(t, Config{})
	staff := f.loginUser(f.user(org.RoleSchedulerStaff, f.d1))
	leader := f.user(org.RoleLeader, f.d1)
	studio := org.Hall{UnitID: f.d1.ID, Kind: org.HallStudio, Name: "上城区区长演播室"}
	if err := f.st.CreateHall(bg, &studio); err != nil {
		t.Fatal(err)
	}
	// Commas, semicolons and a backslash to escape; long enough in Chinese to fold.
	title := `上城区区长视频接访（征地拆迁、劳动社保、城市管理集中接访）, 第1场; 备注\甲`
	st := time.Date(2026, 3, 12, 9, 0, 0, 0, calendar.Shanghai)
	mk := func(title string, start time.Time) SessionView {
		t.Helper()
		resp, body := staff.do("POST", "/api/v1/sessions", map[string]any{"unit_id": f.d1.ID, "title": title, "leader_id": leader.ID,
			"leader_name": "王五", "leader_post": "区长", "studio_id": studio.ID, "start": start, "end": start.Add(2 * time.Hour),
			"hall_ids": []int64{f.hall1.ID}, "unit_ids": []int64{f.t1.ID}, "lead_days": 1, "minutes_per_petitioner": 10,
			"max_petitioners": 6, "portfolio": "征地拆迁、劳动社保"})
		wantStatus(t, resp, body, 201)
		var v SessionView
		_ = json.Unmarshal(body, &v)
		return v
	}
	first, second := mk(title, st), mk("区长接访（第2场）", st.AddDate(0, 0, 7))
	resp, body := staff.do("POST", "/api/v1/sessions/"+idStr(second.ID)+"/cancel", map[string]string{"reason": "区长赴省里开会"})
	wantStatus(t, resp, body, 204)
	// Outside the window (40 days back, 200 ahead) and at another hall: not in the hall's feed.
	var outside []int64
	for _, x := range []reception.ReceptionSession{
		{UnitID: f.d1.ID, Title: "早前接访", Start: f.clock.now().AddDate(0, 0, -40), HallIDs: []int64{f.hall1.ID}},
		{UnitID: f.d1.ID, Title: "远期接访", Start: f.clock.now().AddDate(0, 0, 200), HallIDs: []int64{f.hall1.ID}},
		{UnitID: f.d2.ID, Title: "拱墅区接访", Start: st, HallIDs: []int64{f.hall2.ID}},
	} {
		x.End, x.MinutesPerPetitioner, x.MaxPetitioners = x.Start.Add(time.Hour), 10, 3
		if err := f.st.CreateReceptionSession(bg, &x); err != nil {
			t.Fatal(err)
		}
		outside = append(outside, x.ID)
	}
	// A petitioner booked into the first session: nothing of them may reach the feed.
	a := reception.Appointment{SessionID: first.ID, HallID: f.hall1.ID, Name: "赵铁柱", IDNumber: f.idNumber(), Phone: "13912345678",
		Matter: "宅基地确权纠纷", People: 1}
	if err := f.st.CreateAppointment(bg, &a, f.clock.now()); err != nil {
		t.Fatal(err)
	}

	hallFeed := makeFeed(t, staff, "hall", f.hall1.ID)
	if hallFeed.Feed.TargetName != f.hall1.Name || hallFeed.Feed.Name == "" {
		t.Errorf("feed view: %+v", hallFeed.Feed)
	}
	// The store keeps the token's hash only, and the audit never sees the token.
	if got, _ := f.st.GetCalendarFeed(bg, hallFeed.Feed.ID); got.TokenHash != auth.HashToken(hallFeed.Token) {
		t.Errorf("stored hash %q", got.TokenHash)
	}
	if es, _ := f.st.SearchAudit(bg, org.AuditQuery{Action: "feed.create"}); len(es) != 1 || strings.Contains(es[0].After, hallFeed.Token) {
		t.Errorf("feed audit: %+v", es)
	}

	raw, events := fetchFeed(t, f, hallFeed.Path)
	uid := func(id int64) string { return "session-" + idStr(id) + "@127.0.0.1" }
	if len(events) != 2 {
		t.Fatalf("%d events, want the two sessions of the hall in the window:\n%s", len(events), raw)
	}
	for _, id := range outside {
		if _, ok := events[uid(id)]; ok {
			t.Errorf("session %d is in the feed", id)
		}
	}
	e1, e2 := events[uid(first.ID)], events[uid(second.ID)]
	if e1.Component == nil || e2.Component == nil {
		t.Fatalf("UIDs: %v", events)
	}
	if s := icaltest.Text(t, e1.Component, "SUMMARY"); !strings.Contains(s, title) || !strings.Contains(s, "区长 王五") {
		t.Errorf("summary %q: the title and the leader", s)
	}
	if s := icaltest.Text(t, e1.Component, "LOCATION"); !strings.Contains(s, studio.Name) || !strings.Contains(s, f.hall1.Name) {
		t.Errorf("location %q: the studio and the halls", s)
	}
	if d := icaltest.Text(t, e1.Component, "DESCRIPTION"); !strings.Contains(d, "清波街道") || !strings.Contains(d, "征地拆迁") {
		t.Errorf("description %q: the roster's units and the portfolio", d)
	}
	if start, err := e1.DateTimeStart(time.UTC); err != nil || !start.Equal(st) || prop(e1, "STATUS") != "CONFIRMED" || prop(e1, "SEQUENCE") != "0" {
		t.Errorf("first session: start %v %v, status %s, sequence %s", start, err, prop(e1, "STATUS"), prop(e1, "SEQUENCE"))
	}
	if prop(e2, "STATUS") != "CANCELLED" || prop(e2, "SEQUENCE") != "1" || !strings.Contains(icaltest.Text(t, e2.Component, "DESCRIPTION"), "区长赴省里开会") {
		t.Errorf("the cancelled session: status %s, sequence %s", prop(e2, "STATUS"), prop(e2, "SEQUENCE"))
	}
	for _, pii := range []string{a.Name, a.IDNumber, a.Phone, a.Matter} {
		if strings.Contains(string(raw), pii) {
			t.Errorf("the feed holds petitioner data %q", pii)
		}
	}
	if !strings.Contains(string(raw), `\, 第1场\; 备注\\甲`) {
		t.Errorf("the title's comma, semicolon and backslash are not escaped:\n%s", raw)
	}

	// Moved an hour: the same UID, a higher SEQUENCE, the new time.
	resp, body = staff.do("PATCH", "/api/v1/sessions/"+idStr(first.ID), map[string]any{"start": st.Add(time.Hour), "end": st.Add(3 * time.Hour)})
	wantStatus(t, resp, body, 200)
	_, events = fetchFeed(t, f, hallFeed.Path)
	moved := events[uid(first.ID)]
	if moved.Component == nil || prop(moved, "SEQUENCE") != "1" || prop(moved, "DTSTAMP") < prop(e1, "DTSTAMP") {
		t.Fatalf("after the move: %+v", moved)
	}
	if start, _ := moved.DateTimeStart(time.UTC); !start.Equal(st.Add(time.Hour)) {
		t.Errorf("moved start %v", start)
	}

	// The leader's feed has the leader's sessions only; the township's, those it is on.
	other := reception.ReceptionSession{UnitID: f.d1.ID, Title: "另一位领导接访", Start: st.AddDate(0, 0, 1), End: st.AddDate(0, 0, 1).Add(time.Hour),
		LeaderID: f.user(org.RoleLeader, f.d1).ID, LeaderName: "钱六", HallIDs: []int64{f.hall1.ID}, MinutesPerPetitioner: 10, MaxPetitioners: 3}
	if err := f.st.CreateReceptionSession(bg, &other); err != nil {
		t.Fatal(err)
	}
	_, events = fetchFeed(t, f, makeFeed(t, staff, "leader", leader.ID).Path)
	if _, ok := events[uid(other.ID)]; ok || len(events) != 2 {
		t.Errorf("the leader's feed: %d events", len(events))
	}
	_, events = fetchFeed(t, f, makeFeed(t, staff, "unit", f.t1.ID).Path)
	if _, ok := events[uid(first.ID)]; !ok || len(events) != 2 {
		t.Errorf("the township's feed: %d events", len(events))
	}

	// Listed for staff, then revoked: 404, as for a token that never was.
	resp, body = staff.do("GET", "/api/v1/feeds", nil)
	wantStatus(t, resp, body, 200)
	if strings.Count(string(body), `"kind"`) != 3 || strings.Contains(string(body), hallFeed.Token) {
		t.Errorf("feed list: %s", body)
	}
	resp, body = staff.do("DELETE", "/api/v1/feeds/"+idStr(hallFeed.Feed.ID), nil)
	wantStatus(t, resp, body, 204)
	for _, path := range []string{hallFeed.Path, "/api/v1/ical/" + strings.Repeat("A", 43) + ".ics", "/api/v1/ical/" + strings.Repeat("A", 200)} {
		resp, body = f.anon().do("GET", path, nil)
		wantStatus(t, resp, body, 404)
	}
}

// TestCalendarFeedRevoke: a feed's creator revokes it, scheduling staff over its subject may too,
// other readers may not; and a feed dies with its creator's right to read.
func TestCalendarFeedRevoke(t *testing.T) {
	f := newFixture(t, Config{})
	leaderU := f.user(org.RoleLeader, f.d1)
	leader := f.loginUser(leaderU)
	mine := makeFeed(t, leader, "hall", f.hall1.ID)
	operator := f.loginUser(f.user(org.RoleHallOperator, f.d1))
	resp, body := operator.do("DELETE", "/api/v1/feeds/"+idStr(mine.Feed.ID), nil)
	wantStatus(t, resp, body, 403)
	staff := f.loginUser(f.user(org.RoleSchedulerStaff, f.d1))
	resp, body = staff.do("DELETE", "/api/v1/feeds/"+idStr(mine.Feed.ID), nil)
	wantStatus(t, resp, body, 204)
	resp, body = leader.do("DELETE", "/api/v1/feeds/"+idStr(mine.Feed.ID), nil)
	wantStatus(t, resp, body, 404)

	again := makeFeed(t, leader, "hall", f.hall1.ID)
	fetchFeed(t, f, again.Path)
	if err := f.st.SetUserDisabled(bg, leaderU.ID, true); err != nil {
		t.Fatal(err)
	}
	resp, body = f.anon().do("GET", again.Path, nil)
	wantStatus(t, resp, body, 404)
}

func TestCalendarFeedValidation(t *testing.T) {
	f := newFixture(t, Config{})
	staff := f.loginUser(f.user(org.RoleSchedulerStaff, f.d1))
	operator := f.user(org.RoleHallOperator, f.d1)
	for _, tc := range []struct {
		body  map[string]any
		field string
	}{
		{map[string]any{"kind": "room", "target_id": f.hall1.ID}, "kind"},
		{map[string]any{"kind": "hall", "target_id": 99999}, "target_id"},
		{map[string]any{"kind": "leader", "target_id": operator.ID}, "target_id"},
		{map[string]any{"kind": "unit", "target_id": f.t1.ID, "name": strings.Repeat("名", 101)}, "name"},
	} {
		resp, body := staff.do("POST", "/api/v1/feeds", tc.body)
		wantStatus(t, resp, body, 400)
		if e := errCode(t, body); e.Field != tc.field || e.Message == "" {
			t.Errorf("%v: %+v", tc.body, e)
		}
	}
}

// TestCalendarFeedRateLimit: fetches are limited per client address, known token or not.
func TestCalendarFeedRateLimit(t *testing.T) {
	f := newFixture(t, Config{FeedPerMinute: 1, FeedBurst: 2})
	m := makeFeed(t, f.loginUser(f.user(org.RoleSchedulerStaff, f.d1)), "hall", f.hall1.ID)
	fetchFeed(t, f, m.Path)
	resp, body := f.anon().do("GET", "/api/v1/ical/guess.ics", nil)
	wantStatus(t, resp, body, 404)
	resp, body = f.anon().do("GET", m.Path, nil)
	wantStatus(t, resp, body, 429)
	if resp.Header.Get("Retry-After") == "" {
		t.Error("no Retry-After")
	}
	f.clock.add(time.Minute)
	fetchFeed(t, f, m.Path)
}

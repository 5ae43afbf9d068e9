package api

import (
	"fmt"

	"sanji/auth"
	"sanji/scheduler/org"
	"sanji/scheduler/reception"
)

// The calendar feed routes' rows of the authorization matrix (matrix_test.go).
func init() {
	for k, v := range feedMatrix {
		matrix[k] = v
	}
}

// feed stores a feed of d1's hall (inside) or d2's, made by the user by, and returns its token.
func (f *fixture) feed(inside bool, by int64) (reception.CalendarFeed, string) {
	f.t.Helper()
	tok := fmt.Sprintf("feed-token-%06d", f.next())
	h := f.hallIn(inside)
	feed := reception.CalendarFeed{Kind: reception.FeedHall, TargetID: h.ID, UnitID: h.UnitID, Name: h.Name, TokenHash: auth.HashToken(tok), CreatedBy: by}
	if err := f.st.CreateCalendarFeed(bg, &feed); err != nil {
		f.t.Fatal(err)
	}
	return feed, tok
}

var feedMatrix = map[string]matrixRow{
	"GET /api/v1/feeds": {list: true, call: func(f *fixture, c *client, in bool) (string, any) { return "/api/v1/feeds", nil }},
	"POST /api/v1/feeds": {call: func(f *fixture, c *client, in bool) (string, any) {
		return "/api/v1/feeds", map[string]any{"kind": "hall", "target_id": f.hallIn(in).ID}
	}},
	// The caller's own feed: revoking another's also needs session.write (TestCalendarFeedRevoke).
	"DELETE /api/v1/feeds/{id}": {call: func(f *fixture, c *client, in bool) (string, any) {
		feed, _ := f.feed(in, c.userID)
		return "/api/v1/feeds/" + idStr(feed.ID), nil
	}},
	// Anyone holding the URL, logged in or not, as long as the feed's creator may still read it.
	"GET /api/v1/ical/{file}": {call: func(f *fixture, c *client, in bool) (string, any) {
		_, tok := f.feed(in, f.user(org.RoleSchedulerStaff, pick(in, f.d1, f.d2)).ID)
		return "/api/v1/ical/" + tok + ".ics", nil
	}},
}

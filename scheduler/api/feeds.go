package api

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"sanji/auth"
	"sanji/scheduler/ical"
	"sanji/scheduler/org"
	"sanji/scheduler/reception"
)

// Calendar feeds: staff make a secret URL of a leader's, a hall's or a unit's sessions for a
// calendar client (iCalendar, RFC 5545). The URL needs no login: its token is the credential, so
// the store keeps only its hash, the fetch is rate-limited per client address, and an unknown or
// revoked token is a plain 404. A feed never shows more than its creator may read: it stops
// working (404) once the creator is disabled or no longer has session.read over the subject.

// feedPrefix is where feeds are fetched; the rest of the path is the secret token.
const feedPrefix = "/api/v1/ical/"

// feedRefresh is how often clients are asked to fetch a feed again.
const feedRefresh = time.Hour

// beijing is the zone of the feeds' times: people read them in Beijing time, which has had no
// daylight saving time since 1991 (calendar.Shanghai is the same fixed offset).
var beijing = ical.Zone{ID: "Asia/Shanghai", Name: "CST", Offset: 8 * 3600}

// FeedView is a calendar feed for staff; the token is shown once, when the feed is made.
type FeedView struct {
	ID         int64     `json:"id"`
	Kind       string    `json:"kind"`
	TargetID   int64     `json:"target_id"`
	TargetName string    `json:"target_name"`
	UnitID     int64     `json:"unit_id"`
	Name       string    `json:"name"`
	CreatedBy  string    `json:"created_by"` // the creator's display name
	CreatedAt  time.Time `json:"created_at"`
}

// feedSubject resolves what a feed follows: the unit where it sits in the tree and its name.
func (s *Server) feedSubject(ctx context.Context, kind string, id int64) (org.Unit, string, error) {
	missing := invalidField("target_id", "api.feed.target_missing")
	var unitID int64
	var name string
	switch kind {
	case reception.FeedLeader:
		u, err := s.st.GetUser(ctx, id)
		if errors.Is(err, org.ErrNotFound) || (err == nil && u.Kind != org.UserPerson) {
			return org.Unit{}, "", missing
		}
		if err != nil {
			return org.Unit{}, "", err
		}
		gs, err := s.st.ListGrants(ctx, id)
		if err != nil {
			return org.Unit{}, "", err
		}
		leads := false
		for _, g := range gs {
			leads = leads || g.Role == org.RoleLeader
		}
		if !leads {
			return org.Unit{}, "", invalidField("target_id", "api.feed.not_leader")
		}
		unitID, name = u.UnitID, u.DisplayName
	case reception.FeedHall:
		h, err := s.st.GetHall(ctx, id)
		if errors.Is(err, org.ErrNotFound) {
			return org.Unit{}, "", missing
		}
		if err != nil {
			return org.Unit{}, "", err
		}
		unitID, name = h.UnitID, h.Name
	case reception.FeedUnit:
		unitID = id
	default:
		return org.Unit{}, "", invalidField("kind", "api.feed.bad_kind")
	}
	u, err := s.st.GetUnit(ctx, unitID)
	if errors.Is(err, org.ErrNotFound) {
		return u, "", missing
	}
	if name == "" {
		name = u.Name
	}
	return u, name, err
}

// feedView names the feed's subject; halls and units are never deleted, so a name that cannot be
// read (a store error) is left empty rather than failing the whole list.
func feedView(n *names, f reception.CalendarFeed) FeedView {
	v := FeedView{ID: f.ID, Kind: f.Kind, TargetID: f.TargetID, UnitID: f.UnitID, Name: f.Name, CreatedBy: n.user(f.CreatedBy),
		CreatedAt: f.CreatedAt}
	switch f.Kind {
	case reception.FeedLeader:
		v.TargetName = n.user(f.TargetID)
	case reception.FeedHall:
		v.TargetName, _ = n.hall(f.TargetID)
	default:
		u, _ := n.unit(f.TargetID)
		v.TargetName = u.Name
	}
	return v
}

type createFeedRequest struct {
	Kind     string `json:"kind"`
	TargetID int64  `json:"target_id"`
	Name     string `json:"name"`
}

// createFeed makes a feed of a subject in the caller's scope and returns its token, once.
func (s *Server) createFeed(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	var req createFeedRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	ctx := r.Context()
	u, target, err := s.feedSubject(ctx, req.Kind, req.TargetID)
	if err != nil {
		return err
	}
	if err := rc.require(u.Path); err != nil {
		return err
	}
	name := strings.TrimSpace(req.Name)
	if name == "" {
		name = target + " · 接访日程"
	}
	tok, err := auth.RandomToken(32)
	if err != nil {
		return err
	}
	f := reception.CalendarFeed{Kind: req.Kind, TargetID: req.TargetID, UnitID: u.ID, Name: name, TokenHash: auth.HashToken(tok),
		CreatedBy: rc.p.User.ID}
	if err := s.st.CreateCalendarFeed(ctx, &f); err != nil {
		return err
	}
	v := feedView(s.names(ctx), f)
	// The audit names the feed, never its token.
	if err := rc.audit("feed.create", "feed:"+strconv.FormatInt(f.ID, 10), u, nil, v); err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, map[string]any{"feed": v, "token": tok, "path": feedPrefix + tok + ".ics"})
	return nil
}

// listFeeds lists the feeds of subjects in the caller's subtrees.
func (s *Server) listFeeds(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	ctx := r.Context()
	n := s.names(ctx)
	out, err := inSubtrees(ctx, rc, s.st.ListCalendarFeeds, func(f reception.CalendarFeed) FeedView { return feedView(n, f) })
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"feeds": out})
	return nil
}

// revokeFeed ends a feed: its creator may, and so may scheduling staff over its subject.
func (s *Server) revokeFeed(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	ctx := r.Context()
	f, err := s.st.GetCalendarFeed(ctx, id)
	if err != nil {
		return err
	}
	u, err := s.unitInScope(ctx, rc, f.UnitID)
	if err != nil {
		return err
	}
	if f.CreatedBy != rc.p.User.ID {
		if err := rc.requireAction(org.ActSessionWrite, u.Path); err != nil {
			return err
		}
	}
	if err := s.st.RevokeCalendarFeed(ctx, id, s.now()); err != nil {
		return err
	}
	if err := rc.audit("feed.revoke", "feed:"+strconv.FormatInt(id, 10), u, nil, nil); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

var errFeedNotFound = newErr(http.StatusNotFound, CodeNotFound, "api.feed.not_found")

// liveFeed is the working feed of token tok; anything else is errFeedNotFound, which says
// nothing about whether the token ever existed.
func (s *Server) liveFeed(ctx context.Context, tok string) (reception.CalendarFeed, error) {
	if tok == "" || len(tok) > 100 {
		return reception.CalendarFeed{}, errFeedNotFound
	}
	f, err := s.st.GetCalendarFeedByHash(ctx, auth.HashToken(tok))
	if errors.Is(err, org.ErrNotFound) || (err == nil && !f.RevokedAt.IsZero()) {
		return f, errFeedNotFound
	}
	if err != nil {
		return f, err
	}
	creator, err := s.principal(ctx, f.CreatedBy)
	if err != nil {
		return f, err
	}
	u, err := s.st.GetUnit(ctx, f.UnitID)
	if err != nil {
		return f, err
	}
	if creator == nil || !creator.Can(org.ActSessionRead, u.Path) {
		return f, errFeedNotFound
	}
	return f, nil
}

// icalFeed serves a feed: the subject's sessions from FeedPastDays back to FeedAheadDays ahead,
// cancelled ones marked so. Nothing of any petitioner is in it: appointments are never read.
func (s *Server) icalFeed(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	now := s.now()
	if ok, wait := s.feedLim.allow(rc.ip, now); !ok {
		w.Header().Set("Retry-After", strconv.Itoa(int(wait/time.Second)+1))
		return newErr(http.StatusTooManyRequests, CodeRateLimited, "api.feed.too_often")
	}
	ctx := r.Context()
	tok, _ := strings.CutSuffix(r.PathValue("file"), ".ics")
	f, err := s.liveFeed(ctx, tok)
	if err != nil {
		return err
	}
	list, err := s.st.ListReceptionSessions(ctx, f.Query(now))
	if err != nil {
		return err
	}
	cal := ical.Calendar{ProdID: "-//Sanji//Reception Calendar//ZH", Name: f.Name, Zone: &beijing, Refresh: feedRefresh}
	n := s.names(ctx)
	host := uidHost(r.Host)
	for _, x := range list {
		e, err := sessionEvent(n, x, host)
		if err != nil {
			return err
		}
		cal.Events = append(cal.Events, e)
	}
	h := w.Header()
	h.Set("Content-Type", "text/calendar; charset=utf-8")
	h.Set("Content-Disposition", `inline; filename="sanji.ics"`)
	h.Set("Cache-Control", "private, no-cache")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(cal.Encode())
	return nil
}

// uidHost is the right-hand side of the events' UIDs: the server's name as the client reached
// it, which is the same on every fetch of one subscription, so a session's UID is stable.
func uidHost(host string) string {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.Map(func(r rune) rune {
		if r < 0x80 && (r == '.' || r == '-' || r == ':' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return r
		}
		return -1
	}, host)
	if host == "" {
		return "sanji"
	}
	return strings.ToLower(host)
}

// sessionEvent is a session as a calendar event: what, who, where and when, the roster by name,
// and why it was cancelled. The revision is the SEQUENCE and its time the DTSTAMP, so clients
// take a changed session as newer.
func sessionEvent(n *names, x reception.ReceptionSession, host string) (ical.Event, error) {
	leader := strings.TrimSpace(x.LeaderPost + " " + x.LeaderName)
	summary := x.Title
	if x.LeaderName != "" && !strings.Contains(x.Title, x.LeaderName) {
		summary += "（" + leader + "）"
	}
	status := ical.StatusConfirmed
	if x.Status == reception.SessionCancelled {
		summary, status = "[已取消] "+summary, ical.StatusCancelled
	}
	var places, halls, units []string
	if x.StudioID != 0 {
		name, err := n.hall(x.StudioID)
		if err != nil {
			return ical.Event{}, err
		}
		places = append(places, name)
	}
	for _, id := range x.HallIDs {
		name, err := n.hall(id)
		if err != nil {
			return ical.Event{}, err
		}
		places, halls = append(places, name), append(halls, name)
	}
	for _, id := range x.UnitIDs {
		u, err := n.unit(id)
		if err != nil {
			return ical.Event{}, err
		}
		units = append(units, u.Name)
	}
	var d []string
	add := func(label, v string) {
		if v != "" {
			d = append(d, label+"："+v)
		}
	}
	add("接访领导", leader)
	add("分管领域", x.Portfolio)
	if x.StudioID != 0 {
		add("主会场", places[0])
	}
	add("参会大厅", strings.Join(halls, "、"))
	add("参会单位", strings.Join(units, "、"))
	if x.Holiday != "" {
		add("节假日", x.Holiday+"（照常接访）")
	}
	if x.Status == reception.SessionCancelled {
		add("已取消", x.CancelReason)
	}
	add("会次编号", strconv.FormatInt(x.ID, 10))
	stamp := x.UpdatedAt
	if stamp.IsZero() {
		stamp = x.CreatedAt
	}
	return ical.Event{UID: "session-" + strconv.FormatInt(x.ID, 10) + "@" + host, Stamp: stamp, Created: x.CreatedAt, Modified: stamp,
		Start: x.Start, End: x.End, Sequence: x.Revision, Status: status, Summary: summary,
		Location: strings.Join(places, "、"), Description: strings.Join(d, "\n")}, nil
}

package api

import (
	"context"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"sanji/i18n"
	"sanji/scheduler/calendar"
	"sanji/scheduler/org"
	"sanji/scheduler/reception"
)

// Multi-site hearings: invitations of units and halls to a session and their answers.

// SessionBrief is what an invited unit needs to know of the session.
type SessionBrief struct {
	ID         int64     `json:"id"`
	Title      string    `json:"title"`
	Start      time.Time `json:"start"`
	End        time.Time `json:"end"`
	Status     string    `json:"status"`
	LeaderName string    `json:"leader_name,omitempty"`
	LeaderPost string    `json:"leader_post,omitempty"`
}

// InvitationView is an invitation with the names a person reads.
type InvitationView struct {
	ID         int64      `json:"id"`
	SessionID  int64      `json:"session_id"`
	Kind       string     `json:"kind"`
	TargetID   int64      `json:"target_id"`
	TargetName string     `json:"target_name"`
	UnitID     int64      `json:"unit_id"`
	UnitName   string     `json:"unit_name"`
	Note       string     `json:"note,omitempty"`
	Status     string     `json:"status"`
	Reason     string     `json:"reason,omitempty"`
	InvitedAt  time.Time  `json:"invited_at"`
	AnsweredAt *time.Time `json:"answered_at,omitempty"`
	AnsweredBy string     `json:"answered_by,omitempty"` // the answering person's display name
	// OnRoster: the unit or hall is on the session's roster (a decline takes it off, unless
	// petitioners are still booked at the hall).
	OnRoster bool          `json:"on_roster"`
	Session  *SessionBrief `json:"session,omitempty"`
}

// names caches unit, hall, user and session lookups while one response is built.
type names struct {
	s        *Server
	ctx      context.Context
	units    map[int64]org.Unit
	halls    map[int64]string
	users    map[int64]string
	sessions map[int64]reception.ReceptionSession
}

func (s *Server) names(ctx context.Context) *names {
	return &names{s: s, ctx: ctx, units: map[int64]org.Unit{}, halls: map[int64]string{}, users: map[int64]string{},
		sessions: map[int64]reception.ReceptionSession{}}
}

func (n *names) unit(id int64) (org.Unit, error) {
	if u, ok := n.units[id]; ok {
		return u, nil
	}
	u, err := n.s.st.GetUnit(n.ctx, id)
	if err != nil {
		return u, err
	}
	n.units[id] = u
	return u, nil
}

func (n *names) hall(id int64) (string, error) {
	if h, ok := n.halls[id]; ok {
		return h, nil
	}
	h, err := n.s.st.GetHall(n.ctx, id)
	if err != nil {
		return "", err
	}
	n.halls[id] = h.Name
	return h.Name, nil
}

func (n *names) user(id int64) string {
	if id == 0 {
		return ""
	}
	if u, ok := n.users[id]; ok {
		return u
	}
	u, err := n.s.st.GetUser(n.ctx, id)
	if err == nil {
		n.users[id] = u.DisplayName
	}
	return n.users[id]
}

func (n *names) session(id int64) (reception.ReceptionSession, error) {
	if x, ok := n.sessions[id]; ok {
		return x, nil
	}
	x, err := n.s.st.GetReceptionSession(n.ctx, id)
	if err != nil {
		return x, err
	}
	n.sessions[id] = x
	return x, nil
}

func (n *names) invitation(v reception.Invitation, withSession bool) (InvitationView, error) {
	out := InvitationView{ID: v.ID, SessionID: v.SessionID, Kind: v.Kind, TargetID: v.TargetID, UnitID: v.UnitID, Note: v.Note,
		Status: string(v.Status), Reason: v.Reason, InvitedAt: v.InvitedAt, AnsweredAt: optTime(v.AnsweredAt), AnsweredBy: n.user(v.AnsweredBy)}
	u, err := n.unit(v.UnitID)
	if err != nil {
		return out, err
	}
	out.UnitName, out.TargetName = u.Name, u.Name
	if v.Kind == reception.InviteHall {
		if out.TargetName, err = n.hall(v.TargetID); err != nil {
			return out, err
		}
	}
	x, err := n.session(v.SessionID)
	if err != nil {
		return out, err
	}
	out.OnRoster = v.OnRoster(x)
	if withSession {
		out.Session = &SessionBrief{ID: x.ID, Title: x.Title, Start: x.Start.In(calendar.Shanghai), End: x.End.In(calendar.Shanghai),
			Status: string(x.Status), LeaderName: x.LeaderName, LeaderPost: x.LeaderPost}
	}
	return out, nil
}

func (n *names) invitations(list []reception.Invitation, withSession bool) ([]InvitationView, error) {
	out := []InvitationView{}
	for _, v := range list {
		iv, err := n.invitation(v, withSession)
		if err != nil {
			return nil, err
		}
		out = append(out, iv)
	}
	return out, nil
}

// notify hands notices to the configured notifier. The change that caused them is committed
// already, so a failed delivery is logged (the error names the kind and the session, never the
// text or the address: they may name people) and not returned.
func (s *Server) notify(ctx context.Context, notices ...reception.Notice) {
	if s.notifier == nil || len(notices) == 0 {
		return
	}
	if err := reception.Deliver(ctx, s.notifier, notices, s.now()); err != nil {
		s.log.Warn("notice not delivered", errField(err))
	}
}

// noticeChange tells the roster (as it was and as it is) of a session's new time or roster, and
// the booked petitioners of a new time.
func (s *Server) noticeChange(ctx context.Context, before, after reception.ReceptionSession) error {
	moved := !before.Start.Equal(after.Start) || !before.End.Equal(after.End)
	if !moved && before.StudioID == after.StudioID && slices.Equal(before.HallIDs, after.HallIDs) && slices.Equal(before.UnitIDs, after.UnitIDs) {
		return nil
	}
	var appts []reception.Appointment
	msg := i18n.T("api.notice.roster_changed", "title", after.Title, "when", sessionWhen(after))
	if moved {
		var err error
		if appts, err = s.st.ListAppointments(ctx, after.ID); err != nil {
			return err
		}
		msg = i18n.T("api.notice.session_moved", "title", after.Title, "from", sessionWhen(before), "to", sessionWhen(after))
	}
	all := after
	all.HallIDs, _ = reception.WithIDs(after.HallIDs, before.HallIDs)
	all.UnitIDs, _ = reception.WithIDs(after.UnitIDs, before.UnitIDs)
	if all.StudioID == 0 {
		all.StudioID = before.StudioID
	}
	s.notify(ctx, reception.SessionNotices(reception.NoticeSessionChanged, all, appts, msg)...)
	return nil
}

func sessionWhen(x reception.ReceptionSession) string {
	return x.Start.In(calendar.Shanghai).Format("2006-01-02 15:04") + "–" + x.End.In(calendar.Shanghai).Format("15:04")
}

type inviteRequest struct {
	UnitIDs []int64 `json:"unit_ids"`
	HallIDs []int64 `json:"hall_ids"`
	Note    string  `json:"note"`
}

// invite invites units and halls to a session; with neither named, everyone on its roster.
func (s *Server) invite(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	var req inviteRequest
	x, u, err := s.sessionInScope(r, rc, &req)
	if err != nil {
		return err
	}
	ctx, id := r.Context(), x.ID
	if len(req.UnitIDs)+len(req.HallIDs) == 0 {
		req.UnitIDs, req.HallIDs = x.UnitIDs, x.HallIDs
	}
	invs, err := s.st.InviteToSession(ctx, id, req.UnitIDs, req.HallIDs, strings.TrimSpace(req.Note), rc.p.User.ID, s.now())
	if err != nil {
		return sessionErr(err)
	}
	n := s.names(ctx)
	out, err := n.invitations(invs, false)
	if err != nil {
		return err
	}
	if err := rc.audit("session.invite", "session:"+strconv.FormatInt(id, 10), u, nil, out); err != nil {
		return err
	}
	for _, v := range invs {
		msg := i18n.T("api.notice.invited", "title", x.Title, "when", sessionWhen(x))
		if v.Note != "" {
			msg = i18n.T("api.notice.invited_about", "title", x.Title, "when", sessionWhen(x), "note", v.Note)
		}
		nt := reception.Notice{Kind: reception.NoticeInvitation, SessionID: id, UnitID: v.UnitID, ZH: msg.ZH, EN: msg.EN}
		if v.Kind == reception.InviteHall {
			nt.HallID = v.TargetID
		}
		s.notify(ctx, nt)
	}
	writeJSON(w, http.StatusCreated, map[string]any{"invitations": out})
	return nil
}

// sessionInvitations lists a session's invitations and answers for the staff of its unit.
func (s *Server) sessionInvitations(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	x, _, err := s.sessionInScope(r, rc, nil)
	if err != nil {
		return err
	}
	ctx := r.Context()
	list, err := s.st.ListInvitations(ctx, reception.InvitationQuery{SessionID: x.ID})
	if err != nil {
		return err
	}
	out, err := s.names(ctx).invitations(list, false)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"session": sessionView(x), "invitations": out})
	return nil
}

// myInvitations lists the invitations addressed to the caller's units, of sessions not over yet
// (?from= to look further back, ?status= to filter).
func (s *Server) myInvitations(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	from, err := parseTimeParam(r, "from", s.now())
	if err != nil {
		return err
	}
	status := reception.InvitationStatus(r.URL.Query().Get("status"))
	switch status {
	case "", reception.InvInvited, reception.InvAccepted, reception.InvDeclined:
	default:
		return invalidField("status", "api.invitation.bad_status")
	}
	roots := rc.roots()
	if len(roots) == 0 {
		return errForbidden
	}
	ctx := r.Context()
	n := s.names(ctx)
	out := []InvitationView{}
	for _, root := range roots {
		list, err := s.st.ListInvitations(ctx, reception.InvitationQuery{UnderPath: root, Status: status, From: from})
		if err != nil {
			return err
		}
		views, err := n.invitations(list, true)
		if err != nil {
			return err
		}
		out = append(out, views...)
	}
	writeJSON(w, http.StatusOK, map[string]any{"invitations": out})
	return nil
}

type answerRequest struct {
	Accept *bool  `json:"accept"`
	Reason string `json:"reason"`
}

// answerInvitation records the answer of the invited unit, given by one of its members.
func (s *Server) answerInvitation(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	var req answerRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	if req.Accept == nil {
		return invalidField("accept", "api.invitation.accept_required")
	}
	ctx := r.Context()
	v, err := s.st.GetInvitation(ctx, id)
	if err != nil {
		return err
	}
	u, err := s.unitInScope(ctx, rc, v.UnitID)
	if err != nil {
		return err
	}
	// A unit answers for itself: the role's scope reaches down the tree, so a higher unit's
	// staff would pass the check above; the answer must come from someone who belongs there.
	home, err := s.st.GetUnit(ctx, rc.p.User.UnitID)
	if err != nil {
		return err
	}
	if !strings.HasPrefix(home.Path, u.Path) {
		return newErr(http.StatusForbidden, CodeForbidden, "api.invitation.member_only")
	}
	after, err := s.st.AnswerInvitation(ctx, id, *req.Accept, req.Reason, rc.p.User.ID, s.now())
	if err != nil {
		return sessionErr(err) // accepting after a decline rejoins the roster, which may clash
	}
	n := s.names(ctx)
	view, err := n.invitation(after, true)
	if err != nil {
		return err
	}
	if err := rc.audit("invitation.answer", "invitation:"+strconv.FormatInt(id, 10), u,
		map[string]string{"status": string(v.Status), "reason": v.Reason}, map[string]string{"status": string(after.Status), "reason": after.Reason}); err != nil {
		return err
	}
	x, err := n.session(after.SessionID)
	if err != nil {
		return err
	}
	msg := i18n.T("api.notice.invitation_accepted", "target", view.TargetName, "title", x.Title)
	if after.Status == reception.InvDeclined {
		if view.OnRoster {
			msg = i18n.T("api.notice.invitation_declined_kept", "target", view.TargetName, "title", x.Title, "reason", after.Reason)
		} else {
			msg = i18n.T("api.notice.invitation_declined_released", "target", view.TargetName, "title", x.Title, "reason", after.Reason)
		}
	}
	s.notify(ctx, reception.Notice{Kind: reception.NoticeInvitationAnswer, SessionID: x.ID, UnitID: x.UnitID, ZH: msg.ZH, EN: msg.EN})
	writeJSON(w, http.StatusOK, view)
	return nil
}

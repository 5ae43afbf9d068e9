package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"sanji/i18n"
	"sanji/scheduler/calendar"
	"sanji/scheduler/casework"
	"sanji/scheduler/org"
	"sanji/scheduler/reception"
)

// The reception call's side of the scheduler: the hooks the API tells the live calls through,
// and CallBridge, what the signaling server calls to run a session live.

// CallHooks is what the API tells the live calls: the signaling server implements it.
type CallHooks interface {
	// HearingOffset is how far into the recorded hearing of session the call is now (false
	// when no hearing of that session is being recorded).
	HearingOffset(sessionID int64) (time.Duration, bool)
	// CaseChanged says a case heard in session changed (a slip, a transition): the call sends
	// its panels again.
	CaseChanged(sessionID, caseID int64)
	// QueueChanged says a session's bookings changed (a walk-in, a cancellation).
	QueueChanged(sessionID int64)
	// SlipCreated says a slip (kind assignment, supervision, consultation, owner) was made on
	// the session's call: it is marked in the hearing's recording and the panels go out again.
	SlipCreated(sessionID, caseID int64, kind string, slipID int64)
}

// SetCallHooks connects the API to the live calls; until then (and in tests without calls)
// nothing is told.
func (s *Server) SetCallHooks(h CallHooks) { s.calls.Store(&h) }

func (s *Server) callHooks() CallHooks {
	if h := s.calls.Load(); h != nil {
		return *h
	}
	return nil
}

// callOffset is the recording offset of a slip made on a session's call: the live call's clock
// when that session's hearing is being recorded, else what the client said.
func (s *Server) callOffset(session string, clientMS int64) int64 {
	if id, ok := callSessionID(session); ok {
		if h := s.callHooks(); h != nil {
			if off, ok := h.HearingOffset(id); ok {
				return off.Milliseconds()
			}
		}
	}
	return clientMS
}

// callSessionID reads the reception session id a slip made on a call names ("" = none).
func callSessionID(v string) (int64, bool) {
	id, err := strconv.ParseInt(v, 10, 64)
	return id, err == nil && id > 0
}

// notifyCall tells the live call of a session that a slip of kind was made on it for a case:
// the hearing's recording marks it and the panels on stage show it at once.
func (s *Server) notifyCall(session string, caseID int64, kind string, slipID int64) {
	if id, ok := callSessionID(session); ok {
		if h := s.callHooks(); h != nil {
			h.SlipCreated(id, caseID, kind, slipID)
		}
	}
}

// CallBridge is the scheduler as the reception call sees it (call.Backend).
type CallBridge struct{ s *Server }

// CallBridge returns the bridge for the signaling server.
func (s *Server) CallBridge() *CallBridge { return &CallBridge{s: s} }

// Roster loads a session with the names the call shows.
func (b *CallBridge) Roster(ctx context.Context, sessionID int64) (reception.CallRoster, error) {
	x, err := b.s.st.GetReceptionSession(ctx, sessionID)
	if err != nil {
		return reception.CallRoster{}, fmt.Errorf("call roster: %w", err)
	}
	out := reception.CallRoster{Session: x, HallNames: map[int64]string{}, UnitNames: map[int64]string{}}
	for _, id := range append([]int64{x.StudioID}, x.HallIDs...) {
		if id == 0 {
			continue
		}
		h, err := b.s.st.GetHall(ctx, id)
		if err != nil {
			return out, fmt.Errorf("call roster hall %d: %w", id, err)
		}
		out.HallNames[id] = h.Name
	}
	out.StudioName = out.HallNames[x.StudioID]
	// An accepted invitation puts its unit on the roster; one accepted by a unit that is not
	// there (the roster was edited since) is still a unit the leader expects to call on.
	invs, err := b.s.st.ListInvitations(ctx, reception.InvitationQuery{SessionID: sessionID, Status: reception.InvAccepted})
	if err != nil {
		return out, fmt.Errorf("call roster invitations: %w", err)
	}
	units := slices.Clone(x.UnitIDs)
	for _, inv := range invs {
		if inv.Kind == reception.InviteUnit && !slices.Contains(units, inv.TargetID) {
			units = append(units, inv.TargetID)
		}
	}
	for _, id := range units {
		u, err := b.s.st.GetUnit(ctx, id)
		if err != nil {
			return out, fmt.Errorf("call roster unit %d: %w", id, err)
		}
		out.UnitNames[id] = u.Name
	}
	out.Units = units
	return out, nil
}

// Queue is the session's appointments in queue order.
func (b *CallBridge) Queue(ctx context.Context, sessionID int64) ([]reception.Appointment, error) {
	return b.s.st.ListAppointments(ctx, sessionID)
}

// UnitName names a unit brought on stage.
func (b *CallBridge) UnitName(ctx context.Context, unitID int64) (string, error) {
	u, err := b.s.st.GetUnit(ctx, unitID)
	return u.Name, err
}

var divisionCode = regexp.MustCompile(`^[1-9][0-9]{5}([0-9]{3})?$`)

// StartHearing brings an appointment on stage: the matter is registered as a case (form
// video, at the unit of the hall where the petitioner sits) unless the appointment has one,
// and the appointment is marked heard. Calling it again for a hearing under way returns the
// same case: that is how a restarted call resumes.
func (b *CallBridge) StartHearing(ctx context.Context, sessionID, apptID, userID int64) (reception.HearingCase, error) {
	st := b.s.st
	a, err := st.GetAppointment(ctx, apptID)
	if err != nil {
		return reception.HearingCase{}, err
	}
	if a.SessionID != sessionID {
		return reception.HearingCase{}, fmt.Errorf("appointment %d is not of session %d: %w", apptID, sessionID, org.ErrNotFound)
	}
	user, err := st.GetUser(ctx, userID)
	if err != nil {
		return reception.HearingCase{}, fmt.Errorf("start hearing: caller: %w", err)
	}
	if a.HeardAt.IsZero() {
		now := b.s.now()
		code := ""
		if a.CaseID == 0 {
			c, qc, err := b.registerHearing(ctx, a, user)
			if err != nil {
				return reception.HearingCase{}, err
			}
			a.CaseID, code = c.ID, qc
		}
		if err := st.StartHearing(ctx, a.ID, a.CaseID, now); err != nil {
			return reception.HearingCase{}, err
		}
		a.HeardAt = now
		if err := b.auditCall(ctx, user, "call.hearing_start", a, ""); err != nil {
			return reception.HearingCase{}, err
		}
		h, err := b.hearingCase(ctx, a)
		if err == nil && code != "" {
			b.s.codes.put(hearingCode{sessionID: a.SessionID, hallID: a.HallID, appointmentID: a.ID, caseNumber: h.Number, code: code, at: now})
		}
		return h, err
	} else if !a.EndedAt.IsZero() {
		return reception.HearingCase{}, fmt.Errorf("appointment %d was heard already: %w", apptID, org.ErrConflict)
	}
	return b.hearingCase(ctx, a)
}

func (b *CallBridge) hearingCase(ctx context.Context, a reception.Appointment) (reception.HearingCase, error) {
	c, err := b.s.st.GetCase(ctx, a.CaseID)
	if err != nil {
		return reception.HearingCase{}, fmt.Errorf("hearing case: %w", err)
	}
	h := reception.HearingCase{CaseID: c.ID, Number: c.Number, Started: a.HeardAt, UnitNames: map[int64]string{}}
	for _, id := range append([]int64{c.ResponsibleUnitID}, c.CoUnitIDs...) {
		if id == 0 || slices.Contains(h.UnitIDs, id) {
			continue
		}
		name, err := b.UnitName(ctx, id)
		if err != nil {
			return h, err
		}
		h.UnitIDs, h.UnitNames[id] = append(h.UnitIDs, id), name
	}
	return h, nil
}

// registerHearing registers an appointment's matter as a video case; it returns the query code.
func (b *CallBridge) registerHearing(ctx context.Context, a reception.Appointment, user org.User) (casework.Case, string, error) {
	c, code, err := b.newHearingCase(ctx, a)
	if err != nil {
		return c, "", err
	}
	if err := b.s.st.CreateCase(ctx, &c, casework.CaseEvent{ActorID: user.ID, Actor: user.Username, UnitID: c.UnitID,
		Reason: i18n.T("api.hearing.registered").String()}); err != nil {
		return c, "", fmt.Errorf("register hearing: %w", err)
	}
	return c, code, nil
}

// newHearingCase fills the case of an appointment: the hall's unit registers it, in the
// territory of the nearest division code above, filed under "其他" until the intake officer sorts it.
func (b *CallBridge) newHearingCase(ctx context.Context, a reception.Appointment) (casework.Case, string, error) {
	st := b.s.st
	h, err := st.GetHall(ctx, a.HallID)
	if err != nil {
		return casework.Case{}, "", err
	}
	unit, err := st.GetUnit(ctx, h.UnitID)
	if err != nil {
		return casework.Case{}, "", err
	}
	territory := ""
	for u := unit; territory == ""; {
		if divisionCode.MatchString(u.Code) {
			territory = u.Code
		} else if u.ParentID == 0 {
			return casework.Case{}, "", fmt.Errorf("register hearing: no division code above unit %d: %w", unit.ID, org.ErrInvalid)
		} else if u, err = st.GetUnit(ctx, u.ParentID); err != nil {
			return casework.Case{}, "", err
		}
	}
	cats, err := st.ListCategories(ctx)
	if err != nil {
		return casework.Case{}, "", err
	}
	if len(cats) == 0 {
		return casework.Case{}, "", fmt.Errorf("register hearing: the category tree is empty: %w", org.ErrInvalid)
	}
	// The intake officer sorts the matter later; until then it is filed under "其他" (other).
	cat := cats[len(cats)-1]
	for _, c := range cats {
		if c.Name == "其他" {
			cat = c
		}
	}
	title := strings.TrimSpace(a.Matter)
	if utf8.RuneCountInString(title) > 30 {
		title = string([]rune(title)[:30]) + "…"
	}
	pets := []casework.Petitioner{{Name: a.Name, IDNumber: a.IDNumber, Phone: a.Phone, Role: casework.PetitionerSelf}}
	for _, rep := range a.Representatives {
		if rep != a.Name {
			pets = append(pets, casework.Petitioner{Name: rep, Role: casework.PetitionerRepresentative})
		}
	}
	code, hash, err := casework.NewQueryCode()
	if err != nil {
		return casework.Case{}, "", err
	}
	return casework.Case{UnitID: unit.ID, Territory: territory, Form: casework.FormVideo, Type: casework.TypeClaim, CategoryID: cat.ID,
		Title: title, Content: a.Matter, Petitioners: pets, InvolvedCount: a.People, QueryCodeHash: hash}, code, nil
}

// EndHearing records a hearing's outcome.
func (b *CallBridge) EndHearing(ctx context.Context, apptID int64, outcome, note string, userID int64) error {
	a, user, err := b.apptAndUser(ctx, apptID, userID)
	if err != nil {
		return err
	}
	if err := b.s.st.EndHearing(ctx, apptID, outcome, note, b.s.now()); err != nil {
		return err
	}
	b.s.codes.drop(apptID) // the code leaves the operator's screen with its hearing
	return b.auditCall(ctx, user, "call.hearing_end", a, outcome)
}

// NoShow records that a called petitioner did not come.
func (b *CallBridge) NoShow(ctx context.Context, apptID, userID int64) error {
	a, user, err := b.apptAndUser(ctx, apptID, userID)
	if err != nil {
		return err
	}
	if a.Status != reception.ApptBooked && a.Status != reception.ApptCheckedIn {
		return fmt.Errorf("appointment %d is %s: %w", apptID, a.Status, org.ErrConflict)
	}
	if err := b.s.st.SetAppointmentStatus(ctx, apptID, reception.ApptNoShow); err != nil {
		return err
	}
	b.s.codes.drop(apptID)
	return b.auditCall(ctx, user, "call.no_show", a, "")
}

func (b *CallBridge) apptAndUser(ctx context.Context, apptID, userID int64) (reception.Appointment, org.User, error) {
	a, err := b.s.st.GetAppointment(ctx, apptID)
	if err != nil {
		return a, org.User{}, err
	}
	u, err := b.s.st.GetUser(ctx, userID)
	return a, u, err
}

func (b *CallBridge) auditCall(ctx context.Context, user org.User, action string, a reception.Appointment, outcome string) error {
	x, err := b.s.st.GetReceptionSession(ctx, a.SessionID)
	if err != nil {
		return err
	}
	u, err := b.s.st.GetUnit(ctx, x.UnitID)
	if err != nil {
		return err
	}
	e := org.AuditEntry{Action: action, Target: "appointment:" + strconv.FormatInt(a.ID, 10), UnitID: u.ID, UnitPath: u.Path,
		ActorID: user.ID, Actor: user.Username, At: b.s.now()}
	if a.CaseID != 0 || outcome != "" {
		after, _ := json.Marshal(map[string]any{"case_id": a.CaseID, "outcome": outcome})
		e.After = string(after)
	}
	if err := b.s.st.AppendAudit(ctx, &e); err != nil {
		return fmt.Errorf("audit %s: %w", action, err)
	}
	return nil
}

// CasePanel is the case file as one participant of the call may see it: the case redacted to
// the viewer's rights (caseView, cases.go), its timeline, clock, slips, and the person's earlier
// bookings (同人同事). A full view of identity is audited with the call as its purpose.
type CasePanel struct {
	Case        CaseView         `json:"case"`
	Timeline    []CaseEventView  `json:"timeline"`
	Deadline    *DeadlineView    `json:"deadline"`
	Assignments []AssignmentView `json:"assignments"`
	Supervision *SupervisionView `json:"supervision"`
	// Consultations (会商) with each unit's opinion; a redacted viewer sees who took part and
	// whether the conclusion is signed, not what was said.
	Consultations []ConsultationView `json:"consultations"`
	Earlier       []EarlierBooking   `json:"earlier"`
	// History is the petitioner's earlier cases (同一身份证号), each at the viewer's level on
	// that case; nil for a viewer who may not see who the petitioner is (redacted).
	History *PetitionerHistory `json:"history"`
	Notes   map[string]string  `json:"notes,omitempty"`
}

// PetitionerHistory is what the leader sees of the petitioner's earlier matters.
type PetitionerHistory struct {
	// Repeat (重复信访): an earlier case of the same person is about the same matter (its text
	// as similar as the booking checks' 同人同事 threshold).
	Repeat bool          `json:"repeat"`
	Cases  []EarlierCase `json:"cases"`
}

// EarlierCase is an earlier case of the same person and how it ended.
type EarlierCase struct {
	CaseID       int64      `json:"case_id"`
	Number       string     `json:"number"`
	RegisteredAt time.Time  `json:"registered_at"`
	Status       string     `json:"status"`
	Result       string     `json:"result,omitempty"` // the handling opinion: support, explain, not_support
	ClosedAt     *time.Time `json:"closed_at,omitempty"`
	SameMatter   bool       `json:"same_matter"`
	// Title is left out where the viewer's view of that case is redacted (an accusation about
	// the viewer's own unit, say).
	Title string `json:"title,omitempty"`
	View  string `json:"view"`
}

// EarlierBooking is an earlier booking of the same person, without their identity.
type EarlierBooking struct {
	SessionID int64     `json:"session_id"`
	At        time.Time `json:"at"`
	Matter    string    `json:"matter,omitempty"`
	Status    string    `json:"status"`
	CaseID    int64     `json:"case_id,omitempty"`
}

// CasePanel renders case caseID for the user viewerID, in the call of sessionID.
func (b *CallBridge) CasePanel(ctx context.Context, sessionID, caseID, viewerID int64) (json.RawMessage, error) {
	s := b.s
	c, err := s.st.GetCase(ctx, caseID)
	if err != nil {
		return nil, err
	}
	ch, err := s.caseChain(ctx, c)
	if err != nil {
		return nil, err
	}
	p, err := s.principal(ctx, viewerID)
	if err != nil {
		return nil, err
	}
	level := casework.CaseViewLevel(p, ch)
	if level == casework.ViewFull {
		u, err := s.st.GetUnit(ctx, c.UnitID)
		if err != nil {
			return nil, err
		}
		e := org.AuditEntry{Action: "pii.view", Target: "case:" + strconv.FormatInt(c.ID, 10), UnitID: u.ID, UnitPath: u.Path,
			Purpose: i18n.T("api.audit.call_case_panel", "session", sessionID).String(),
			At:      s.now(), ActorID: p.User.ID, Actor: p.User.Username}
		if err := s.st.AppendAudit(ctx, &e); err != nil {
			return nil, fmt.Errorf("audit case panel: %w", err)
		}
	}
	panel := CasePanel{Case: caseView(c, level), Timeline: []CaseEventView{}, Assignments: []AssignmentView{}, Earlier: []EarlierBooking{}}
	evs, err := s.st.ListCaseEvents(ctx, c.ID)
	if err != nil {
		return nil, err
	}
	for _, e := range evs {
		v := CaseEventView{ID: e.ID, At: e.At, Kind: e.Kind, Actor: e.Actor, UnitID: e.UnitID, From: string(e.From), To: string(e.To),
			ResponsibleUnitID: e.ResponsibleUnitID, CoUnitIDs: e.CoUnitIDs, Result: string(e.Result), Ref: e.Ref, Days: e.Days}
		if level != casework.ViewRedacted {
			v.Reason = e.Reason // a reason may quote the petitioner
		}
		panel.Timeline = append(panel.Timeline, v)
	}
	// A year the calendar lacks is counted provisionally; the deadline says so (provisional, note).
	cal, err := s.calendar(ctx)
	if err != nil {
		return nil, err
	}
	if panel.Deadline, err = s.caseDeadlineView(ctx, cal, c); err != nil {
		return nil, err
	}
	as, err := s.st.ListAssignments(ctx, c.ID)
	if err != nil {
		return nil, err
	}
	for _, a := range as {
		panel.Assignments = append(panel.Assignments, assignmentView(a, cal))
	}
	panel.Consultations = []ConsultationView{}
	ks, err := s.st.ListConsultations(ctx, c.ID)
	if err != nil {
		return nil, err
	}
	for _, k := range ks {
		v := consultationView(k)
		if level == casework.ViewRedacted {
			v.Subject, v.Conclusion, v.Opinions = "", "", []OpinionView{}
		}
		panel.Consultations = append(panel.Consultations, v)
	}
	if sv, err := s.st.OpenSupervisionFor(ctx, c.ID); err == nil {
		v := supervisionView(sv)
		panel.Supervision = &v
	} else if !errors.Is(err, org.ErrNotFound) {
		return nil, err
	}
	if len(c.Petitioners) > 0 && c.Petitioners[0].IDNumber != "" {
		prior, err := s.st.AppointmentsByIDNumber(ctx, c.Petitioners[0].IDNumber, 20)
		if err != nil {
			return nil, err
		}
		for _, a := range prior {
			if a.CaseID == c.ID {
				continue
			}
			e := EarlierBooking{SessionID: a.SessionID, At: a.CreatedAt, Status: string(a.Status), CaseID: a.CaseID}
			if level != casework.ViewRedacted {
				e.Matter = a.Matter
			}
			panel.Earlier = append(panel.Earlier, e)
		}
	}
	if level != casework.ViewRedacted {
		if panel.History, err = b.history(ctx, c, p, level); err != nil {
			return nil, err
		}
	}
	raw, err := json.Marshal(panel)
	if err != nil {
		return nil, fmt.Errorf("case panel: %w", err)
	}
	return raw, nil
}

// ObserverPanel is the observers' case panel: the title of the matter being heard, nothing more
// (no number, no timeline, no content): observers are outside the case (shared/domain.md).
type ObserverPanel struct {
	Observer bool `json:"observer"`
	Case     struct {
		ID    int64  `json:"id"`
		Title string `json:"title"`
	} `json:"case"`
}

// ObserverPanel renders case caseID for the observers' seat of the call of sessionID.
func (b *CallBridge) ObserverPanel(ctx context.Context, sessionID, caseID int64) (json.RawMessage, error) {
	c, err := b.s.st.GetCase(ctx, caseID)
	if err != nil {
		return nil, fmt.Errorf("observer panel of session %d: %w", sessionID, err)
	}
	p := ObserverPanel{Observer: true}
	p.Case.ID, p.Case.Title = c.ID, c.Title
	return json.Marshal(p)
}

// history is the earlier cases of c's petitioner (by ID number) as p may see each: at the lower
// of p's level on c and on that case, so an earlier case p may not see in full is not shown in
// full here either. A case is the same matter when its text is as similar to c's as the booking
// checks require for 同人同事.
func (b *CallBridge) history(ctx context.Context, c casework.Case, p *org.Principal, level casework.ViewLevel) (*PetitionerHistory, error) {
	h := &PetitionerHistory{Cases: []EarlierCase{}}
	if len(c.Petitioners) == 0 || c.Petitioners[0].IDNumber == "" {
		return h, nil
	}
	prior, err := b.s.st.CasesByIDNumber(ctx, c.Petitioners[0].IDNumber, reception.SamePersonLimit)
	if err != nil {
		return nil, fmt.Errorf("petitioner history: %w", err)
	}
	text := c.Title + " " + c.Content
	for _, e := range prior {
		if e.ID == c.ID || e.RegisteredAt.After(c.RegisteredAt) {
			continue // this case, or a later one
		}
		ch, err := b.s.caseChain(ctx, e)
		if err != nil {
			return nil, err
		}
		lv := min(level, casework.CaseViewLevel(p, ch))
		v := EarlierCase{CaseID: e.ID, Number: e.Number, RegisteredAt: e.RegisteredAt, Status: string(e.Status),
			Result: string(e.Result), ClosedAt: optTime(e.ClosedAt), View: viewNames[lv],
			SameMatter: reception.TextSimilarity(text, e.Title+" "+e.Content) >= reception.SimilarThreshold}
		if lv != casework.ViewRedacted {
			v.Title = casework.RedactCase(e, lv).Title
		}
		h.Repeat = h.Repeat || v.SameMatter
		h.Cases = append(h.Cases, v)
	}
	return h, nil
}

// CaseNote writes a note on a case's timeline for the call (the recording's seal, its errors).
func (b *CallBridge) CaseNote(ctx context.Context, caseID int64, kind, ref, reason string) error {
	return b.s.st.AddCaseNote(ctx, &casework.CaseEvent{CaseID: caseID, Kind: kind, Ref: ref, Reason: reason, Actor: "system", At: b.s.now()})
}

// SaveHearingRecord attaches the confirmed record to the case as a signed record (a text file,
// and the signature as a PNG when drawn), by the hall's user.
func (b *CallBridge) SaveHearingRecord(ctx context.Context, rec reception.HearingRecord, userID int64) ([]int64, error) {
	if b.s.blobs.Dir == "" {
		return nil, fmt.Errorf("hearing record: attachments are not configured: %w", org.ErrInvalid)
	}
	c, err := b.s.st.GetCase(ctx, rec.CaseID)
	if err != nil {
		return nil, err
	}
	text := fmt.Sprintf("视频接访笔录 / Hearing record\n事项 / Case: %s\n会次 / Session: %d  预约 / Appointment: %d\n开始 / Started: %s\n\n%s\n\n信访人确认 / Confirmed by the petitioner: %s\n确认时间 / Confirmed at: %s\n",
		c.Number, rec.SessionID, rec.AppointmentID, rec.Started.In(calendar.Shanghai).Format(time.RFC3339),
		strings.TrimSpace(rec.Text), rec.ConfirmedBy, rec.Confirmed.In(calendar.Shanghai).Format(time.RFC3339))
	files := []struct {
		name string
		body []byte
	}{{fmt.Sprintf("hearing-record-%d.txt", rec.AppointmentID), []byte(text)}}
	if len(rec.Signature) > 0 {
		files = append(files, struct {
			name string
			body []byte
		}{fmt.Sprintf("hearing-signature-%d.png", rec.AppointmentID), rec.Signature})
	}
	var ids []int64
	for _, f := range files {
		sum, size, mt, err := b.s.blobs.Put(bytes.NewReader(f.body), f.name)
		if err != nil {
			return ids, fmt.Errorf("hearing record %s: %w", f.name, err)
		}
		a := casework.Attachment{CaseID: c.ID, Kind: casework.AttachSignedRecord, Name: f.name, SHA256: sum, Size: size, MIME: mt,
			UploadedBy: userID, UploadedAt: rec.Confirmed}
		if err := b.s.st.AddAttachment(ctx, &a); err != nil {
			return ids, err
		}
		ids = append(ids, a.ID)
	}
	user, err := b.s.st.GetUser(ctx, userID)
	if err != nil {
		return ids, err
	}
	a, err := b.s.st.GetAppointment(ctx, rec.AppointmentID)
	if err != nil {
		return ids, err
	}
	return ids, b.auditCall(ctx, user, "call.hearing_record", a, "")
}

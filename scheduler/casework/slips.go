package casework

import (
	"context"
	"strings"
	"time"
	"unicode/utf8"

	"sanji/scheduler/calendar"
	"sanji/scheduler/org"
)

// Slips: 交办 (assignment), 督办 (supervision), 会商 (consultation). shared/domain.md "A case record".

// How an assignment was made.
const (
	AssignByPhone     = "phone"
	AssignByLetter    = "letter"
	AssignBySystem    = "system"
	AssignOnVideoCall = "video_call" // then with the session id and the recording offset
)

// Assignment statuses.
const (
	AssignmentOpen     = "open"
	AssignmentObjected = "objected" // returned to the assigner
)

// Assignment is a 交办单.
type Assignment struct {
	ID                int64
	CaseID            int64
	AssignerUnitID    int64 // the assigning body: an objection returns the case here, never sideways
	AssignerID        int64
	ResponsibleUnitID int64
	CoUnitIDs         []int64
	Requirements      string
	Instruction       string // the leader's instruction text (领导批示)
	Method            string
	SessionID         string        // video_call only
	RecordingOffset   time.Duration // video_call only: where in the recording it was said
	AssignedAt        time.Time
	FeedbackDue       time.Time // legal date
	Status            string
	ObjectionReason   string
	ObjectedAt        time.Time
}

// ValidateAssignment checks a new assignment.
func ValidateAssignment(a Assignment) error {
	if a.CaseID == 0 {
		return org.Invalid("case_id", "casework.case_id_required")
	}
	if a.AssignerUnitID == 0 || a.ResponsibleUnitID == 0 {
		return org.Invalid("responsible_unit_id", "casework.assignment.units_required")
	}
	if a.AssignerUnitID == a.ResponsibleUnitID {
		return org.Invalid("responsible_unit_id", "casework.assignment.to_itself")
	}
	for _, u := range a.CoUnitIDs {
		if u == 0 || u == a.ResponsibleUnitID {
			return org.Invalid("co_unit_ids", "casework.co_units_invalid")
		}
	}
	switch a.Method {
	case AssignByPhone, AssignByLetter, AssignBySystem:
		if a.SessionID != "" || a.RecordingOffset != 0 {
			return org.Invalid("session_id", "casework.assignment.video_fields_off_call")
		}
	case AssignOnVideoCall:
		if strings.TrimSpace(a.SessionID) == "" || a.RecordingOffset < 0 {
			return org.Invalid("session_id", "casework.assignment.video_fields_required")
		}
	default:
		return org.Invalid("method", "casework.assignment.method_invalid")
	}
	if a.FeedbackDue.IsZero() {
		return org.Invalid("feedback_due", "casework.assignment.feedback_due_required")
	}
	if utf8.RuneCountInString(a.Requirements) > 4000 || utf8.RuneCountInString(a.Instruction) > 4000 {
		return org.Invalid("requirements", "casework.assignment.text_too_long")
	}
	return nil
}

// CheckObjection says whether the responsible unit may still object at now: within the objection
// rule (5 working days) after the day of assignment, with a reason.
func CheckObjection(cal *calendar.Calendar, rules Rules, a Assignment, reason string, now time.Time) error {
	if a.Status != AssignmentOpen {
		return org.Invalid("status", "casework.objection.already_returned")
	}
	if strings.TrimSpace(reason) == "" {
		return org.Invalid("reason", "casework.objection.reason_required")
	}
	d, err := cal.Compute(rules[RuleObjection], a.AssignedAt)
	if err != nil {
		return err
	}
	if !now.Before(d.DueAt()) {
		return org.Invalid("objection", "casework.objection.period_over", "due", d.Due.Format("2006-01-02"), "steps", d.Explain())
	}
	return nil
}

// Supervision levels and methods.
const (
	SupLevelRoutine = "routine" // 一般督办
	SupLevelListed  = "listed"  // 挂牌督办
	SupLevelJoint   = "joint"   // 联席会议督办

	SupByPhone   = "phone"
	SupWritten   = "written"
	SupSummons   = "summons" // 约谈
	SupOnSite    = "on_site"
	SupJoint     = "joint"
	SupOpinionOK = "pass"
	SupOpinionRe = "return" // return for re-handling
)

// EscalationLadder is the order supervision escalates in: reminder → on-site → leader
// coordination → listed supervision.
var EscalationLadder = []string{"reminder", "on_site", "leader_coordination", "listed"}

// NextEscalation is the rung after step, or step itself at the top.
func NextEscalation(step string) string {
	for i, s := range EscalationLadder {
		if s == step && i+1 < len(EscalationLadder) {
			return EscalationLadder[i+1]
		}
	}
	if step == "" {
		return EscalationLadder[0]
	}
	return step
}

// Supervision is a 督办单: one open item per matter (一事一项).
type Supervision struct {
	ID         int64
	CaseID     int64
	UnitID     int64 // the supervised unit
	OpenedBy   int64 // 0: opened by the clock job because the case went overdue
	Basis      string
	Level      string
	Method     string
	Escalation string // the current rung of EscalationLadder
	Deadline   time.Time
	OpenedAt   time.Time
	ClosedAt   time.Time
	Opinion    string // pass / return, set when closed
	Notes      string // improvement and accountability recommendations
	// EscalatedUnitID is the office the item has climbed to (the supervised unit's parent, then
	// its parent …), 0 before the first escalation; Overdue counts the feedback dates it missed.
	EscalatedUnitID int64
	Overdue         int
}

// ValidateSupervision checks a new supervision item.
func ValidateSupervision(s Supervision) error {
	if s.CaseID == 0 || s.UnitID == 0 {
		return org.Invalid("case_id", "casework.supervision.case_unit_required")
	}
	if strings.TrimSpace(s.Basis) == "" {
		return org.Invalid("basis", "casework.supervision.basis_required")
	}
	switch s.Level {
	case SupLevelRoutine, SupLevelListed, SupLevelJoint:
	default:
		return org.Invalid("level", "casework.supervision.level_invalid")
	}
	switch s.Method {
	case SupByPhone, SupWritten, SupSummons, SupOnSite, SupJoint:
	default:
		return org.Invalid("method", "casework.supervision.method_invalid")
	}
	if s.Deadline.IsZero() {
		return org.Invalid("deadline", "casework.supervision.deadline_required")
	}
	return nil
}

// Opinion is one unit's opinion in a consultation.
type Opinion struct {
	UnitID  int64
	Text    string
	Dissent bool      // recorded as dissent (不同意见)
	By      int64     // the member of the unit who gave it
	At      time.Time // when it was given (or last replaced)
}

// Consultation is a 会商: units deliberate; the competent unit signs the conclusion.
type Consultation struct {
	ID              int64
	CaseID          int64
	CompetentUnitID int64
	UnitIDs         []int64 // the units taking part, the competent one included
	Subject         string  // what is deliberated, in a line
	// SessionID and RecordingOffset: set when the consultation is held on a video call, where
	// in the recording it began.
	SessionID       string
	RecordingOffset time.Duration
	CreatedBy       int64
	CreatedAt       time.Time
	Opinions        []Opinion
	Conclusion      string
	SignedBy        int64 // the user of the competent unit who signed; 0: not final
	SignedUnitID    int64
	SignedAt        time.Time
	Absences        []Absence // participating units recorded absent, with the reason
}

// ValidateConsultation checks a new consultation: a case, a subject, at least two units taking
// part with the competent one among them.
func ValidateConsultation(c Consultation) error {
	if c.CaseID == 0 {
		return org.Invalid("case_id", "casework.case_id_required")
	}
	if c.CompetentUnitID == 0 {
		return org.Invalid("competent_unit_id", "casework.consultation.competent_unit_required")
	}
	if s := strings.TrimSpace(c.Subject); s == "" || utf8.RuneCountInString(s) > 200 {
		return org.Invalid("subject", "casework.consultation.subject_length")
	}
	seen := map[int64]bool{}
	for _, u := range c.UnitIDs {
		if u == 0 || seen[u] {
			return org.Invalid("unit_ids", "casework.consultation.units_invalid")
		}
		seen[u] = true
	}
	if !seen[c.CompetentUnitID] {
		return org.Invalid("unit_ids", "casework.consultation.competent_not_participant")
	}
	if len(seen) < 2 {
		return org.Invalid("unit_ids", "casework.consultation.too_few_units")
	}
	if strings.TrimSpace(c.SessionID) == "" && c.RecordingOffset != 0 {
		return org.Invalid("recording_offset_ms", "casework.consultation.offset_off_call")
	}
	if c.RecordingOffset < 0 {
		return org.Invalid("recording_offset_ms", "casework.consultation.offset_negative")
	}
	return nil
}

// AddOpinion records a participating unit's opinion (one per unit; a later one replaces it).
func (c *Consultation) AddOpinion(o Opinion) error {
	if !containsID(c.UnitIDs, o.UnitID) {
		return org.Invalid("unit_id", "casework.consultation.opinion_not_participant")
	}
	if c.SignedBy != 0 {
		return org.Invalid("status", "casework.consultation.opinion_after_signing")
	}
	if strings.TrimSpace(o.Text) == "" || utf8.RuneCountInString(o.Text) > 4000 {
		return org.Invalid("text", "casework.consultation.opinion_length")
	}
	for i := range c.Opinions {
		if c.Opinions[i].UnitID == o.UnitID {
			c.Opinions[i] = o
			return nil
		}
	}
	c.Opinions = append(c.Opinions, o)
	return nil
}

// Sign makes the conclusion final: only by the competent unit, with a conclusion.
func (c *Consultation) Sign(userID, unitID int64, conclusion string, at time.Time) error {
	if unitID != c.CompetentUnitID {
		return org.Invalid("unit_id", "casework.consultation.sign_not_competent")
	}
	if strings.TrimSpace(conclusion) == "" || utf8.RuneCountInString(conclusion) > 4000 {
		return org.Invalid("conclusion", "casework.consultation.conclusion_length")
	}
	if c.SignedBy != 0 {
		return org.Invalid("status", "casework.consultation.already_signed")
	}
	if err := c.CheckQuorum(nil); err != nil {
		return err
	}
	c.Conclusion, c.SignedBy, c.SignedUnitID, c.SignedAt = conclusion, userID, unitID, at
	return nil
}

// Final reports whether the conclusion is final: signed by the competent unit.
func (c Consultation) Final() bool { return c.SignedBy != 0 && c.SignedUnitID == c.CompetentUnitID }

// Dissent lists the dissenting opinions.
func (c Consultation) Dissent() []Opinion {
	var out []Opinion
	for _, o := range c.Opinions {
		if o.Dissent {
			out = append(out, o)
		}
	}
	return out
}

func containsID(ids []int64, id int64) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}

// MemberOf reports whether grants make their holder a member of the unit: a case-handling role
// (policy table, case.handle) granted at that unit itself. A grant higher up the tree gives scope
// over the unit, not a voice in it: a unit's opinion and signature come from its own people.
func MemberOf(grants []org.Grant, unitID int64) bool {
	for _, g := range grants {
		if g.UnitID == unitID && org.RoleMay(g.Role, org.ActCaseHandle) {
			return true
		}
	}
	return false
}

// Supervision report kinds and extension decisions.
const (
	ReportProgress  = "progress"  // 进展报告
	ReportExtension = "extension" // 延期申请

	ExtensionPending  = ""
	ExtensionApproved = "approved"
	ExtensionRefused  = "refused"
)

// SupervisionReport is what the supervised unit sends on an open item: a progress report, or a
// request to extend the item's deadline, which a supervisor approves or refuses.
type SupervisionReport struct {
	ID                int64
	SupervisionID     int64
	Kind              string
	Text              string
	UnitID            int64 // the supervised unit, reporting
	By                int64
	At                time.Time
	RequestedDeadline time.Time // extension: the legal date asked for
	Decision          string    // extension: "", approved or refused
	DecidedBy         int64
	DecidedAt         time.Time
	DecisionNote      string
}

// ValidateSupervisionReport checks a report against the open item it is for.
func ValidateSupervisionReport(r SupervisionReport, sv Supervision) error {
	if !sv.ClosedAt.IsZero() {
		return org.Invalid("supervision", "casework.report.supervision_closed")
	}
	if s := strings.TrimSpace(r.Text); s == "" || utf8.RuneCountInString(s) > 4000 {
		return org.Invalid("text", "casework.report.text_length")
	}
	switch r.Kind {
	case ReportProgress:
		if !r.RequestedDeadline.IsZero() {
			return org.Invalid("requested_deadline", "casework.report.progress_no_deadline")
		}
	case ReportExtension:
		if !r.RequestedDeadline.After(sv.Deadline) {
			return org.Invalid("requested_deadline", "casework.report.deadline_not_later", "deadline", sv.Deadline.Format("2006-01-02"))
		}
	default:
		return org.Invalid("kind", "casework.report.kind_invalid")
	}
	return nil
}

// SlipStore is the slip part of scheduler.Store.
type SlipStore interface {
	// CreateAssignment validates a, stores it open and moves the case to assigned (from
	// registered, forwarded or objection_returned) with an event.
	CreateAssignment(ctx context.Context, a *Assignment, actor CaseEvent) error
	GetAssignment(ctx context.Context, id int64) (Assignment, error)
	ListAssignments(ctx context.Context, caseID int64) ([]Assignment, error)
	// ObjectAssignment marks the open assignment objected and returns the case to the assigner
	// (assigned → objection_returned); the caller checked CheckObjection.
	ObjectAssignment(ctx context.Context, id int64, reason string, actor CaseEvent) error

	// OpenSupervision stores s, flags the case supervised and notes it on the timeline (by
	// s.OpenedBy; the system when 0); a second open item for the same case is ErrConflict (one
	// item per matter).
	OpenSupervision(ctx context.Context, s *Supervision) error
	// OpenSupervisionFor is the case's open item (ErrNotFound when none).
	OpenSupervisionFor(ctx context.Context, caseID int64) (Supervision, error)
	// EscalateSupervision moves an open item one rung up the ladder, noted on the timeline by actor.
	EscalateSupervision(ctx context.Context, id int64, actor CaseEvent) error
	// CloseSupervision closes an open item with the audit opinion (at actor.At, now when zero),
	// clears the case's flag and notes it on the timeline by actor.
	CloseSupervision(ctx context.Context, id int64, opinion, notes string, actor CaseEvent) error
	// ListSupervisions is every item of a case, open or closed, oldest first.
	ListSupervisions(ctx context.Context, caseID int64) ([]Supervision, error)
	// AddSupervisionReport stores a progress report or an extension request on an open item
	// (one pending request at a time: a second is ErrConflict) and notes it on the timeline.
	AddSupervisionReport(ctx context.Context, r *SupervisionReport, actor CaseEvent) error
	// DecideSupervisionExtension approves (the item's deadline becomes the one asked for) or
	// refuses a pending extension request, with a timeline note.
	DecideSupervisionExtension(ctx context.Context, reportID int64, approve bool, note string, actor CaseEvent) error
	ListSupervisionReports(ctx context.Context, supervisionID int64) ([]SupervisionReport, error)

	// CreateConsultation validates c, stores it with its units and notes it on the case timeline
	// (actor: who convened it). It fills ID, CreatedAt and CreatedBy (from actor when 0).
	CreateConsultation(ctx context.Context, c *Consultation, actor CaseEvent) error
	GetConsultation(ctx context.Context, id int64) (Consultation, error)
	// ListConsultations is a case's consultations, oldest first, with their opinions.
	ListConsultations(ctx context.Context, caseID int64) ([]Consultation, error)
	// AddConsultationOpinion records o for its unit, given by actor.ActorID, who must be a member
	// of that unit (MemberOf; ErrInvalid otherwise); a signed consultation takes no opinion.
	AddConsultationOpinion(ctx context.Context, id int64, o Opinion, actor CaseEvent) error
	// SignConsultation makes the conclusion final, signed by actor.ActorID, who must be a member
	// of the competent unit.
	SignConsultation(ctx context.Context, id int64, conclusion string, actor CaseEvent) error
}

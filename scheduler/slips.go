package scheduler

import (
	"context"
	"strings"
	"time"
	"unicode/utf8"
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
		return invalid("case_id", "必须指定事项", "case_id is required")
	}
	if a.AssignerUnitID == 0 || a.ResponsibleUnitID == 0 {
		return invalid("responsible_unit_id", "必须指定交办单位和责任单位", "the assigning and responsible units are required")
	}
	if a.AssignerUnitID == a.ResponsibleUnitID {
		return invalid("responsible_unit_id", "不能交办给自己", "a unit cannot assign a case to itself")
	}
	for _, u := range a.CoUnitIDs {
		if u == 0 || u == a.ResponsibleUnitID {
			return invalid("co_unit_ids", "协办单位不能为空，也不能与责任单位相同", "co-handling units must be set and differ from the responsible unit")
		}
	}
	switch a.Method {
	case AssignByPhone, AssignByLetter, AssignBySystem:
		if a.SessionID != "" || a.RecordingOffset != 0 {
			return invalid("session_id", "只有视频接访中的交办才记录会话和录像时间点", "only an assignment on the video call carries a session id and recording offset")
		}
	case AssignOnVideoCall:
		if strings.TrimSpace(a.SessionID) == "" || a.RecordingOffset < 0 {
			return invalid("session_id", "视频接访中的交办须记录会话编号和录像时间点", "an assignment on the video call needs the session id and a recording offset ≥ 0")
		}
	default:
		return invalid("method", "交办方式应为 phone、letter、system 或 video_call", "method must be phone, letter, system or video_call")
	}
	if a.FeedbackDue.IsZero() {
		return invalid("feedback_due", "必须指定反馈期限", "feedback_due is required")
	}
	if utf8.RuneCountInString(a.Requirements) > 4000 || utf8.RuneCountInString(a.Instruction) > 4000 {
		return invalid("requirements", "要求和批示各不超过 4000 字", "requirements and instruction are at most 4000 characters each")
	}
	return nil
}

// CheckObjection says whether the responsible unit may still object at now: within the objection
// rule (5 working days) after the day of assignment, with a reason.
func CheckObjection(cal *Calendar, rules Rules, a Assignment, reason string, now time.Time) error {
	if a.Status != AssignmentOpen {
		return invalid("status", "该交办单已退回，不能再提出异议", "this assignment was already returned; no further objection")
	}
	if strings.TrimSpace(reason) == "" {
		return invalid("reason", "异议须写明理由", "an objection needs a reason")
	}
	d, err := cal.Compute(rules[RuleObjection], a.AssignedAt)
	if err != nil {
		return err
	}
	if !now.Before(d.DueAt()) {
		return invalid("objection", "异议期限已过（"+d.Due.Format("2006-01-02")+" 止）："+d.Explain(),
			"the objection period ended on "+d.Due.Format("2006-01-02"))
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
}

// ValidateSupervision checks a new supervision item.
func ValidateSupervision(s Supervision) error {
	if s.CaseID == 0 || s.UnitID == 0 {
		return invalid("case_id", "必须指定事项和被督办单位", "case_id and unit_id are required")
	}
	if strings.TrimSpace(s.Basis) == "" {
		return invalid("basis", "必须写明督办依据", "basis is required")
	}
	switch s.Level {
	case SupLevelRoutine, SupLevelListed, SupLevelJoint:
	default:
		return invalid("level", "督办级别应为 routine、listed 或 joint", "level must be routine, listed or joint")
	}
	switch s.Method {
	case SupByPhone, SupWritten, SupSummons, SupOnSite, SupJoint:
	default:
		return invalid("method", "督办方式应为 phone、written、summons、on_site 或 joint", "method must be phone, written, summons, on_site or joint")
	}
	if s.Deadline.IsZero() {
		return invalid("deadline", "必须指定督办期限", "deadline is required")
	}
	return nil
}

// Opinion is one unit's opinion in a consultation.
type Opinion struct {
	UnitID  int64
	Text    string
	Dissent bool // recorded as dissent (不同意见)
}

// Consultation is a 会商: units deliberate; the competent unit signs the conclusion.
type Consultation struct {
	ID              int64
	CaseID          int64
	CompetentUnitID int64
	UnitIDs         []int64 // the units taking part, the competent one included
	Opinions        []Opinion
	Conclusion      string
	SignedBy        int64 // the user of the competent unit who signed; 0: not final
	SignedUnitID    int64
	SignedAt        time.Time
}

// AddOpinion records a participating unit's opinion (one per unit; a later one replaces it).
func (c *Consultation) AddOpinion(o Opinion) error {
	if !containsID(c.UnitIDs, o.UnitID) {
		return invalid("unit_id", "只有参加会商的单位可以发表意见", "only a participating unit may give an opinion")
	}
	if c.SignedBy != 0 {
		return invalid("status", "会商结论已签署，不能再修改意见", "the conclusion is signed; opinions are closed")
	}
	if strings.TrimSpace(o.Text) == "" {
		return invalid("text", "意见不能为空", "an opinion needs text")
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
		return invalid("unit_id", "会商结论须由主管单位签署", "only the competent unit signs the conclusion")
	}
	if strings.TrimSpace(conclusion) == "" {
		return invalid("conclusion", "结论不能为空", "a conclusion is required")
	}
	if c.SignedBy != 0 {
		return invalid("status", "会商结论已签署", "the conclusion is already signed")
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

// SlipStore is the slip part of Store.
type SlipStore interface {
	// CreateAssignment validates a, stores it open and moves the case to assigned (from
	// registered, forwarded or objection_returned) with an event.
	CreateAssignment(ctx context.Context, a *Assignment, actor CaseEvent) error
	GetAssignment(ctx context.Context, id int64) (Assignment, error)
	ListAssignments(ctx context.Context, caseID int64) ([]Assignment, error)
	// ObjectAssignment marks the open assignment objected and returns the case to the assigner
	// (assigned → objection_returned); the caller checked CheckObjection.
	ObjectAssignment(ctx context.Context, id int64, reason string, actor CaseEvent) error

	// OpenSupervision stores s and flags the case supervised; a second open item for the
	// same case is ErrConflict (one item per matter).
	OpenSupervision(ctx context.Context, s *Supervision) error
	// OpenSupervisionFor is the case's open item (ErrNotFound when none).
	OpenSupervisionFor(ctx context.Context, caseID int64) (Supervision, error)
	// EscalateSupervision moves an open item one rung up the ladder.
	EscalateSupervision(ctx context.Context, id int64) error
	// CloseSupervision closes an open item with the audit opinion and clears the case's flag.
	CloseSupervision(ctx context.Context, id int64, opinion, notes string, at time.Time) error
}

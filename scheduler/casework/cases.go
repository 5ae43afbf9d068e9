package casework

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"sanji/scheduler/org"
)

// Case records (信访事项): shared/domain.md "A case record".

// CaseStatus is where a case stands in its status machine.
type CaseStatus string

// The statuses. "Under supervision" and "owned by a leader" are not statuses: they overlay any
// status (a supervised case is still in progress), so they are flags on the case.
const (
	StRegistered        CaseStatus = "registered"         // 登记
	StForwarded         CaseStatus = "forwarded"          // 转送
	StAssigned          CaseStatus = "assigned"           // 交办
	StObjectionReturned CaseStatus = "objection_returned" // 异议退回 (to the assigner)
	StAccepted          CaseStatus = "accepted"           // 受理
	StNotAccepted       CaseStatus = "not_accepted"       // 不予受理
	StInProgress        CaseStatus = "in_progress"        // 办理中
	StExtended          CaseStatus = "extended"           // 延期
	StAnswered          CaseStatus = "answered"           // 出具处理意见
	StReview            CaseStatus = "review"             // 复查
	StReReview          CaseStatus = "rereview"           // 复核
	StClosed            CaseStatus = "closed"             // 办结
	StEvaluated         CaseStatus = "evaluated"          // 已评价
	StArchived          CaseStatus = "archived"           // 归档
)

// caseTransitions is THE status machine: from → the statuses it may move to.
var caseTransitions = map[CaseStatus][]CaseStatus{
	StRegistered:        {StForwarded, StAssigned, StAccepted, StNotAccepted},
	StForwarded:         {StAccepted, StNotAccepted, StForwarded}, // onward, to the level below (forwarding.go)
	StAssigned:          {StAccepted, StNotAccepted, StObjectionReturned},
	StObjectionReturned: {StForwarded, StAssigned, StAccepted, StNotAccepted},
	StAccepted:          {StInProgress},
	StNotAccepted:       {StArchived},
	StInProgress:        {StExtended, StAnswered},
	StExtended:          {StAnswered},
	StAnswered:          {StReview, StClosed},
	StReview:            {StReReview, StClosed},
	StReReview:          {StClosed}, // after re-review the same facts are not accepted again
	StClosed:            {StEvaluated, StArchived},
	StEvaluated:         {StArchived},
	StArchived:          nil,
}

// CaseStatuses lists every status, in machine order.
var CaseStatuses = []CaseStatus{StRegistered, StForwarded, StAssigned, StObjectionReturned, StAccepted,
	StNotAccepted, StInProgress, StExtended, StAnswered, StReview, StReReview, StClosed, StEvaluated, StArchived}

// CheckTransition says whether from → to is allowed; a refusal names the statuses allowed next.
func CheckTransition(from, to CaseStatus) error {
	next, known := caseTransitions[from]
	if !known {
		return org.Invalid("from", "casework.status.unknown", "status", from)
	}
	if _, ok := caseTransitions[to]; !ok {
		return org.Invalid("to", "casework.status.unknown", "status", to)
	}
	for _, n := range next {
		if n == to {
			return nil
		}
	}
	var names []string
	for _, n := range next {
		names = append(names, string(n))
	}
	allowed := strings.Join(names, ", ")
	if allowed == "" {
		allowed = "—"
	}
	return org.Invalid("to", "casework.status.transition_refused", "from", from, "to", to, "allowed", allowed)
}

// CaseForm is how the matter came in.
type CaseForm string

// Forms, with the letter each puts in the matter number.
const (
	FormLetter CaseForm = "letter" // 来信
	FormVisit  CaseForm = "visit"  // 来访
	FormOnline CaseForm = "online" // 网上
	FormPhone  CaseForm = "phone"  // 电话
	FormVideo  CaseForm = "video"  // 视频
)

var formLetters = map[CaseForm]string{FormLetter: "L", FormVisit: "V", FormOnline: "W", FormPhone: "P", FormVideo: "S"}

// CaseType is the kind of matter.
type CaseType string

// Types.
const (
	TypeSuggestion CaseType = "suggestion" // 建议意见
	TypeAccusation CaseType = "accusation" // 检举控告
	TypeClaim      CaseType = "claim"      // 申诉求决
)

// CaseResult is the handling opinion.
type CaseResult string

// Results.
const (
	ResultNone       CaseResult = ""
	ResultSupport    CaseResult = "support"     // 支持
	ResultExplain    CaseResult = "explain"     // 解释说明
	ResultNotSupport CaseResult = "not_support" // 不支持
)

// Petitioner roles in a case.
const (
	PetitionerSelf           = "petitioner"     // 信访人
	PetitionerRepresentative = "representative" // 代表 (collective visits: at most 5)
	PetitionerProxy          = "proxy"          // 代理人
)

// Petitioner is a person in a case. IDNumber, Phone and Address are sensitive personal
// information: views mask them except for the roles shared/domain.md allows (see CaseViewLevel).
type Petitioner struct {
	Name           string
	IDNumber       string
	Phone          string
	Address        string
	Role           string
	Anonymous      bool
	AgreesToPublic bool
}

// Case is a 信访事项.
type Case struct {
	ID         int64
	Number     string // 330102-2026-V-000123, made by the store per territory and year
	ExternalID string // an upper-level system's id, kept apart
	// ExternalSource is set on a copy of a case from another system (scheduler/exchange): the key id of
	// that system, whose number for the case is ExternalID. A copy is read-only here.
	ExternalSource string
	// QueryCodeHash is the SHA-256 of the petitioner's query code; the code itself is shown once.
	QueryCodeHash string
	UnitID        int64  // the registering unit: the case belongs to its subtree
	Territory     string // division code of where the matter arises (six or nine digits)
	Form          CaseForm
	Type          CaseType
	CategoryID    int64
	Title         string // a short neutral subject, shown to every viewer that may see the case
	Content       string // the matter as told: accusation material for an accusation
	// ComplainedUnitID is the unit complained about (被反映对象), 0 when none or not a unit;
	// ComplainedParty names it (or a person) in words.
	ComplainedUnitID  int64
	ComplainedParty   string
	ResponsibleUnitID int64   // 责任单位, 0 until forwarded or assigned
	CoUnitIDs         []int64 // 协办单位
	Petitioners       []Petitioner
	InvolvedCount     int // 涉及人数
	FastTrack         bool
	Result            CaseResult
	Status            CaseStatus
	Supervised        bool  // a supervision item is open
	OwnerLeaderID     int64 // 包案领导, 0 when none
	RegisteredAt      time.Time
	AcceptedAt        time.Time
	ClosedAt          time.Time
	UpdatedAt         time.Time
	// Privacy is what intake marked as 涉及检举控告 (privacy.go), whatever the type.
	Privacy Privacy
	// ReviewUnitID is the body holding the review (复查) or re-review (复核): one level above the
	// unit whose handling it examines (review.go); 0 before any review.
	ReviewUnitID int64
	// Outcome is how the matter ended (not accepted why, or closed how); Channel the legal channel
	// of OutcomeLegalChannel.
	Outcome CaseOutcome
	Channel string
	// Final: the matter went through re-review and is closed, for good (不再受理).
	Final bool
	// FinalOfID is the final matter this case repeats (same person, same matter), found at
	// registration: it can only be not accepted (不再受理). FinalWhy says why it was judged the same.
	FinalOfID int64
	FinalWhy  string
}

// CaseEvent is one step of a case's timeline: every status change, with who, when, at which tier
// and why.
type CaseEvent struct {
	ID      int64
	CaseID  int64
	At      time.Time
	ActorID int64  // 0: the system (a clock job)
	Actor   string // username at the time
	UnitID  int64  // the tier the actor acted at
	Kind    string // "status" for a transition; other kinds are notes on the timeline
	From    CaseStatus
	To      CaseStatus
	Reason  string
	// Set by a transition to forwarded or assigned: the new responsible and co-handling units.
	ResponsibleUnitID int64
	CoUnitIDs         []int64
	// Set by a transition to answered.
	Result CaseResult
	// Ref names what a note is about ("consultation:12", "supervision:3", "user:7"), "" when nothing.
	Ref string
	// Set by a transition to extended: the days granted (at most the extension rule's), the unit
	// head who approved them, and the written notice to the petitioner.
	Days       int
	ApprovedBy int64
	Notice     string
	// Set by a transition to not accepted or closed: the outcome and, for a legal channel, which.
	// A transition to review or re-review records the review body in ResponsibleUnitID.
	Outcome CaseOutcome
	Channel string
}

// IsClockEvent reports whether an event kind moves a case's clock: such events go through their
// own checked path (CheckClockEvent), never as a plain note.
func IsClockEvent(kind string) bool {
	return kind == EvClockPaused || kind == EvClockResumed || kind == EvReviewAnswered
}

// Event kinds. "status" is a transition; the others are notes on the timeline.
const (
	EvStatus               = "status"
	EvClockPaused          = "clock_paused"    // a hearing (听证) begins: its time does not count
	EvClockResumed         = "clock_resumed"   // the hearing ended
	EvReviewAnswered       = "review_answered" // the review body answered; the re-review window opens
	EvConsultation         = "consultation"
	EvConsultationOpinion  = "consultation_opinion"
	EvConsultationSigned   = "consultation_signed"
	EvOwner                = "owner"       // 包案 taken or released
	EvSupervision          = "supervision" // an item opened, escalated or closed
	EvSupervisionReport    = "supervision_report"
	EvSupervisionExtension = "supervision_extension" // a request, or the decision on one
	// EvRecording: a hearing's recording sealed (Ref "recording:<hearing id>", the Reason names
	// the chain head): the case's recordings are found by these notes.
	EvRecording = "recording"
)

// CaseFilter selects cases; zero fields do not filter.
type CaseFilter struct {
	UnderPath         string // cases whose registering unit lies in this subtree
	Status            CaseStatus
	ResponsibleUnitID int64
	ResponsibleUnder  string // cases whose responsible unit lies in this subtree
	OwnerLeaderID     int64
	// RegisteredFrom and RegisteredBefore bound the registration instant: from inclusive,
	// before exclusive; zero does not bound.
	RegisteredFrom, RegisteredBefore time.Time
	Limit                            int // default and maximum 500
	BeforeID                         int64
}

// CaseStore is the case part of scheduler.Store. Errors wrap ErrNotFound, ErrConflict or ErrInvalid.
type CaseStore interface {
	AttachmentStore
	PrivacyStore

	// CasesByIDNumber returns the cases with a petitioner of this ID number, newest first, at most
	// limit (at most PersonLookback).
	CasesByIDNumber(ctx context.Context, idNumber string, limit int) ([]Case, error)

	// CreateCase validates c, gives it the next number of its territory and year, stores it
	// with status registered and appends the "registered" event by actor.
	CreateCase(ctx context.Context, c *Case, actor CaseEvent) error
	GetCase(ctx context.Context, id int64) (Case, error)
	GetCaseByNumber(ctx context.Context, number string) (Case, error)
	GetCaseByQueryHash(ctx context.Context, hash string) (Case, error)
	// ListCases returns cases newest first.
	ListCases(ctx context.Context, f CaseFilter) ([]Case, error)
	// TransitionCase moves a case from ev.From to ev.To (ErrConflict when the case is no longer
	// at ev.From; ErrInvalid when the machine refuses) and appends ev; it fills ev.ID and ev.At.
	TransitionCase(ctx context.Context, ev *CaseEvent) error
	// ListCaseEvents is the case's timeline, oldest first.
	ListCaseEvents(ctx context.Context, caseID int64) ([]CaseEvent, error)
	// AddCaseNote appends a note to a case's timeline (a recording sealed, a recording error):
	// Kind names it and is neither empty nor "status" (status changes go through TransitionCase).
	// It fills ev.ID and, when zero, ev.At.
	AddCaseNote(ctx context.Context, ev *CaseEvent) error
	// AddClockEvent appends a clock note (EvClockPaused, EvClockResumed, EvReviewAnswered) after
	// CheckClockEvent against the case and its timeline; it fills ev.ID and ev.At.
	AddClockEvent(ctx context.Context, ev *CaseEvent) error
	// SetCaseOwner makes leaderID, a user holding the leader role, the case's owning leader (包案),
	// or releases the case with 0. Taking a case another leader owns is ErrConflict: that leader
	// releases it first. Each change is a timeline note (EvOwner) by actor.
	SetCaseOwner(ctx context.Context, caseID, leaderID int64, actor CaseEvent) error

	// AddEvaluation stores a petitioner's rating after CheckEvaluation; the same stage twice is
	// ErrConflict. Rating the result of a closed case moves it to evaluated, with an event.
	AddEvaluation(ctx context.Context, e *Evaluation) error
	ListEvaluations(ctx context.Context, caseID int64) ([]Evaluation, error)
}

var territoryCode = regexp.MustCompile(`^[1-9][0-9]{5}([0-9]{3})?$`)

// KnownStatus reports whether s is a status of the machine.
func KnownStatus(s CaseStatus) bool {
	_, ok := caseTransitions[s]
	return ok
}

// ValidateCase checks a new case's own fields.
func ValidateCase(c Case) error {
	if c.UnitID == 0 {
		return org.Invalid("unit_id", "casework.case.unit_required")
	}
	if !territoryCode.MatchString(c.Territory) {
		return org.Invalid("territory", "casework.case.territory_invalid")
	}
	if _, ok := formLetters[c.Form]; !ok {
		return org.Invalid("form", "casework.case.form_invalid")
	}
	switch c.Type {
	case TypeSuggestion, TypeAccusation, TypeClaim:
	default:
		return org.Invalid("type", "casework.case.type_invalid")
	}
	if c.CategoryID == 0 {
		return org.Invalid("category_id", "casework.case.category_required")
	}
	if err := org.ValidName("title", c.Title); err != nil {
		return err
	}
	if utf8.RuneCountInString(c.Content) > 20000 {
		return org.Invalid("content", "casework.case.content_too_long")
	}
	if len(c.Petitioners) == 0 {
		return org.Invalid("petitioners", "casework.case.petitioner_required")
	}
	reps := 0
	for i, p := range c.Petitioners {
		f := fmt.Sprintf("petitioners[%d]", i)
		switch p.Role {
		case PetitionerSelf, PetitionerProxy:
		case PetitionerRepresentative:
			reps++
		default:
			return org.Invalid(f+".role", "casework.case.petitioner_role_invalid")
		}
		if !p.Anonymous && strings.TrimSpace(p.Name) == "" {
			return org.Invalid(f+".name", "casework.case.petitioner_name_required")
		}
	}
	if reps > MaxRepresentatives {
		return org.Invalid("petitioners", "casework.case.representatives_too_many")
	}
	if c.InvolvedCount < 0 {
		return org.Invalid("involved_count", "casework.case.involved_count_negative")
	}
	return ValidatePrivacy(c, c.Privacy)
}

// CaseNumber formats a matter number: territory-year-form letter-sequence.
func CaseNumber(territory string, year int, form CaseForm, seq int64) string {
	return fmt.Sprintf("%s-%d-%s-%06d", territory, year, formLetters[form], seq)
}

// queryAlphabet has no 0/O, 1/I/L: a code is read aloud and typed at a terminal.
const queryAlphabet = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"

// NewQueryCode returns a random query code (16 symbols, about 79 bits) and the hash to store.
func NewQueryCode() (code, hash string, err error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", "", fmt.Errorf("scheduler: query code: %w", err)
	}
	out := make([]byte, len(b))
	for i, x := range b {
		// 256 is not a multiple of 31: a slight bias, far from making a code guessable.
		out[i] = queryAlphabet[int(x)%len(queryAlphabet)]
	}
	code = string(out)
	return code, QueryCodeHash(code), nil
}

// QueryCodeHash is what the store keeps of a query code (normalised: upper case, no spaces or dashes).
func QueryCodeHash(code string) string {
	n := strings.ToUpper(strings.NewReplacer(" ", "", "-", "").Replace(code))
	h := sha256.Sum256([]byte(n))
	return hex.EncodeToString(h[:])
}

// ValidateTransition checks a status event before it is applied to a case at ev.From.
func ValidateTransition(ev CaseEvent) error {
	if err := CheckTransition(ev.From, ev.To); err != nil {
		return err
	}
	if strings.TrimSpace(ev.Reason) == "" && ev.To != StAccepted && ev.To != StInProgress {
		return org.Invalid("reason", "casework.transition.reason_required")
	}
	if utf8.RuneCountInString(ev.Reason) > 2000 {
		return org.Invalid("reason", "casework.transition.reason_too_long")
	}
	if err := validateOutcome(ev); err != nil {
		return err
	}
	switch ev.To {
	case StForwarded, StAssigned:
		if ev.ResponsibleUnitID == 0 {
			return org.Invalid("responsible_unit_id", "casework.transition.responsible_unit_required")
		}
		for _, u := range ev.CoUnitIDs {
			if u == ev.ResponsibleUnitID || u == 0 {
				return org.Invalid("co_unit_ids", "casework.co_units_invalid")
			}
		}
	case StExtended:
		max := DefaultRules()[RuleExtension].Days
		if ev.Days <= 0 || ev.Days > max {
			return org.Invalid("days", "casework.transition.extension_days", "max", max)
		}
		if ev.ApprovedBy == 0 {
			return org.Invalid("approved_by", "casework.transition.extension_approval_required")
		}
		if strings.TrimSpace(ev.Notice) == "" || utf8.RuneCountInString(ev.Notice) > 4000 {
			return org.Invalid("notice", "casework.transition.extension_notice_required")
		}
	case StAnswered:
		switch ev.Result {
		case ResultSupport, ResultExplain, ResultNotSupport:
		default:
			return org.Invalid("result", "casework.transition.result_invalid")
		}
	}
	return nil
}

// MaxRepresentatives is how many people of a collective visit may speak (and be named).
const MaxRepresentatives = 5

// Evaluation stages and scores.
const (
	EvalAcceptance = "acceptance" // 受理环节
	EvalResult     = "result"     // 办理结果
	// The results of a review by the higher body, rated again once its opinion is served.
	EvalReviewResult   = "review_result"   // 复查结果（复查意见书）
	EvalReReviewResult = "rereview_result" // 复核结果（复核意见书）

	ScoreSatisfied   = "satisfied"   // 满意
	ScoreBasically   = "basically"   // 基本满意
	ScoreUnsatisfied = "unsatisfied" // 不满意
)

// Evaluation is the petitioner's rating of one stage, once per stage.
type Evaluation struct {
	ID     int64
	CaseID int64
	Stage  string
	Score  string
	Via    string // ViaQueryPage, ViaTerminal or ViaPhone
	At     time.Time
	// RecordedBy is the staff member who recorded a rating given by phone (ViaPhone), else 0.
	RecordedBy int64
}

// EvaluationExcluded reports whether a case is excluded from satisfaction evaluation: accusations
// (检举控告) are, since the petitioner's satisfaction is not the measure of an investigation. This
// is the one rule here taken as an assumption; change it if the province's rules differ.
func EvaluationExcluded(c Case) bool { return c.Type == TypeAccusation }

// CheckEvaluation says whether the petitioner may rate stage of c, with timeline evs, now: the
// result as soon as the 处理意见书 has been served (RatingStart), not only after closing.
func CheckEvaluation(c Case, evs []CaseEvent, e Evaluation) error {
	if EvaluationExcluded(c) {
		return org.Invalid("case", "casework.evaluation.accusation_excluded")
	}
	switch e.Score {
	case ScoreSatisfied, ScoreBasically, ScoreUnsatisfied:
	default:
		return org.Invalid("score", "casework.evaluation.score_invalid")
	}
	switch e.Stage {
	case EvalAcceptance:
		if c.AcceptedAt.IsZero() {
			return org.Invalid("stage", "casework.evaluation.not_accepted_yet")
		}
	case EvalResult:
		if _, ok := RatingStart(c, evs, e.Stage); !ok {
			return org.Invalid("stage", "casework.documents.rating_not_served_yet")
		}
	case EvalReviewResult, EvalReReviewResult:
		if _, ok := RatingStart(c, evs, e.Stage); !ok {
			kind := DocReviewOpinion
			if e.Stage == EvalReReviewResult {
				kind = DocReReviewOpinion
			}
			return org.Invalid("stage", "casework.reviewrating.not_served_yet", "document", DocumentTitle(kind))
		}
	default:
		return org.Invalid("stage", "casework.evaluation.stage_invalid")
	}
	switch e.Via {
	case ViaQueryPage, ViaTerminal:
		if e.RecordedBy != 0 {
			return org.Invalid("recorded_by", "casework.documents.rating_recorded_by_phone_only")
		}
	case ViaPhone:
		if e.RecordedBy == 0 {
			return org.Invalid("recorded_by", "casework.documents.rating_recorded_by_required")
		}
	default:
		return org.Invalid("via", "casework.documents.rating_via_invalid")
	}
	return nil
}

package exchange

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"sanji/i18n"
	"sanji/scheduler/casework"
	"sanji/scheduler/org"
)

// Case exchange (docs/exchange.md): the records a bundle carries, and the import that maps them
// onto this store. A record names units and categories by code and holds no id of the exporting
// store: ids are local, codes are shared. People are named only as the timeline's actors; a
// person's account is local to their system, so a copy keeps that a person acted, not who.
//
// An imported case is a copy (a mirror): it keeps the exporter's number as its ExternalID and the
// exporter's key id as its ExternalSource, is read-only here, and changes only when a later
// bundle from the same source brings its newer state.

// ExternalUser stands in a copy for a person of the exporting system (a signer, an opener, an
// uploader): someone acted, and their account is not here.
const ExternalUser int64 = -1

// CaseFile is a case with everything that belongs to it, in one store's ids.
type CaseFile struct {
	Case          casework.Case
	Events        []casework.CaseEvent
	Assignments   []casework.Assignment
	Supervisions  []SupervisionFile
	Consultations []casework.Consultation
	Evaluations   []casework.Evaluation
	Attachments   []casework.Attachment
}

// SupervisionFile is a supervision item with its reports.
type SupervisionFile struct {
	Item    casework.Supervision
	Reports []casework.SupervisionReport
}

// MirrorStore is the part of Store that writes copies of cases from other systems.
type MirrorStore interface {
	// GetCaseByExternal finds the copy of case externalID from the system with key id source.
	GetCaseByExternal(ctx context.Context, source, externalID string) (casework.Case, error)
	// PutMirror writes a copy. With f.Case.ID == 0 it creates the case (a new local number, a
	// query code nobody holds, ExternalSource and ExternalID as given) and everything in f. With
	// an existing copy's id it brings the copy to f: the case's fields, petitioners and units are
	// replaced, the first keep events stay and the rest of f.Events are appended, slips are
	// updated in place by position (the i-th supervision of f is the copy's i-th) and added,
	// evaluations and attachments not yet there are added. Event refs of the form
	// "supervision#i" and "consultation#i" are rewritten to the local ids. It fills the ids in f.
	PutMirror(ctx context.Context, f *CaseFile, keep int) error
}

// Store is what export and import read and write: the cases with their slips, the copies
// of other systems' cases, and the units and categories their codes name.
type Store interface {
	casework.CaseStore
	casework.SlipStore
	MirrorStore
	ListUnits(ctx context.Context, underPath string) ([]org.Unit, error)
	ListCategories(ctx context.Context) ([]org.Category, error)
}

// LoadCaseFile loads a case with its timeline, slips, evaluations and attachments.
func LoadCaseFile(ctx context.Context, st Store, id int64) (CaseFile, error) {
	var f CaseFile
	var err error
	if f.Case, err = st.GetCase(ctx, id); err != nil {
		return f, err
	}
	if f.Events, err = st.ListCaseEvents(ctx, id); err != nil {
		return f, err
	}
	if f.Assignments, err = st.ListAssignments(ctx, id); err != nil {
		return f, err
	}
	svs, err := st.ListSupervisions(ctx, id)
	if err != nil {
		return f, err
	}
	for _, sv := range svs {
		rs, err := st.ListSupervisionReports(ctx, sv.ID)
		if err != nil {
			return f, err
		}
		f.Supervisions = append(f.Supervisions, SupervisionFile{Item: sv, Reports: rs})
	}
	if f.Consultations, err = st.ListConsultations(ctx, id); err != nil {
		return f, err
	}
	if f.Evaluations, err = st.ListEvaluations(ctx, id); err != nil {
		return f, err
	}
	if f.Attachments, err = st.ListAttachments(ctx, id, ""); err != nil {
		return f, err
	}
	return f, nil
}

// The records of cases.json.

// ExchangeCases is cases.json.
type ExchangeCases struct {
	Format string `json:"format"` // ExchangeFormat
	// Identity is "full" (petitioner identity as registered, exported for a stated purpose) or
	// "masked" (ID numbers, phones and addresses masked, identifying attachments withheld).
	Identity   string       `json:"identity"`
	ExportedAt time.Time    `json:"exported_at"`
	Cases      []CaseRecord `json:"cases"`
}

// ExchangeFormat names the format of cases.json.
const ExchangeFormat = "sanji.cases/1"

// Identity levels of an export.
const (
	IdentityFull   = "full"
	IdentityMasked = "masked"
)

// CaseRecord is a case as it travels.
type CaseRecord struct {
	Number          string               `json:"number"`
	ExternalSource  string               `json:"external_source,omitempty"`
	ExternalID      string               `json:"external_id,omitempty"`
	Unit            string               `json:"unit"`
	Territory       string               `json:"territory"`
	Form            casework.CaseForm    `json:"form"`
	Type            casework.CaseType    `json:"type"`
	Category        string               `json:"category"`
	Title           string               `json:"title"`
	Content         string               `json:"content"`
	ComplainedUnit  string               `json:"complained_unit,omitempty"`
	ComplainedParty string               `json:"complained_party,omitempty"`
	ResponsibleUnit string               `json:"responsible_unit,omitempty"`
	CoUnits         []string             `json:"co_units,omitempty"`
	Petitioners     []PetitionerRecord   `json:"petitioners"`
	InvolvedCount   int                  `json:"involved_count"`
	FastTrack       bool                 `json:"fast_track,omitempty"`
	Result          casework.CaseResult  `json:"result,omitempty"`
	Status          casework.CaseStatus  `json:"status"`
	Supervised      bool                 `json:"supervised,omitempty"`
	RegisteredAt    time.Time            `json:"registered_at"`
	AcceptedAt      time.Time            `json:"accepted_at,omitzero"`
	ClosedAt        time.Time            `json:"closed_at,omitzero"`
	UpdatedAt       time.Time            `json:"updated_at"`
	Timeline        []EventRecord        `json:"timeline"`
	Assignments     []AssignmentRecord   `json:"assignments,omitempty"`
	Supervisions    []SupervisionRecord  `json:"supervisions,omitempty"`
	Consultations   []ConsultationRecord `json:"consultations,omitempty"`
	Evaluations     []EvaluationRecord   `json:"evaluations,omitempty"`
	Attachments     []AttachmentRecord   `json:"attachments,omitempty"`
	// Withheld counts the identifying attachments a masked export left out.
	Withheld int `json:"withheld_attachments,omitempty"`
}

// PetitionerRecord is a petitioner as they travel.
type PetitionerRecord struct {
	Name           string `json:"name,omitempty"`
	IDNumber       string `json:"id_number,omitempty"`
	Phone          string `json:"phone,omitempty"`
	Address        string `json:"address,omitempty"`
	Role           string `json:"role"`
	Anonymous      bool   `json:"anonymous,omitempty"`
	AgreesToPublic bool   `json:"agrees_to_public,omitempty"`
}

// EventRecord is a step of the timeline. Ref names a slip of this record by its position
// ("supervision#0") where the exporter's ref named it by id.
type EventRecord struct {
	At              time.Time           `json:"at"`
	Kind            string              `json:"kind"`
	Actor           string              `json:"actor,omitempty"`
	System          bool                `json:"system,omitempty"` // done by the system (a clock job), not a person
	Unit            string              `json:"unit,omitempty"`
	From            casework.CaseStatus `json:"from,omitempty"`
	To              casework.CaseStatus `json:"to,omitempty"`
	Reason          string              `json:"reason,omitempty"`
	ResponsibleUnit string              `json:"responsible_unit,omitempty"`
	CoUnits         []string            `json:"co_units,omitempty"`
	Result          casework.CaseResult `json:"result,omitempty"`
	Ref             string              `json:"ref,omitempty"`
	Days            int                 `json:"days,omitempty"`
	Approved        bool                `json:"approved,omitempty"` // an extension approved by the unit head
	Notice          string              `json:"notice,omitempty"`
}

// AssignmentRecord is a 交办单.
type AssignmentRecord struct {
	AssignerUnit      string    `json:"assigner_unit"`
	ResponsibleUnit   string    `json:"responsible_unit"`
	CoUnits           []string  `json:"co_units,omitempty"`
	Requirements      string    `json:"requirements,omitempty"`
	Instruction       string    `json:"instruction,omitempty"`
	Method            string    `json:"method"`
	SessionID         string    `json:"session_id,omitempty"`
	RecordingOffsetMS int64     `json:"recording_offset_ms,omitempty"`
	AssignedAt        time.Time `json:"assigned_at"`
	FeedbackDue       time.Time `json:"feedback_due"`
	Status            string    `json:"status"`
	ObjectionReason   string    `json:"objection_reason,omitempty"`
	ObjectedAt        time.Time `json:"objected_at,omitzero"`
}

// SupervisionRecord is a 督办单 with its reports.
type SupervisionRecord struct {
	Unit           string         `json:"unit"`
	OpenedBySystem bool           `json:"opened_by_system,omitempty"`
	Basis          string         `json:"basis"`
	Level          string         `json:"level"`
	Method         string         `json:"method"`
	Escalation     string         `json:"escalation"`
	Deadline       time.Time      `json:"deadline"`
	OpenedAt       time.Time      `json:"opened_at"`
	ClosedAt       time.Time      `json:"closed_at,omitzero"`
	Opinion        string         `json:"opinion,omitempty"`
	Notes          string         `json:"notes,omitempty"`
	Reports        []ReportRecord `json:"reports,omitempty"`
}

// ReportRecord is a progress report or extension request on a supervision item.
type ReportRecord struct {
	Kind              string    `json:"kind"`
	Text              string    `json:"text"`
	Unit              string    `json:"unit"`
	At                time.Time `json:"at"`
	RequestedDeadline time.Time `json:"requested_deadline,omitzero"`
	Decision          string    `json:"decision,omitempty"`
	DecidedAt         time.Time `json:"decided_at,omitzero"`
	DecisionNote      string    `json:"decision_note,omitempty"`
}

// ConsultationRecord is a 会商; it is signed when SignedAt is set.
type ConsultationRecord struct {
	CompetentUnit     string          `json:"competent_unit"`
	Units             []string        `json:"units"`
	Subject           string          `json:"subject"`
	SessionID         string          `json:"session_id,omitempty"`
	RecordingOffsetMS int64           `json:"recording_offset_ms,omitempty"`
	CreatedAt         time.Time       `json:"created_at"`
	Opinions          []OpinionRecord `json:"opinions,omitempty"`
	Conclusion        string          `json:"conclusion,omitempty"`
	SignedAt          time.Time       `json:"signed_at,omitzero"`
}

// OpinionRecord is one unit's opinion in a consultation.
type OpinionRecord struct {
	Unit    string    `json:"unit"`
	Text    string    `json:"text"`
	Dissent bool      `json:"dissent,omitempty"`
	At      time.Time `json:"at"`
}

// EvaluationRecord is a petitioner's rating.
type EvaluationRecord struct {
	Stage string    `json:"stage"`
	Score string    `json:"score"`
	Via   string    `json:"via,omitempty"`
	At    time.Time `json:"at"`
}

// AttachmentRecord is an attachment's metadata; its file travels as files/<sha256>.
type AttachmentRecord struct {
	Kind       string    `json:"kind"`
	Name       string    `json:"name"`
	SHA256     string    `json:"sha256"`
	Size       int64     `json:"size"`
	MIME       string    `json:"mime"`
	UploadedAt time.Time `json:"uploaded_at"`
}

// codebook maps this store's unit and category ids to codes and back.
type codebook struct {
	st       Store
	units    map[int64]org.Unit
	unitCode map[string]org.Unit
	cats     map[int64]org.Category
	catCode  map[string]org.Category
}

func newCodebook(ctx context.Context, st Store) (*codebook, error) {
	cb := &codebook{st: st, units: map[int64]org.Unit{}, unitCode: map[string]org.Unit{}, cats: map[int64]org.Category{}, catCode: map[string]org.Category{}}
	us, err := st.ListUnits(ctx, "")
	if err != nil {
		return nil, err
	}
	for _, u := range us {
		cb.units[u.ID], cb.unitCode[u.Code] = u, u
	}
	cs, err := st.ListCategories(ctx)
	if err != nil {
		return nil, err
	}
	for _, c := range cs {
		cb.cats[c.ID], cb.catCode[c.Code] = c, c
	}
	return cb, nil
}

func (cb *codebook) code(id int64) string {
	if id == 0 {
		return ""
	}
	return cb.units[id].Code
}

func (cb *codebook) codes(ids []int64) []string {
	var out []string
	for _, id := range ids {
		out = append(out, cb.code(id))
	}
	return out
}

// unit resolves a unit code of a record; field names where it was found, for the error.
func (cb *codebook) unit(field, code string) (int64, error) {
	if code == "" {
		return 0, nil
	}
	u, ok := cb.unitCode[code]
	if !ok {
		return 0, org.Invalid(field, "exchange.record.unit_unknown", "code", code)
	}
	return u.ID, nil
}

func (cb *codebook) unitList(field string, codes []string) ([]int64, error) {
	var out []int64
	for i, c := range codes {
		id, err := cb.unit(fmt.Sprintf("%s[%d]", field, i), c)
		if err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, nil
}

// resolver resolves the unit codes of one record, keeping the first error.
type resolver struct {
	cb  *codebook
	err error
}

func (r *resolver) unit(field, code string) int64 {
	if r.err != nil {
		return 0
	}
	id, err := r.cb.unit(field, code)
	r.err = err
	return id
}

func (r *resolver) units(field string, codes []string) []int64 {
	if r.err != nil {
		return nil
	}
	ids, err := r.cb.unitList(field, codes)
	r.err = err
	return ids
}

var slipRef = regexp.MustCompile(`^(supervision|consultation):([0-9]+)$`)
var slipIndexRef = regexp.MustCompile(`^(supervision|consultation)#([0-9]+)$`)

// Record turns a case file into its record; level ViewFull keeps identity, ViewMasked masks it
// and leaves out the identifying attachments (counted in Withheld).
func (cb *codebook) record(f CaseFile, level casework.ViewLevel) CaseRecord {
	c := f.Case
	if level != casework.ViewFull {
		c = casework.RedactCase(c, casework.ViewMasked)
	}
	r := CaseRecord{Number: c.Number, ExternalSource: c.ExternalSource, ExternalID: c.ExternalID, Unit: cb.code(c.UnitID),
		Territory: c.Territory, Form: c.Form, Type: c.Type, Category: cb.cats[c.CategoryID].Code, Title: c.Title, Content: c.Content,
		ComplainedUnit: cb.code(c.ComplainedUnitID), ComplainedParty: c.ComplainedParty, ResponsibleUnit: cb.code(c.ResponsibleUnitID),
		CoUnits: cb.codes(c.CoUnitIDs), Petitioners: []PetitionerRecord{}, InvolvedCount: c.InvolvedCount, FastTrack: c.FastTrack,
		Result: c.Result, Status: c.Status, Supervised: c.Supervised, RegisteredAt: c.RegisteredAt, AcceptedAt: c.AcceptedAt,
		ClosedAt: c.ClosedAt, UpdatedAt: c.UpdatedAt, Timeline: []EventRecord{}}
	for _, p := range c.Petitioners {
		r.Petitioners = append(r.Petitioners, PetitionerRecord(p))
	}
	index := map[string]int{}
	for i, sv := range f.Supervisions {
		index["supervision:"+strconv.FormatInt(sv.Item.ID, 10)] = i
	}
	for i, co := range f.Consultations {
		index["consultation:"+strconv.FormatInt(co.ID, 10)] = i
	}
	for _, e := range f.Events {
		ref := e.Ref
		if m := slipRef.FindStringSubmatch(ref); m != nil {
			if i, ok := index[ref]; ok {
				ref = m[1] + "#" + strconv.Itoa(i)
			}
		} else if strings.HasPrefix(ref, "user:") {
			ref = "" // an account of this system means nothing elsewhere
		}
		r.Timeline = append(r.Timeline, EventRecord{At: e.At, Kind: e.Kind, Actor: e.Actor, System: e.ActorID == 0, Unit: cb.code(e.UnitID),
			From: e.From, To: e.To, Reason: e.Reason, ResponsibleUnit: cb.code(e.ResponsibleUnitID), CoUnits: cb.codes(e.CoUnitIDs),
			Result: e.Result, Ref: ref, Days: e.Days, Approved: e.ApprovedBy != 0, Notice: e.Notice})
	}
	for _, a := range f.Assignments {
		r.Assignments = append(r.Assignments, AssignmentRecord{AssignerUnit: cb.code(a.AssignerUnitID), ResponsibleUnit: cb.code(a.ResponsibleUnitID),
			CoUnits: cb.codes(a.CoUnitIDs), Requirements: a.Requirements, Instruction: a.Instruction, Method: a.Method, SessionID: a.SessionID,
			RecordingOffsetMS: a.RecordingOffset.Milliseconds(), AssignedAt: a.AssignedAt, FeedbackDue: a.FeedbackDue, Status: a.Status,
			ObjectionReason: a.ObjectionReason, ObjectedAt: a.ObjectedAt})
	}
	for _, s := range f.Supervisions {
		sv := s.Item
		sr := SupervisionRecord{Unit: cb.code(sv.UnitID), OpenedBySystem: sv.OpenedBy == 0, Basis: sv.Basis, Level: sv.Level, Method: sv.Method,
			Escalation: sv.Escalation, Deadline: sv.Deadline, OpenedAt: sv.OpenedAt, ClosedAt: sv.ClosedAt, Opinion: sv.Opinion, Notes: sv.Notes}
		for _, rp := range s.Reports {
			sr.Reports = append(sr.Reports, ReportRecord{Kind: rp.Kind, Text: rp.Text, Unit: cb.code(rp.UnitID), At: rp.At,
				RequestedDeadline: rp.RequestedDeadline, Decision: rp.Decision, DecidedAt: rp.DecidedAt, DecisionNote: rp.DecisionNote})
		}
		r.Supervisions = append(r.Supervisions, sr)
	}
	for _, co := range f.Consultations {
		cr := ConsultationRecord{CompetentUnit: cb.code(co.CompetentUnitID), Units: cb.codes(co.UnitIDs), Subject: co.Subject, SessionID: co.SessionID,
			RecordingOffsetMS: co.RecordingOffset.Milliseconds(), CreatedAt: co.CreatedAt, Conclusion: co.Conclusion}
		if co.SignedBy != 0 {
			cr.SignedAt = co.SignedAt
		}
		for _, o := range co.Opinions {
			cr.Opinions = append(cr.Opinions, OpinionRecord{Unit: cb.code(o.UnitID), Text: o.Text, Dissent: o.Dissent, At: o.At})
		}
		r.Consultations = append(r.Consultations, cr)
	}
	for _, e := range f.Evaluations {
		r.Evaluations = append(r.Evaluations, EvaluationRecord{Stage: e.Stage, Score: e.Score, Via: e.Via, At: e.At})
	}
	for _, a := range f.Attachments {
		if level != casework.ViewFull && casework.SensitiveAttachment(a.Kind) {
			r.Withheld++
			continue
		}
		r.Attachments = append(r.Attachments, AttachmentRecord{Kind: a.Kind, Name: a.Name, SHA256: a.SHA256, Size: a.Size, MIME: a.MIME, UploadedAt: a.UploadedAt})
	}
	// Lists a store keeps in its own id order go out in an order of their own, so that a copy
	// renders exactly as its original.
	slices.Sort(r.CoUnits)
	for i := range r.Consultations {
		slices.Sort(r.Consultations[i].Units)
		slices.SortStableFunc(r.Consultations[i].Opinions, func(a, b OpinionRecord) int {
			return cmp.Or(a.At.Compare(b.At), cmp.Compare(a.Unit, b.Unit))
		})
	}
	slices.SortStableFunc(r.Evaluations, func(a, b EvaluationRecord) int { return cmp.Compare(a.Stage, b.Stage) })
	slices.SortStableFunc(r.Attachments, func(a, b AttachmentRecord) int {
		return cmp.Or(a.UploadedAt.Compare(b.UploadedAt), cmp.Compare(a.SHA256, b.SHA256), cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.Name, b.Name))
	})
	return r
}

// file turns a record into a case file in this store's ids, ready for PutMirror.
func (cb *codebook) file(r CaseRecord) (CaseFile, error) {
	var f CaseFile
	cat, ok := cb.catCode[r.Category]
	if !ok {
		return f, org.Invalid("category", "exchange.record.category_unknown", "code", r.Category)
	}
	rs := &resolver{cb: cb}
	c := casework.Case{ExternalID: r.ExternalID, ExternalSource: r.ExternalSource, Territory: r.Territory, Form: r.Form, Type: r.Type,
		CategoryID: cat.ID, Title: r.Title, Content: r.Content, ComplainedParty: r.ComplainedParty, InvolvedCount: r.InvolvedCount,
		FastTrack: r.FastTrack, Result: r.Result, Status: r.Status, Supervised: r.Supervised, RegisteredAt: r.RegisteredAt,
		AcceptedAt: r.AcceptedAt, ClosedAt: r.ClosedAt, UpdatedAt: r.UpdatedAt,
		UnitID: rs.unit("unit", r.Unit), ComplainedUnitID: rs.unit("complained_unit", r.ComplainedUnit),
		ResponsibleUnitID: rs.unit("responsible_unit", r.ResponsibleUnit), CoUnitIDs: rs.units("co_units", r.CoUnits)}
	if rs.err != nil {
		return f, rs.err
	}
	for _, p := range r.Petitioners {
		c.Petitioners = append(c.Petitioners, casework.Petitioner(p))
	}
	if err := casework.ValidateCase(c); err != nil {
		return f, err
	}
	if !casework.KnownStatus(c.Status) {
		return f, org.Invalid("status", "exchange.record.status_unknown", "status", string(c.Status))
	}
	f.Case = c
	person := func(b bool) int64 {
		if b {
			return ExternalUser
		}
		return 0
	}
	// A slip is checked as a new one would be, against a stand-in case id: the copy has none yet.
	const anyCase = 1
	for i, e := range r.Timeline {
		fld := fmt.Sprintf("timeline[%d]", i)
		if e.Kind == "" {
			return f, org.Invalid(fld+".kind", "exchange.record.event_kind")
		}
		if e.Kind == casework.EvStatus && !casework.KnownStatus(e.To) {
			return f, org.Invalid(fld+".to", "exchange.record.status_unknown", "status", string(e.To))
		}
		if max := casework.DefaultRules()[casework.RuleExtension].Days; e.Days < 0 || e.Days > max {
			return f, org.Invalid(fld+".days", "exchange.record.extension_days", "max", max)
		}
		if m := slipIndexRef.FindStringSubmatch(e.Ref); m != nil {
			n, _ := strconv.Atoi(m[2])
			if (m[1] == "supervision" && n >= len(r.Supervisions)) || (m[1] == "consultation" && n >= len(r.Consultations)) {
				return f, org.Invalid(fld+".ref", "exchange.record.event_ref", "ref", e.Ref)
			}
		}
		f.Events = append(f.Events, casework.CaseEvent{At: e.At, Actor: e.Actor, ActorID: person(!e.System), Kind: e.Kind, From: e.From, To: e.To,
			Reason: e.Reason, Result: e.Result, Ref: e.Ref, Days: e.Days, ApprovedBy: person(e.Approved), Notice: e.Notice,
			UnitID: rs.unit(fld+".unit", e.Unit), ResponsibleUnitID: rs.unit(fld+".responsible_unit", e.ResponsibleUnit),
			CoUnitIDs: rs.units(fld+".co_units", e.CoUnits)})
	}
	for i, a := range r.Assignments {
		fld := fmt.Sprintf("assignments[%d]", i)
		x := casework.Assignment{CaseID: anyCase, AssignerID: ExternalUser, Requirements: a.Requirements, Instruction: a.Instruction, Method: a.Method,
			SessionID: a.SessionID, RecordingOffset: time.Duration(a.RecordingOffsetMS) * time.Millisecond, AssignedAt: a.AssignedAt,
			FeedbackDue: a.FeedbackDue, Status: a.Status, ObjectionReason: a.ObjectionReason, ObjectedAt: a.ObjectedAt,
			AssignerUnitID: rs.unit(fld+".assigner_unit", a.AssignerUnit), ResponsibleUnitID: rs.unit(fld+".responsible_unit", a.ResponsibleUnit),
			CoUnitIDs: rs.units(fld+".co_units", a.CoUnits)}
		if rs.err != nil {
			return f, rs.err
		}
		if err := casework.ValidateAssignment(x); err != nil {
			return f, err
		}
		if x.Status != casework.AssignmentOpen && x.Status != casework.AssignmentObjected {
			return f, org.Invalid(fld+".status", "exchange.record.assignment_status")
		}
		x.CaseID = 0
		f.Assignments = append(f.Assignments, x)
	}
	for i, s := range r.Supervisions {
		fld := fmt.Sprintf("supervisions[%d]", i)
		sv := casework.Supervision{CaseID: anyCase, OpenedBy: person(!s.OpenedBySystem), Basis: s.Basis, Level: s.Level, Method: s.Method,
			Escalation: s.Escalation, Deadline: s.Deadline, OpenedAt: s.OpenedAt, ClosedAt: s.ClosedAt, Opinion: s.Opinion, Notes: s.Notes,
			UnitID: rs.unit(fld+".unit", s.Unit)}
		if rs.err != nil {
			return f, rs.err
		}
		if err := casework.ValidateSupervision(sv); err != nil {
			return f, err
		}
		sv.CaseID = 0
		sf := SupervisionFile{Item: sv}
		for j, rp := range s.Reports {
			sf.Reports = append(sf.Reports, casework.SupervisionReport{Kind: rp.Kind, Text: rp.Text, By: ExternalUser, At: rp.At, RequestedDeadline: rp.RequestedDeadline,
				Decision: rp.Decision, DecidedBy: person(rp.Decision != ""), DecidedAt: rp.DecidedAt, DecisionNote: rp.DecisionNote,
				UnitID: rs.unit(fmt.Sprintf("%s.reports[%d].unit", fld, j), rp.Unit)})
		}
		f.Supervisions = append(f.Supervisions, sf)
	}
	for i, co := range r.Consultations {
		fld := fmt.Sprintf("consultations[%d]", i)
		x := casework.Consultation{CaseID: anyCase, Subject: co.Subject, SessionID: co.SessionID, RecordingOffset: time.Duration(co.RecordingOffsetMS) * time.Millisecond,
			CreatedBy: ExternalUser, CreatedAt: co.CreatedAt, Conclusion: co.Conclusion,
			CompetentUnitID: rs.unit(fld+".competent_unit", co.CompetentUnit), UnitIDs: rs.units(fld+".units", co.Units)}
		if rs.err != nil {
			return f, rs.err
		}
		if err := casework.ValidateConsultation(x); err != nil {
			return f, err
		}
		x.CaseID = 0
		if !co.SignedAt.IsZero() {
			x.SignedBy, x.SignedUnitID, x.SignedAt = ExternalUser, x.CompetentUnitID, co.SignedAt
		}
		for j, o := range co.Opinions {
			x.Opinions = append(x.Opinions, casework.Opinion{Text: o.Text, Dissent: o.Dissent, By: ExternalUser, At: o.At,
				UnitID: rs.unit(fmt.Sprintf("%s.opinions[%d].unit", fld, j), o.Unit)})
		}
		f.Consultations = append(f.Consultations, x)
	}
	if rs.err != nil {
		return f, rs.err
	}
	for i, e := range r.Evaluations {
		okStage := slices.Contains(casework.EvalStages, e.Stage)
		okScore := e.Score == casework.ScoreSatisfied || e.Score == casework.ScoreBasically || e.Score == casework.ScoreUnsatisfied
		if !okStage || !okScore {
			return f, org.Invalid(fmt.Sprintf("evaluations[%d]", i), "exchange.record.evaluation")
		}
		f.Evaluations = append(f.Evaluations, casework.Evaluation{Stage: e.Stage, Score: e.Score, Via: e.Via, At: e.At})
	}
	for i, a := range r.Attachments {
		x := casework.Attachment{CaseID: anyCase, Kind: a.Kind, Name: a.Name, SHA256: a.SHA256, Size: a.Size, MIME: a.MIME, UploadedBy: ExternalUser, UploadedAt: a.UploadedAt}
		if err := casework.ValidateAttachment(x); err != nil {
			var fe *org.FieldError
			if errors.As(err, &fe) {
				fe.Field = fmt.Sprintf("attachments[%d].%s", i, fe.Field)
			}
			return f, err
		}
		x.CaseID = 0
		f.Attachments = append(f.Attachments, x)
	}
	return f, nil
}

// ExportSet is what an export puts in a bundle: cases.json's bytes and the attachment files.
type ExportSet struct {
	Cases []byte
	Files []casework.Attachment // one per file to carry (their SHA256 names the blob)
}

// ExportCases builds cases.json for the cases with these ids, each at its identity level
// (ViewFull or ViewMasked; anything less is refused by the caller).
func ExportCases(ctx context.Context, st Store, ids []int64, level casework.ViewLevel, now time.Time) (ExportSet, error) {
	cb, err := newCodebook(ctx, st)
	if err != nil {
		return ExportSet{}, err
	}
	doc := ExchangeCases{Format: ExchangeFormat, Identity: IdentityMasked, ExportedAt: now.UTC(), Cases: []CaseRecord{}}
	if level == casework.ViewFull {
		doc.Identity = IdentityFull
	}
	var set ExportSet
	for _, id := range ids {
		f, err := LoadCaseFile(ctx, st, id)
		if err != nil {
			return ExportSet{}, fmt.Errorf("export case %d: %w", id, err)
		}
		rec := cb.record(f, level)
		doc.Cases = append(doc.Cases, rec)
		for _, a := range f.Attachments {
			if level == casework.ViewFull || !casework.SensitiveAttachment(a.Kind) {
				set.Files = append(set.Files, a)
			}
		}
	}
	if set.Cases, err = json.MarshalIndent(doc, "", "  "); err != nil {
		return ExportSet{}, fmt.Errorf("export: %w", err)
	}
	return set, nil
}

// Import outcomes, per case.
const (
	ImportCreated   = "created"   // a new copy was made
	ImportUpdated   = "updated"   // the copy here was brought to the bundle's newer state
	ImportUnchanged = "unchanged" // the copy here already is what the bundle holds
	ImportMatched   = "matched"   // the case is this system's own (or a copy from its own source): nothing written
	ImportStale     = "stale"     // the copy here is newer than the bundle, or differs from it: nothing written
)

// CaseImport says what happened to one case of a bundle.
type CaseImport struct {
	Number    string // the exporter's number
	Outcome   string
	CaseID    int64     // the case here
	Local     string    // its number here
	Reason    i18n.Text // for stale: why
	Unit      org.Unit  // the registering unit here (for the caller's audit)
	Attached  int       // attachment files written
	Anonymous bool      // the bundle's identity was masked
}

// ParseCases reads a checked bundle's cases.json.
func ParseCases(b *Bundle) (ExchangeCases, error) {
	var doc ExchangeCases
	dec := json.NewDecoder(bytes.NewReader(b.Cases))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil || doc.Format != ExchangeFormat {
		return doc, bundleErr(BundleCases, "exchange.cases.format", "format", ExchangeFormat)
	}
	if doc.Identity != IdentityFull && doc.Identity != IdentityMasked {
		return doc, bundleErr(BundleCases, "exchange.cases.identity")
	}
	return doc, nil
}

// ImportCases imports the cases of doc (ParseCases of b) into tx, which the caller binds to one
// transaction (scheduler.ImportBundle), and the attachment files into blobs. own is this
// system's key id. allow is asked for every case that would be written (created or updated)
// with its registering unit here; its error aborts the import.
func ImportCases(ctx context.Context, tx Store, blobs casework.Blobs, b *Bundle, doc ExchangeCases, own string, allow func(org.Unit) error) ([]CaseImport, error) {
	masked := doc.Identity == IdentityMasked
	var out []CaseImport
	cb, err := newCodebook(ctx, tx)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for i, rec := range doc.Cases {
		if seen[rec.Number] || rec.Number == "" {
			return out, bundleErr(BundleCases, "exchange.cases.number", "index", i+1)
		}
		seen[rec.Number] = true
		res, err := importOne(ctx, tx, cb, blobs, b, own, rec, masked, allow)
		if err != nil {
			var fe *org.FieldError
			if errors.As(err, &fe) {
				fe.Field = fmt.Sprintf("cases[%d].%s", i, fe.Field)
				t := i18n.T("exchange.cases.in_case", "number", rec.Number, "message", i18n.Text{ZH: fe.ZH, EN: fe.EN})
				fe.ZH, fe.EN = t.ZH, t.EN
			}
			return out, err
		}
		res.Anonymous = masked
		out = append(out, res)
	}
	return out, nil
}

func importOne(ctx context.Context, tx Store, cb *codebook, blobs casework.Blobs, b *Bundle, own string, rec CaseRecord, masked bool, allow func(org.Unit) error) (CaseImport, error) {
	res := CaseImport{Number: rec.Number}
	found := func(c casework.Case, outcome string) (CaseImport, error) {
		res.Outcome, res.CaseID, res.Local, res.Unit = outcome, c.ID, c.Number, cb.units[c.UnitID]
		return res, nil
	}
	// A case of this system itself, or one that went up and comes back: the original is here.
	if b.KeyID == own {
		if c, err := tx.GetCaseByNumber(ctx, rec.Number); err == nil {
			return found(c, ImportMatched)
		} else if !errors.Is(err, org.ErrNotFound) {
			return res, err
		}
	}
	if rec.ExternalSource == own && rec.ExternalID != "" {
		if c, err := tx.GetCaseByNumber(ctx, rec.ExternalID); err == nil {
			return found(c, ImportMatched)
		} else if !errors.Is(err, org.ErrNotFound) {
			return res, err
		}
	}
	f, err := cb.file(rec)
	if err != nil {
		return res, err
	}
	f.Case.ExternalSource, f.Case.ExternalID = b.KeyID, rec.Number
	keep := 0
	existing, err := tx.GetCaseByExternal(ctx, b.KeyID, rec.Number)
	switch {
	case err == nil:
		cur, err := LoadCaseFile(ctx, tx, existing.ID)
		if err != nil {
			return res, err
		}
		mine := cb.record(cur, casework.ViewFull)
		// The copy's own identity fields are not the bundle's; nor is what a masked bundle leaves out.
		mine.Number, mine.ExternalSource, mine.ExternalID, mine.Withheld = rec.Number, rec.ExternalSource, rec.ExternalID, rec.Withheld
		if masked {
			mine.Petitioners = rec.Petitioners
			mine.Attachments = slices.DeleteFunc(mine.Attachments, func(a AttachmentRecord) bool { return casework.SensitiveAttachment(a.Kind) })
			f.Case.Petitioners = cur.Case.Petitioners // a masked bundle never overwrites identity
		}
		if sameJSON(mine, rec) {
			return found(existing, ImportUnchanged)
		}
		if why := extends(mine, rec); why != (i18n.Text{}) {
			res.Outcome, res.CaseID, res.Local, res.Unit, res.Reason = ImportStale, existing.ID, existing.Number, cb.units[existing.UnitID], why
			return res, nil
		}
		f.Case.ID, keep = existing.ID, len(cur.Events)
		res.Outcome = ImportUpdated
	case errors.Is(err, org.ErrNotFound):
		// A copy of the same matter taken from its own source is already here.
		if rec.ExternalSource != "" && rec.ExternalID != "" {
			if c, err := tx.GetCaseByExternal(ctx, rec.ExternalSource, rec.ExternalID); err == nil {
				return found(c, ImportMatched)
			} else if !errors.Is(err, org.ErrNotFound) {
				return res, err
			}
		}
		res.Outcome = ImportCreated
	default:
		return res, err
	}
	unit := cb.units[f.Case.UnitID]
	if err := allow(unit); err != nil {
		return res, err
	}
	for _, a := range f.Attachments {
		if err := putBundleFile(blobs, b, a); err != nil {
			return res, err
		}
		res.Attached++
	}
	if err := tx.PutMirror(ctx, &f, keep); err != nil {
		return res, fmt.Errorf("import case %s: %w", rec.Number, err)
	}
	res.CaseID, res.Local, res.Unit = f.Case.ID, f.Case.Number, unit
	return res, nil
}

// putBundleFile stores an attachment's file from the bundle in blobs, through the same type and
// size checks as an upload.
func putBundleFile(blobs casework.Blobs, b *Bundle, a casework.Attachment) error {
	if blobs.Dir == "" {
		return errors.New("import: no attachment directory configured")
	}
	rc, err := b.OpenFile(a.SHA256)
	if err != nil {
		return err
	}
	defer rc.Close()
	if a.MIME == casework.PageMIME {
		// A generated document's page (casework.RenderDocument) is not an upload type; it is
		// kept as it came and, like every attachment, only ever downloaded, sandboxed.
		return putBundlePage(blobs, rc, a)
	}
	sum, size, mt, err := blobs.Put(rc, a.Name)
	if err != nil {
		return fmt.Errorf("import attachment %s: %w", a.Name, err)
	}
	if sum != a.SHA256 || size != a.Size || mt != a.MIME {
		return bundleErr(bundleFilesDir+a.SHA256, "exchange.cases.attachment_mismatch", "name", a.Name)
	}
	return nil
}

// putBundlePage stores a generated page of the bundle, checked against its hash and size.
func putBundlePage(blobs casework.Blobs, r io.Reader, a casework.Attachment) error {
	if !casework.PageAttachment(a.Kind) {
		return bundleErr(bundleFilesDir+a.SHA256, "exchange.cases.attachment_mismatch", "name", a.Name)
	}
	page, err := io.ReadAll(io.LimitReader(r, blobs.MaxSize+1))
	if err != nil {
		return fmt.Errorf("import page %s: %w", a.Name, err)
	}
	if int64(len(page)) > blobs.MaxSize {
		return fmt.Errorf("import page %s: %w", a.Name, casework.ErrTooLarge)
	}
	sum, err := blobs.PutPage(page)
	if err != nil {
		return err
	}
	if sum != a.SHA256 || int64(len(page)) != a.Size {
		return bundleErr(bundleFilesDir+a.SHA256, "exchange.cases.attachment_mismatch", "name", a.Name)
	}
	return nil
}

// extends says why next is not a later state of the copy cur (the zero Text when it is): the copy's
// timeline must be the start of next's, and its slips the first of next's, in order.
func extends(cur, next CaseRecord) i18n.Text {
	stale := func(what string) i18n.Text {
		return i18n.T("exchange.import.stale", "what", what)
	}
	if len(cur.Timeline) > len(next.Timeline) {
		return stale("timeline")
	}
	for i := range cur.Timeline {
		if !sameJSON(cur.Timeline[i], next.Timeline[i]) {
			return stale(fmt.Sprintf("timeline[%d]", i))
		}
	}
	if len(cur.Assignments) > len(next.Assignments) || len(cur.Supervisions) > len(next.Supervisions) || len(cur.Consultations) > len(next.Consultations) {
		return stale("slips")
	}
	for i := range cur.Assignments {
		if !cur.Assignments[i].AssignedAt.Equal(next.Assignments[i].AssignedAt) {
			return stale(fmt.Sprintf("assignments[%d]", i))
		}
	}
	for i := range cur.Supervisions {
		if !cur.Supervisions[i].OpenedAt.Equal(next.Supervisions[i].OpenedAt) || len(cur.Supervisions[i].Reports) > len(next.Supervisions[i].Reports) {
			return stale(fmt.Sprintf("supervisions[%d]", i))
		}
	}
	for i := range cur.Consultations {
		if !cur.Consultations[i].CreatedAt.Equal(next.Consultations[i].CreatedAt) {
			return stale(fmt.Sprintf("consultations[%d]", i))
		}
	}
	for _, e := range cur.Evaluations {
		if !slices.ContainsFunc(next.Evaluations, func(n EvaluationRecord) bool { return sameJSON(n, e) }) {
			return stale("evaluations")
		}
	}
	for _, a := range cur.Attachments {
		if !slices.ContainsFunc(next.Attachments, func(n AttachmentRecord) bool { return sameJSON(n, a) }) {
			return stale("attachments")
		}
	}
	return i18n.Text{}
}

func sameJSON(a, b any) bool {
	ja, err1 := json.Marshal(a)
	jb, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && bytes.Equal(ja, jb)
}

// BundleFiles lists the blobs of attachments as files of a bundle.
func BundleFiles(b casework.Blobs, as []casework.Attachment) []BundleFile {
	var out []BundleFile
	for _, a := range as {
		sum := a.SHA256
		out = append(out, BundleFile{SHA256: sum, Size: a.Size, Open: func() (io.ReadCloser, error) { return b.Open(sum) }})
	}
	return out
}

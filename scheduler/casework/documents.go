package casework

import (
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"html/template"
	"os"
	"path/filepath"
	"strings"
	"time"
	"unicode/utf8"

	"sanji/scheduler/calendar"
	"sanji/scheduler/org"
)

// Documents (文书): the notices and opinions a case produces, generated from its data into a
// printable HTML page with the office's header, kept as an attachment with its hash, and served
// (送达) on the petitioner in a recorded way. 信访工作条例 (2022) arts. 31–36: the acceptance
// notice, the written handling opinion with the review right, the review and re-review opinions,
// the extension notice.

// Document kinds.
const (
	DocAcceptNotice        = "accept_notice"        // 受理告知书
	DocNotAcceptNotice     = "not_accept_notice"    // 不予受理告知书
	DocAnswer              = "answer"               // 处理意见书
	DocReviewOpinion       = "review_opinion"       // 复查意见书
	DocReReviewOpinion     = "rereview_opinion"     // 复核意见书
	DocExtensionNotice     = "extension_notice"     // 延期告知书
	DocClosureReport       = "closure_report"       // 办结报告 (of an assignment)
	DocSupervisionFeedback = "supervision_feedback" // 督办反馈
)

// DocumentKinds lists the kinds in a stable order.
var DocumentKinds = []string{DocAcceptNotice, DocNotAcceptNotice, DocAnswer, DocReviewOpinion, DocReReviewOpinion,
	DocExtensionNotice, DocClosureReport, DocSupervisionFeedback}

// docTitles are the documents' printed titles.
var docTitles = map[string]string{
	DocAcceptNotice: "受理告知书", DocNotAcceptNotice: "不予受理告知书", DocAnswer: "处理意见书",
	DocReviewOpinion: "复查意见书", DocReReviewOpinion: "复核意见书", DocExtensionNotice: "延期告知书",
	DocClosureReport: "办结报告", DocSupervisionFeedback: "督办反馈",
}

// DocumentTitle is a kind's printed title ("" for an unknown kind).
func DocumentTitle(kind string) string { return docTitles[kind] }

// DocumentAttachmentKind is the attachment kind a generated document is kept as.
func DocumentAttachmentKind(kind string) string {
	switch kind {
	case DocAnswer, DocReviewOpinion, DocReReviewOpinion:
		return AttachAnswer
	case DocClosureReport, DocSupervisionFeedback:
		return AttachClosure
	}
	return AttachNotice
}

// ServedOnPetitioner reports whether a kind goes to the petitioner, so is served and listed
// while unserved: the 办结报告 and the 督办 feedback go to the assigning and supervising bodies.
func ServedOnPetitioner(kind string) bool {
	return kind != DocClosureReport && kind != DocSupervisionFeedback
}

// Legal channels (法定途径) a not-accepted matter is directed to (诉访分离).
const (
	ChannelLitigation  = "litigation"   // 诉讼
	ChannelArbitration = "arbitration"  // 仲裁
	ChannelAdminReview = "admin_review" // 行政复议
	ChannelOther       = "other"        // 其他法定途径
)

var channelNames = map[string]string{ChannelLitigation: "诉讼", ChannelArbitration: "仲裁", ChannelAdminReview: "行政复议",
	ChannelOther: "其他法定途径"}

// Service methods (送达方式), each with the proof it needs.
const (
	ServeInPerson = "in_person" // 当面送达: the petitioner's signature (签收)
	ServePost     = "post"      // 邮寄送达: the postal tracking number
	ServeOnline   = "online"    // 短信/网上送达: the delivery receipt
	ServeVideo    = "video"     // 视频接访当场送达: the hearing's recording reference
)

// ServiceMethods lists the methods in a stable order.
var ServiceMethods = []string{ServeInPerson, ServePost, ServeOnline, ServeVideo}

// Document is one generated document of a case.
type Document struct {
	ID           int64
	CaseID       int64
	Kind         string
	AttachmentID int64  // the HTML page, kept as an attachment
	SHA256       string // of the page
	Reason       string // not accepted: the written reason; extension: why
	Channel      string // not accepted: the legal channel, "" when none applies
	Body         string // the opinion, the report or the feedback as written by the handler
	GeneratedBy  int64
	GeneratedAt  time.Time
	// Service; ServedAt zero: not served yet.
	ServedAt      time.Time
	ServiceMethod string
	ServiceProof  string
	ServedBy      int64
}

// DocumentStore keeps the documents: the page is an attachment, the document its record.
type DocumentStore interface {
	// AddDocument stores a (the page's metadata) and d, pointing at it, in one transaction, and
	// notes the generation on the case's timeline (EvDocument) by actor.
	AddDocument(ctx context.Context, d *Document, a *Attachment, actor CaseEvent) error
	GetDocument(ctx context.Context, id int64) (Document, error)
	// ListDocuments lists a case's documents, oldest first.
	ListDocuments(ctx context.Context, caseID int64) ([]Document, error)
	// ServeDocument records how and when a document reached the petitioner, once (ErrConflict
	// the second time), and notes it on the timeline (EvServed, at the service instant, Ref
	// "document:<id>", Reason the kind).
	ServeDocument(ctx context.Context, docID int64, sv Service, actor CaseEvent) error
	// ListUnservedDocuments lists documents for the petitioner not served yet, of cases
	// registered in or routed to a unit of the subtree, oldest first.
	ListUnservedDocuments(ctx context.Context, underPath string, limit int) ([]Document, error)
}

// Service is how and when a document reached the petitioner.
type Service struct {
	At     time.Time
	Method string
	Proof  string
	By     int64
}

// Timeline notes of documents.
const (
	EvDocument = "document" // a document generated (Ref "document:<id>", Reason the kind)
	EvServed   = "served"   // a document served (at the service instant)
)

// ValidateDocument checks a new document's own fields.
func ValidateDocument(d Document) error {
	if _, ok := docTitles[d.Kind]; !ok {
		return org.Invalid("kind", "casework.documents.kind_invalid")
	}
	if d.CaseID == 0 || !shaHex.MatchString(d.SHA256) {
		return org.Invalid("file", "casework.documents.incomplete")
	}
	if d.Kind == DocNotAcceptNotice && strings.TrimSpace(d.Reason) == "" {
		return org.Invalid("reason", "casework.documents.reason_required")
	}
	if d.Channel != "" {
		if _, ok := channelNames[d.Channel]; !ok || d.Kind != DocNotAcceptNotice {
			return org.Invalid("channel", "casework.documents.channel_invalid")
		}
	}
	needsBody := d.Kind == DocAnswer || d.Kind == DocReviewOpinion || d.Kind == DocReReviewOpinion ||
		d.Kind == DocClosureReport || d.Kind == DocSupervisionFeedback
	if needsBody && strings.TrimSpace(d.Body) == "" {
		return org.Invalid("body", "casework.documents.body_required")
	}
	if utf8.RuneCountInString(d.Reason) > 2000 || utf8.RuneCountInString(d.Body) > 20000 {
		return org.Invalid("body", "casework.documents.too_long")
	}
	return nil
}

// ValidateService checks a service record: a known method and its proof.
func ValidateService(sv Service, generated time.Time) error {
	switch sv.Method {
	case ServeInPerson, ServePost, ServeOnline, ServeVideo:
	default:
		return org.Invalid("method", "casework.documents.service_method_invalid")
	}
	if strings.TrimSpace(sv.Proof) == "" || utf8.RuneCountInString(sv.Proof) > 500 {
		return org.Invalid("proof", "casework.documents.service_proof_required")
	}
	if sv.At.IsZero() || sv.At.Before(generated) {
		return org.Invalid("at", "casework.documents.service_before_generated")
	}
	return nil
}

// RequiredDocument is the document a transition to `to` needs on the case first, "" when none:
// accepting needs the 受理告知书, not accepting the 不予受理告知书, answering the 处理意见书, and
// closing an assigned case (one with a 交办单) its 办结报告.
func RequiredDocument(to CaseStatus, assigned bool) string {
	switch to {
	case StAccepted:
		return DocAcceptNotice
	case StNotAccepted:
		return DocNotAcceptNotice
	case StAnswered:
		return DocAnswer
	case StClosed:
		if assigned {
			return DocClosureReport
		}
	}
	return ""
}

// CheckRequiredDocument refuses a transition whose document is not among docs, naming it.
func CheckRequiredDocument(to CaseStatus, assigned bool, docs []Document) error {
	return checkHas(RequiredDocument(to, assigned), docs)
}

// StepDocuments are the documents a step of a case (a transition, or a note such as the review
// answer) needs first: a step of the review its opinion (ReviewOpinion), any other transition
// its document (RequiredDocument). A close from review needs no 办结报告: that is the assigned
// unit's report on its own handling, and the review body, not that unit, closes the review. An
// event of no kind is a transition, as the store records it.
func StepDocuments(ev CaseEvent, assigned bool) []string {
	if ev.Kind == "" {
		ev.Kind = EvStatus
	}
	if need := ReviewOpinion(ev); need != "" {
		return []string{need}
	}
	if need := RequiredDocument(ev.To, assigned); ev.Kind == EvStatus && need != "" {
		return []string{need}
	}
	return nil
}

// CheckStepDocuments refuses a step whose documents (StepDocuments) are not all among docs,
// naming the first one missing.
func CheckStepDocuments(ev CaseEvent, assigned bool, docs []Document) error {
	for _, need := range StepDocuments(ev, assigned) {
		if err := checkHas(need, docs); err != nil {
			return err
		}
	}
	return nil
}

// checkHas refuses when a document of kind need ("" = none needed) is not among docs, naming it.
func checkHas(need string, docs []Document) error {
	if need == "" {
		return nil
	}
	for _, d := range docs {
		if d.Kind == need {
			return nil
		}
	}
	return org.Invalid("to", "casework.documents.required", "document", docTitles[need])
}

// DocData is what a document is generated from.
type DocData struct {
	Header string // the office's header (a setting, or the unit's name)
	Case   Case
	Unit   string // the signer: the handling unit, or the review body for its opinion (DocumentSigner)
	Doc    Document
	// ReviewBody is where the petitioner may take the matter further (FurtherRight), the body
	// above the signer: after the answer the one that reviews (复查), after the review opinion the
	// one that re-reviews (复核); "" when it is no body of this installation; after 复核 none.
	ReviewBody string
	Date       time.Time
}

//go:embed documents/*.html
var docTemplates embed.FS

var docTmpl = template.Must(template.New("doc").Funcs(template.FuncMap{
	"title":   DocumentTitle,
	"channel": func(c string) string { return channelNames[c] },
	"result": func(r CaseResult) string {
		return map[CaseResult]string{ResultSupport: "支持", ResultExplain: "解释说明", ResultNotSupport: "不予支持"}[r]
	},
	"day": func(t time.Time) string {
		d := calendar.DayOf(t)
		return fmt.Sprintf("%d年%d月%d日", d.Year(), d.Month(), d.Day())
	},
	"paras": func(s string) []string { return strings.Split(strings.TrimSpace(s), "\n") },
	"names": func(ps []Petitioner) string {
		var out []string
		for _, p := range ps {
			if p.Anonymous {
				out = append(out, "匿名")
			} else {
				out = append(out, p.Name)
			}
		}
		return strings.Join(out, "、")
	},
}).ParseFS(docTemplates, "documents/*.html"))

// RenderDocument generates the printable page of a document. html/template escapes every
// field: the page is served from our origin.
func RenderDocument(data DocData) ([]byte, error) {
	if _, ok := docTitles[data.Doc.Kind]; !ok {
		return nil, org.Invalid("kind", "casework.documents.kind_invalid")
	}
	var b bytes.Buffer
	if err := docTmpl.ExecuteTemplate(&b, "page.html", data); err != nil {
		return nil, fmt.Errorf("casework: render %s: %w", data.Doc.Kind, err)
	}
	return b.Bytes(), nil
}

// PageMIME is the type of a generated document's page.
const PageMIME = "text/html"

// PageAttachment reports whether an attachment of this kind may be a generated page.
func PageAttachment(kind string) bool {
	return kind == AttachNotice || kind == AttachAnswer || kind == AttachClosure
}

// PutPage stores a generated page under its hash, as Put does an upload, but without the
// upload's type check: the page is ours (RenderDocument), never a petitioner's file.
func (b Blobs) PutPage(page []byte) (sum string, err error) {
	h := sha256.Sum256(page)
	sum = hex.EncodeToString(h[:])
	dst := b.path(sum)
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		return "", fmt.Errorf("documents: %w", err)
	}
	f, err := os.CreateTemp(filepath.Dir(dst), "page-*")
	if err != nil {
		return "", fmt.Errorf("documents: %w", err)
	}
	defer func() {
		_ = f.Close()
		_ = os.Remove(f.Name()) // a no-op after the rename
	}()
	if _, err := f.Write(page); err != nil {
		return "", fmt.Errorf("documents: write page: %w", err)
	}
	if err := f.Sync(); err != nil {
		return "", fmt.Errorf("documents: sync: %w", err)
	}
	if err := os.Rename(f.Name(), dst); err != nil {
		return "", fmt.Errorf("documents: store page: %w", err)
	}
	return sum, nil
}

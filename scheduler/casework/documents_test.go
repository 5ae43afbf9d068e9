package casework

import (
	"errors"
	"strings"
	"testing"
	"time"

	"sanji/scheduler/calendar"
	"sanji/scheduler/org"
)

func TestRequiredDocument(t *testing.T) {
	for _, tc := range []struct {
		to       CaseStatus
		assigned bool
		want     string
	}{
		{StAccepted, false, DocAcceptNotice}, {StNotAccepted, false, DocNotAcceptNotice}, {StAnswered, false, DocAnswer},
		{StClosed, true, DocClosureReport}, {StClosed, false, ""}, {StInProgress, true, ""}, {StReview, false, ""},
	} {
		if got := RequiredDocument(tc.to, tc.assigned); got != tc.want {
			t.Errorf("%s (assigned %v): %q, want %q", tc.to, tc.assigned, got, tc.want)
		}
	}
	var fe *org.FieldError
	err := CheckRequiredDocument(StAnswered, false, []Document{{Kind: DocAcceptNotice}})
	if !errors.As(err, &fe) || fe.Field != "to" || !strings.Contains(err.Error(), "处理意见书") {
		t.Errorf("answering without the opinion: %v", err)
	}
	if err := CheckRequiredDocument(StAnswered, false, []Document{{Kind: DocAcceptNotice}, {Kind: DocAnswer}}); err != nil {
		t.Errorf("answering with it: %v", err)
	}
}

func TestRenderDocument(t *testing.T) {
	c := Case{Number: "330102-2026-V-000007", Title: "欠薪<b>", RegisteredAt: time.Date(2026, 3, 2, 9, 0, 0, 0, calendar.ChinaTZ),
		Result: ResultSupport, Petitioners: []Petitioner{{Name: "李四"}, {Anonymous: true}}}
	page, err := RenderDocument(DocData{Header: "杭州市上城区信访局", Case: c, Unit: "上城区人社局", ReviewBody: "上城区人民政府",
		Doc: Document{Kind: DocAnswer, Body: "经查属实。\n责令支付。"}, Date: time.Date(2026, 4, 1, 10, 0, 0, 0, calendar.ChinaTZ)})
	if err != nil {
		t.Fatal(err)
	}
	s := string(page)
	for _, want := range []string{"杭州市上城区信访局", "处理意见书", "330102-2026-V-000007", "李四、匿名", "欠薪&lt;b&gt;",
		"<p>经查属实。</p>", "<p>责令支付。</p>", "处理结果：支持", "三十日内", "上城区人民政府复查", "2026年4月1日", "@media print"} {
		if !strings.Contains(s, want) {
			t.Errorf("the 处理意见书 lacks %q", want)
		}
	}
	page, _ = RenderDocument(DocData{Header: "x", Case: c, Unit: "u", Doc: Document{Kind: DocNotAcceptNotice, Reason: "已进入诉讼", Channel: ChannelLitigation}})
	if s := string(page); !strings.Contains(s, "不予受理") || !strings.Contains(s, "通过诉讼等法定途径") || !strings.Contains(s, "已进入诉讼") {
		t.Errorf("不予受理告知书: %s", s)
	}
}

// TestRatingWindows: worked examples, the dates by hand. Accepted 2026-03-02, its notice served
// 03-04: the acceptance may be rated to 03-04 + 30 = 04-03. Answered 04-20, served by post on
// 04-24: the result may be rated from 04-24 to 05-24, and not before service, though the case is
// not closed.
func TestRatingWindows(t *testing.T) {
	bj := func(m time.Month, d, h int) time.Time { return time.Date(2026, m, d, h, 0, 0, 0, calendar.ChinaTZ) }
	c := Case{Type: TypeClaim, Status: StAnswered, AcceptedAt: bj(3, 2, 9)}
	evs := []CaseEvent{{Kind: EvServed, Reason: DocAcceptNotice, At: bj(3, 4, 15)}, {Kind: EvStatus, To: StAnswered, At: bj(4, 20, 9)}}
	if _, ok := RatingStart(c, evs, EvalResult); ok {
		t.Error("the result is ratable before the answer is served")
	}
	if err := CheckRatingWindow(c, evs, EvalAcceptance, 30, bj(4, 3, 23)); err != nil {
		t.Errorf("acceptance on its last day: %v", err)
	}
	if err := CheckRatingWindow(c, evs, EvalAcceptance, 30, bj(4, 4, 0)); err == nil || !strings.Contains(err.Error(), "2026-04-03") {
		t.Errorf("acceptance the day after: %v", err)
	}
	evs = append(evs, CaseEvent{Kind: EvServed, Reason: DocAnswer, At: bj(4, 24, 11)})
	if start, ok := RatingStart(c, evs, EvalResult); !ok || !start.Equal(bj(4, 24, 11)) {
		t.Errorf("result start: %v %v", start, ok)
	}
	if due := RatingDue(bj(4, 24, 11), 30); !due.Equal(calendar.Date(2026, 5, 24)) {
		t.Errorf("result due: %v", due)
	}
	if got := PendingRatings(c, evs, nil, 30, bj(5, 1, 9)); strings.Join(got, ",") != "result" {
		t.Errorf("pending on 05-01: %v", got)
	}
	if got := PendingRatings(c, evs, []Evaluation{{Stage: EvalResult}}, 30, bj(5, 1, 9)); len(got) != 0 {
		t.Errorf("pending once rated: %v", got)
	}
	if got := PendingRatings(Case{Type: TypeAccusation, AcceptedAt: bj(3, 2, 9)}, evs, nil, 30, bj(3, 5, 9)); len(got) != 0 {
		t.Errorf("an accusation is never to rate: %v", got)
	}
}

func TestValidateService(t *testing.T) {
	gen := time.Date(2026, 3, 2, 9, 0, 0, 0, calendar.ChinaTZ)
	var fe *org.FieldError
	for field, sv := range map[string]Service{
		"method": {At: gen, Method: "fax", Proof: "x"},
		"proof":  {At: gen, Method: ServePost, Proof: " "},
		"at":     {At: gen.Add(-time.Hour), Method: ServeInPerson, Proof: "签收"},
	} {
		if err := ValidateService(sv, gen); !errors.As(err, &fe) || fe.Field != field {
			t.Errorf("%s: %v", field, err)
		}
	}
	if err := ValidateService(Service{At: gen, Method: ServeVideo, Proof: "录像 00:12:30"}, gen); err != nil {
		t.Error(err)
	}
}

// TestReviewOpinionDocuments: the review's opinions are signed by the review body, name the body
// above it for the further right (复核 after 复查, none after 复核), and the review steps wait for
// them.
func TestReviewOpinionDocuments(t *testing.T) {
	c := Case{Number: "330102-2026-V-000009", Title: "工伤待遇", Status: StReview, UnitID: 3, ResponsibleUnitID: 4, ReviewUnitID: 3,
		Petitioners: []Petitioner{{Name: "孙八"}}}
	if u, err := DocumentSigner(c, DocReviewOpinion); err != nil || u != 3 {
		t.Errorf("复查意见书 signer %d %v, want the review body 3", u, err)
	}
	if u, err := DocumentSigner(c, DocAnswer); err != nil || u != 4 {
		t.Errorf("处理意见书 signer %d %v, want the responsible unit 4", u, err)
	}
	if _, err := DocumentSigner(c, DocReReviewOpinion); !errors.Is(err, org.ErrInvalid) || !strings.Contains(err.Error(), "复核意见书") {
		t.Errorf("a 复核意见书 during the review: %v", err)
	}
	if !FurtherRight(DocAnswer) || !FurtherRight(DocReviewOpinion) || FurtherRight(DocReReviewOpinion) {
		t.Error("the further right: after the answer and the review, not after the re-review")
	}
	day := time.Date(2026, 5, 15, 10, 0, 0, 0, calendar.ChinaTZ)
	page, err := RenderDocument(DocData{Header: "杭州市上城区信访局", Case: c, Unit: "杭州市上城区人民政府", ReviewBody: "杭州市人民政府",
		Doc: Document{Kind: DocReviewOpinion, Body: "维持原处理意见。"}, Date: day})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"复查意见书", "维持原处理意见。", "请求杭州市人民政府复核", "<p class=\"sign\">杭州市上城区人民政府</p>", "2026年5月15日"} {
		if !strings.Contains(string(page), want) {
			t.Errorf("the 复查意见书 lacks %q", want)
		}
	}
	page, _ = RenderDocument(DocData{Header: "x", Case: c, Unit: "杭州市人民政府", Doc: Document{Kind: DocReReviewOpinion, Body: "维持。"}, Date: day})
	if s := string(page); !strings.Contains(s, "不再受理") || strings.Contains(s, "三十日内") || strings.Contains(s, "杭州市人民政府复核") {
		t.Errorf("the 复核意见书 is final and names no further body: %s", s)
	}

	answered := CaseEvent{Kind: EvReviewAnswered}
	closeReview := CaseEvent{From: StReview, To: StClosed}
	closeReReview := CaseEvent{Kind: EvStatus, From: StReReview, To: StClosed}
	for _, tc := range []struct {
		ev   CaseEvent
		docs []Document
		want string // the document the refusal names, "" = allowed
	}{
		{answered, nil, "复查意见书"},
		{answered, []Document{{Kind: DocAnswer}}, "复查意见书"},
		{answered, []Document{{Kind: DocReviewOpinion}}, ""},
		{closeReview, nil, "复查意见书"},
		{closeReReview, []Document{{Kind: DocReviewOpinion}}, "复核意见书"},
		{closeReReview, []Document{{Kind: DocReReviewOpinion}}, ""},
		{CaseEvent{Kind: EvClockPaused}, nil, ""},
		{CaseEvent{From: StInProgress, To: StAnswered}, []Document{{Kind: DocReviewOpinion}}, "处理意见书"},
		{CaseEvent{From: StAnswered, To: StClosed}, nil, "办结报告"},
	} {
		// assigned: the case has an open 交办单, whose 办结报告 only the handling unit's close needs.
		err := CheckStepDocuments(tc.ev, true, tc.docs)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%+v with %v: %v", tc.ev, tc.docs, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%+v with %v: %v, want it to name %s", tc.ev, tc.docs, err, tc.want)
		}
	}
}

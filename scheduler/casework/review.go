package casework

import "sanji/scheduler/org"

// Review by the higher body and the outcomes of a matter (信访工作条例 2022, arts. 32, 35–36;
// docs/casework.md "复查与复核" and "办理结果").
//
// A request for review (复查) goes to the body one level above the unit that handled the matter, a
// re-review (复核) to the level above the review body: the store sets Case.ReviewUnitID at the
// transition and the API lets only that body (or those above it) act on the review. Once a
// re-review is closed the matter is final (Case.Final): a new registration of the same person and
// matter is marked FinalOfID and can only be not accepted with OutcomeNoLongerAccepted.

// CaseOutcome is how a matter ended, for the statistics: why it was not accepted, or how it closed.
type CaseOutcome string

// Outcomes of not accepting (不予受理).
const (
	OutcomeNotAccepted      CaseOutcome = "not_accepted"       // 不予受理，书面告知理由
	OutcomeLegalChannel     CaseOutcome = "legal_channel"      // 导入法定途径（诉访分离），Channel 写明途径
	OutcomeNoLongerAccepted CaseOutcome = "no_longer_accepted" // 不再受理（复核后同一事实和理由）
)

// Outcomes of closing (办结).
const (
	OutcomeResolved     CaseOutcome = "resolved"      // 解决
	OutcomePartly       CaseOutcome = "partly"        // 部分解决
	OutcomeNotSupported CaseOutcome = "not_supported" // 不予支持
	OutcomeForwarded    CaseOutcome = "forwarded"     // 转送（移交有权处理的机关办结）
	OutcomeTerminated   CaseOutcome = "terminated"    // 终结
)

// Outcomes lists every outcome, in the order the statistics show them.
var Outcomes = []CaseOutcome{OutcomeNotAccepted, OutcomeLegalChannel, OutcomeNoLongerAccepted,
	OutcomeResolved, OutcomePartly, OutcomeNotSupported, OutcomeForwarded, OutcomeTerminated}

var notAcceptedOutcomes = []CaseOutcome{OutcomeNotAccepted, OutcomeLegalChannel, OutcomeNoLongerAccepted}
var closingOutcomes = []CaseOutcome{OutcomeResolved, OutcomePartly, OutcomeNotSupported, OutcomeForwarded, OutcomeTerminated}

func hasOutcome(list []CaseOutcome, o CaseOutcome) bool {
	for _, x := range list {
		if x == o {
			return true
		}
	}
	return false
}

// DefaultOutcome is the outcome of a transition to not accepted or closed that names none: the
// written reason for not accepting; for a close, what the handling result and the stage say
// (terminated after a re-review). It is "" when nothing can be said (a close after an
// explanation): the statistics show such cases as unclassified. Migration 0013 applies the same
// rule to the cases stored before outcomes existed.
func DefaultOutcome(c Case, ev CaseEvent) CaseOutcome {
	switch ev.To {
	case StNotAccepted:
		if c.FinalOfID != 0 {
			return OutcomeNoLongerAccepted
		}
		return OutcomeNotAccepted
	case StClosed:
		switch {
		case ev.From == StReReview:
			return OutcomeTerminated
		case c.Result == ResultSupport:
			return OutcomeResolved
		case c.Result == ResultNotSupport:
			return OutcomeNotSupported
		}
	}
	return ""
}

// validateOutcome checks the outcome and channel an event names: only not accepting and closing
// name one, a legal channel names which.
func validateOutcome(ev CaseEvent) error {
	switch {
	case ev.Outcome == "":
	case ev.To == StNotAccepted && hasOutcome(notAcceptedOutcomes, ev.Outcome):
	case ev.To == StClosed && hasOutcome(closingOutcomes, ev.Outcome):
	default:
		return org.Invalid("outcome", "casework.review.outcome_invalid", "to", ev.To)
	}
	if ev.Outcome == OutcomeLegalChannel {
		switch ev.Channel {
		case ChannelLitigation, ChannelArbitration, ChannelAdminReview:
		default:
			return org.Invalid("channel", "casework.review.outcome_channel_required")
		}
	} else if ev.Channel != "" {
		return org.Invalid("channel", "casework.review.outcome_channel_unexpected")
	}
	return nil
}

// CheckFinal says whether a case that repeats a final matter (FinalOfID) may move to ev.To: it
// may only be not accepted, as 不再受理.
func CheckFinal(c Case, ev CaseEvent, finalNumber string) error {
	if c.FinalOfID == 0 {
		return nil
	}
	switch ev.To {
	case StForwarded, StAssigned, StAccepted:
		return org.Invalid("to", "casework.review.final_no_longer_accepted", "case", finalNumber)
	case StNotAccepted:
		if ev.Outcome != OutcomeNoLongerAccepted {
			return org.Invalid("outcome", "casework.review.final_outcome", "case", finalNumber)
		}
	}
	return nil
}

// ReviewHandler is the unit whose work a review of c examines: for a review (复查) the unit that
// handled the matter (the responsible one, else the registering one), for a re-review (复核) the
// review body.
func ReviewHandler(c Case, to CaseStatus) int64 {
	if to == StReReview {
		return c.ReviewUnitID
	}
	if c.ResponsibleUnitID != 0 {
		return c.ResponsibleUnitID
	}
	return c.UnitID
}

// InReview reports whether a review body holds the case: it is under review or re-review.
func InReview(c Case) bool {
	return (c.Status == StReview || c.Status == StReReview) && c.ReviewUnitID != 0
}

// CanActOnReview reports whether p may act on a case its review body at reviewPath holds: only
// someone placed at that body or above it. The unit whose handling is reviewed lies below the
// body, so its people may read the case but not answer their own review.
func CanActOnReview(p *org.Principal, action, reviewPath string) bool {
	return reviewPath != "" && p != nil && p.Can(action, reviewPath)
}

// Documents of the review's decision step. The review body answers with a 复查意见书 (the
// EvReviewAnswered note) and the re-review body with a 复核意见书 (the close from re-review); the
// checks that a transition has its document (docs/casework.md "文书") ask ReviewOpinion which one
// a step needs (the kinds are in documents.go).

// ReviewOpinion is the opinion document the step (a note kind, or a status event's from → to) of
// a review needs, "" when it needs none.
func ReviewOpinion(ev CaseEvent) string {
	switch {
	case ev.Kind == EvReviewAnswered:
		return DocReviewOpinion
	case ev.Kind == EvStatus && ev.From == StReReview && ev.To == StClosed:
		return DocReReviewOpinion
	case ev.Kind == EvStatus && ev.From == StReview && ev.To == StClosed:
		return DocReviewOpinion
	}
	return ""
}

// DocumentSigner is the unit that signs a document of kind on c: the review body
// (Case.ReviewUnitID) signs the 复查意见书 while it holds the review and the 复核意见书 while it
// holds the re-review; the handling unit (the responsible one, else the registering one) signs
// the rest. A review opinion outside its review is refused: no body could sign it.
func DocumentSigner(c Case, kind string) (int64, error) {
	switch kind {
	case DocReviewOpinion, DocReReviewOpinion:
		want := StReview
		if kind == DocReReviewOpinion {
			want = StReReview
		}
		if c.Status != want || c.ReviewUnitID == 0 {
			return 0, org.Invalid("kind", "casework.cwwire.opinion_outside_review", "document", DocumentTitle(kind))
		}
		return c.ReviewUnitID, nil
	}
	if c.ResponsibleUnitID != 0 {
		return c.ResponsibleUnitID, nil
	}
	return c.UnitID, nil
}

// FurtherRight reports whether a document of kind tells the petitioner of a further review by the
// body above its signer: the answer (复查) and the review opinion (复核) do; the re-review
// opinion is final (不再受理), and the other documents open no review.
func FurtherRight(kind string) bool {
	return kind == DocAnswer || kind == DocReviewOpinion
}

package casework

import (
	"time"

	"sanji/scheduler/calendar"
	"sanji/scheduler/org"
)

// Service dates and ratings on time (信访工作条例 2022 arts. 32, 35): the review window and the
// rating window run from the day a document reached the petitioner; the result is rated as
// soon as the 处理意见书 is served, not after closing.

// ServedAt is when the first document of kind among evs (a timeline, or part of one) was served.
func ServedAt(evs []CaseEvent, kind string) (time.Time, bool) {
	for _, e := range evs {
		if e.Kind == EvServed && e.Reason == kind {
			return e.At, true
		}
	}
	return time.Time{}, false
}

// Ways a rating is given.
const (
	ViaQueryPage = "query_page" // the petitioner, by query code
	ViaTerminal  = "terminal"   // the hall terminal after a hearing (when the office turns it on)
	ViaPhone     = "phone"      // staff record it from a phone call, with who recorded it
)

// EvalStages are the stages a petitioner rates, in the order a case reaches them.
var EvalStages = []string{EvalAcceptance, EvalResult, EvalReviewResult, EvalReReviewResult}

// RatesAResult reports whether stage rates a result (the answer's, or a review's): a closed case
// is evaluated by such a rating.
func RatesAResult(stage string) bool {
	return stage == EvalResult || stage == EvalReviewResult || stage == EvalReReviewResult
}

// DefaultRatingWindowDays is how long a stage may be rated, from its start (RatingStart).
const DefaultRatingWindowDays = 30

// RatingStart is when stage of c becomes ratable, from its timeline evs: the acceptance once
// accepted (from the service of the 受理告知书 when recorded, else the acceptance); the result
// once the 处理意见书 is served (a case closed before service was recorded: from closing); the
// result of a 复查 or 复核 once its opinion is served, and only then (the review's opinions were
// required before its close, so a served opinion is the one start they have).
func RatingStart(c Case, evs []CaseEvent, stage string) (time.Time, bool) {
	switch stage {
	case EvalAcceptance:
		if c.AcceptedAt.IsZero() {
			return time.Time{}, false
		}
		if t, ok := ServedAt(evs, DocAcceptNotice); ok {
			return t, true
		}
		return c.AcceptedAt, true
	case EvalResult:
		if t, ok := ServedAt(evs, DocAnswer); ok {
			return t, true
		}
		if !c.ClosedAt.IsZero() && (c.Status == StClosed || c.Status == StEvaluated || c.Status == StArchived) {
			return c.ClosedAt, true
		}
	case EvalReviewResult:
		return ServedAt(evs, DocReviewOpinion)
	case EvalReReviewResult:
		return ServedAt(evs, DocReReviewOpinion)
	}
	return time.Time{}, false
}

// RatingDue is the last legal day a stage starting at start may be rated, days after.
func RatingDue(start time.Time, days int) time.Time {
	return calendar.DayOf(start).AddDate(0, 0, days)
}

// CheckRatingWindow says whether stage of c may still be rated at now, within days of its start.
func CheckRatingWindow(c Case, evs []CaseEvent, stage string, days int, now time.Time) error {
	start, ok := RatingStart(c, evs, stage)
	if !ok {
		return nil // CheckEvaluation names what is missing
	}
	due := RatingDue(start, days)
	if !now.Before(calendar.EndOfDay(due)) { // the window ends at 24:00 of its last day
		return org.Invalid("stage", "casework.documents.rating_window_closed", "due", due.Format("2006-01-02"))
	}
	return nil
}

// PendingRatings are the stages of c that should be rated and are not, with their window still
// open at now: what a reminder names.
func PendingRatings(c Case, evs []CaseEvent, rated []Evaluation, days int, now time.Time) []string {
	if EvaluationExcluded(c) {
		return nil
	}
	var out []string
	for _, stage := range EvalStages {
		start, ok := RatingStart(c, evs, stage)
		if !ok || !now.Before(calendar.EndOfDay(RatingDue(start, days))) {
			continue
		}
		done := false
		for _, e := range rated {
			done = done || e.Stage == stage
		}
		if !done {
			out = append(out, stage)
		}
	}
	return out
}

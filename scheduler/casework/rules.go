package casework

import "sanji/scheduler/calendar"

// The petition rules' legal periods (shared/domain.md "Rules"): which periods there are and how
// long each runs by default. The counting itself is the calendar's (calendar.Calendar.Compute).

// The rule keys.
const (
	RuleRegistration      = "registration"         // 登记、转送/交办 15 日
	RuleAcceptance        = "acceptance"           // 告知受理 15 日
	RuleObjection         = "objection"            // 异议 5 工作日
	RuleHandling          = "handling"             // 办理 60 日
	RuleExtension         = "extension"            // 延期 ≤ 30 日, once
	RuleReviewRequest     = "review_request"       // 申请复查 30 日
	RuleReviewAnswer      = "review_answer"        // 复查答复 30 日
	RuleReReviewRequest   = "rereview_request"     // 申请复核 30 日
	RuleReReviewAnswer    = "rereview_answer"      // 复核答复 30 日
	RuleFastTrack         = "fast_track"           // 简易办理 10 工作日
	RuleSupervisionAnswer = "supervision_feedback" // 督办反馈 30 日
)

// PetitionerWindow reports whether r is the petitioner's time to ask (for a review or
// a re-review) rather than a unit's time to act: its end makes nobody overdue.
func PetitionerWindow(r calendar.Rule) bool {
	return r.Key == RuleReviewRequest || r.Key == RuleReReviewRequest
}

// Rules are configuration; these are the defaults from the rules of shared/domain.md.
type Rules map[string]calendar.Rule

// DefaultRules returns the legal defaults.
func DefaultRules() Rules {
	return Rules{
		RuleRegistration:      {Key: RuleRegistration, Name: "登记转送交办", Days: 15, Unit: calendar.CalendarDays},
		RuleAcceptance:        {Key: RuleAcceptance, Name: "告知受理", Days: 15, Unit: calendar.CalendarDays},
		RuleObjection:         {Key: RuleObjection, Name: "交办异议", Days: 5, Unit: calendar.WorkingDays},
		RuleHandling:          {Key: RuleHandling, Name: "办理", Days: 60, Unit: calendar.CalendarDays},
		RuleExtension:         {Key: RuleExtension, Name: "延期", Days: 30, Unit: calendar.CalendarDays},
		RuleReviewRequest:     {Key: RuleReviewRequest, Name: "申请复查", Days: 30, Unit: calendar.CalendarDays},
		RuleReviewAnswer:      {Key: RuleReviewAnswer, Name: "复查答复", Days: 30, Unit: calendar.CalendarDays},
		RuleReReviewRequest:   {Key: RuleReReviewRequest, Name: "申请复核", Days: 30, Unit: calendar.CalendarDays},
		RuleReReviewAnswer:    {Key: RuleReReviewAnswer, Name: "复核答复", Days: 30, Unit: calendar.CalendarDays},
		RuleFastTrack:         {Key: RuleFastTrack, Name: "简易办理", Days: 10, Unit: calendar.WorkingDays},
		RuleSupervisionAnswer: {Key: RuleSupervisionAnswer, Name: "督办反馈", Days: 30, Unit: calendar.CalendarDays},
		RuleForwardLevel:      ForwardRule(0), // the province's days replace it (casework.forward_days_per_level)
	}
}

package api

import (
	"cmp"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	"sanji/scheduler/calendar"
	"sanji/scheduler/casework"
	"sanji/scheduler/rates"
)

// The rates (及时受理率, 按期办结率, 满意率 and the rest) for the dashboard.

// RateView is one rate with its parts.
type RateView struct {
	Num   int     `json:"num"`
	Den   int     `json:"den"`
	Value float64 `json:"value"`
}

func rateView(r rates.Rate) RateView { return RateView{r.Num, r.Den, r.Value()} }

// OverdueView is one unit's overdue cases, by clock.
type OverdueView struct {
	UnitID     int64 `json:"unit_id"`
	Acceptance int   `json:"acceptance"`
	Handling   int   `json:"handling"`
	Routing    int   `json:"routing"`
	Forwarding int   `json:"forwarding"`
	Total      int   `json:"total"`
}

// CountView is one cell of the case counts.
type CountView struct {
	CategoryID int64  `json:"category_id"`
	Territory  string `json:"territory"`
	Month      string `json:"month"` // YYYY-MM
	Count      int    `json:"count"`
}

// RatesView is the statistics of a scope and period, every figure with its parts.
type RatesView struct {
	UnitID             int64          `json:"unit_id,omitempty"` // the subtree chosen; absent: the caller's whole scope
	From               string         `json:"from,omitempty"`
	To                 string         `json:"to,omitempty"`
	Cases              int            `json:"cases"`
	TimelyAcceptance   RateView       `json:"timely_acceptance"`
	OnTimeClosure      RateView       `json:"on_time_closure"`
	Satisfaction       RateView       `json:"satisfaction"`
	SatisfactionScores map[string]int `json:"satisfaction_scores"`
	Participation      RateView       `json:"participation"` // 参评率
	Repeat             RateView       `json:"repeat"`
	Repetitioned       RateView       `json:"repetitioned"`
	RepetitionDays     int            `json:"repetition_days"`
	OverdueByUnit      map[string]int `json:"overdue_by_unit"`
	Overdue            []OverdueView  `json:"overdue"`
	Counts             []CountView    `json:"counts"`
	Uncounted          int            `json:"uncounted"`
	// SupervisionOverdue: per supervised unit, its 督办 items that missed a feedback date (num)
	// out of its items opened in the period (den).
	SupervisionOverdue []SupervisionOverdueView `json:"supervision_overdue"`
	// The office's own routing period, and how the cases that ended ended (casework.Outcomes).
	TimelyRouting RateView       `json:"timely_routing"`
	Outcomes      map[string]int `json:"outcomes"`
	Unclassified  int            `json:"unclassified"`
	// TimelyForwarding (逐级转送按期率): each level's forwarding periods ended within the province's
	// per-level working days.
	TimelyForwarding    RateView `json:"timely_forwarding"`
	ForwardDaysPerLevel int      `json:"forward_days_per_level"` // the working days each level has (casework.forward_days_per_level)
}

// SupervisionOverdueView is one unit's overdue supervision.
type SupervisionOverdueView struct {
	UnitID int64 `json:"unit_id"`
	RateView
}

// queryDay parses an optional YYYY-MM-DD query parameter.
func queryDay(q url.Values, name string) (time.Time, error) {
	v := q.Get(name)
	if v == "" {
		return time.Time{}, nil
	}
	d, err := time.Parse("2006-01-02", v)
	if err != nil {
		return d, invalidField(name, "api.rates.bad_date", "name", name)
	}
	return d, nil
}

// rates computes the statistics of the caller's scope (or of one unit's subtree in it) over the
// cases registered in a period, at the time of the request.
func (s *Server) rates(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	roots := rc.roots()
	if len(roots) == 0 {
		return errForbidden
	}
	ctx, q := r.Context(), r.URL.Query()
	rq := rates.RatesQuery{UnderPaths: roots}
	var out RatesView
	if v := q.Get("unit_id"); v != "" {
		id, err := strconv.ParseInt(v, 10, 64)
		if err != nil || id <= 0 {
			return invalidField("unit_id", "api.rates.bad_unit_id")
		}
		u, err := s.unitFieldInScope(ctx, rc, "unit_id", id)
		if err != nil {
			return err
		}
		rq.UnderPaths, out.UnitID = []string{u.Path}, u.ID
	}
	var err error
	if rq.From, err = queryDay(q, "from"); err != nil {
		return err
	}
	if rq.To, err = queryDay(q, "to"); err != nil {
		return err
	}
	if !rq.From.IsZero() && !rq.To.IsZero() && rq.To.Before(rq.From) {
		return invalidField("to", "api.rates.to_before_from")
	}
	if v := q.Get("repetition_days"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 365 {
			return invalidField("repetition_days", "api.rates.bad_repetition_days")
		}
		rq.RepetitionDays = n
	}
	// The rates count against units: they wait for a year's real calendar (cases whose outcome
	// needs one are "uncounted") instead of counting provisionally.
	cal, err := calendar.LoadCalendar(ctx, s.st)
	if err != nil {
		return err
	}
	rules := casework.DefaultRules()
	rules[casework.RuleForwardLevel] = s.forward // the province's days, as the case shows them
	rt, err := rates.RatesFor(ctx, s.st, rq, cal, rules, s.now())
	if err != nil {
		return calendarErr(err)
	}
	out.From, out.To = q.Get("from"), q.Get("to")
	out.Cases, out.Uncounted, out.RepetitionDays = rt.Cases, rt.Uncounted, rt.RepetitionDays
	sup, err := rates.SupervisionOverdueFor(ctx, s.st, rq, s.now())
	if err != nil {
		return err
	}
	out.SupervisionOverdue = []SupervisionOverdueView{}
	for _, u := range sup {
		out.SupervisionOverdue = append(out.SupervisionOverdue, SupervisionOverdueView{UnitID: u.UnitID, RateView: rateView(u.Rate)})
	}
	out.TimelyAcceptance, out.OnTimeClosure, out.Satisfaction = rateView(rt.TimelyAcceptance), rateView(rt.OnTimeClosure), rateView(rt.Satisfaction)
	out.Repeat, out.Repetitioned = rateView(rt.Repeat), rateView(rt.Repetitioned)
	out.TimelyRouting, out.Outcomes, out.Unclassified = rateView(rt.TimelyRouting), map[string]int{}, rt.Unclassified
	out.TimelyForwarding, out.ForwardDaysPerLevel = rateView(rt.TimelyForwarding), s.forward.Days
	for _, o := range casework.Outcomes {
		out.Outcomes[string(o)] = rt.Outcomes[o]
	}
	out.Participation = rateView(rt.Participation)
	out.SatisfactionScores = map[string]int{casework.ScoreSatisfied: 0, casework.ScoreBasically: 0, casework.ScoreUnsatisfied: 0}
	for k, n := range rt.Scores {
		out.SatisfactionScores[k] = n
	}
	out.OverdueByUnit, out.Overdue, out.Counts = map[string]int{}, []OverdueView{}, []CountView{}
	for u, o := range rt.Overdue {
		v := OverdueView{UnitID: u, Acceptance: o.Acceptance, Handling: o.Handling, Routing: o.Routing, Forwarding: o.Forwarding,
			Total: o.Acceptance + o.Handling + o.Routing + o.Forwarding}
		out.Overdue = append(out.Overdue, v)
		out.OverdueByUnit[strconv.FormatInt(u, 10)] = v.Total
	}
	slices.SortFunc(out.Overdue, func(a, b OverdueView) int {
		return cmp.Or(cmp.Compare(b.Total, a.Total), cmp.Compare(a.UnitID, b.UnitID))
	})
	for k, n := range rt.Counts {
		out.Counts = append(out.Counts, CountView{CategoryID: k.CategoryID, Territory: k.Territory, Month: k.Month, Count: n})
	}
	slices.SortFunc(out.Counts, func(a, b CountView) int {
		return cmp.Or(cmp.Compare(a.Month, b.Month), cmp.Compare(a.CategoryID, b.CategoryID), cmp.Compare(a.Territory, b.Territory))
	})
	writeJSON(w, http.StatusOK, out)
	return nil
}

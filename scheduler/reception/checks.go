package reception

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"sanji/i18n"
	"sanji/scheduler/casework"
	"sanji/scheduler/org"
)

// Booking checks (shared/domain.md "Repeat petitions" and "Level checks"): when a petitioner is
// booked, show the earlier matters of the same person (同人同事, by ID number and by similar
// text), whether the matter is pending at a lower level, and whether it is past re-review. They
// inform and are logged; they never refuse a booking, since a leader may still receive anyone.

// MatterText is an earlier matter of a territory, for the similar-text check.
type MatterText struct {
	Kind    string // CheckAppointment or CheckCase
	ID      int64
	Title   string // a case's title; "" for an appointment
	Text    string // an appointment's matter; the start of a case's content
	Created time.Time
}

// Kinds of earlier matters.
const (
	CheckAppointment = "appointment"
	CheckCase        = "case"
)

// CheckStore is what the booking checks read: the earlier appointments and matters, and the
// earlier cases of the same person.
type CheckStore interface {
	AppointmentStore
	BookingCheckStore
	GetUnit(ctx context.Context, id int64) (org.Unit, error)
	GetCase(ctx context.Context, id int64) (casework.Case, error)
	ListCaseEvents(ctx context.Context, caseID int64) ([]casework.CaseEvent, error)
	CasesByIDNumber(ctx context.Context, idNumber string, limit int) ([]casework.Case, error)
}

// BookingCheckStore is the part of SessionStore the checks read.
type BookingCheckStore interface {
	// RecentMatters returns, newest first, up to limit appointments (not cancelled) of halls
	// whose unit code starts with territory, and up to limit cases whose territory starts with
	// it ("" for all). A case's Text is the first MatterTextRunes characters of its content.
	RecentMatters(ctx context.Context, territory string, limit int) ([]MatterText, error)
}

// Bounds of the checks: how far back the similar-text check looks, how much of a case's content
// it compares, how many candidates it returns.
const (
	RecentMattersLimit = 500
	MatterTextRunes    = 1000
	SamePersonLimit    = 20
	SimilarLimit       = 10
	// SimilarThreshold is the least character-bigram similarity (Dice coefficient, 0 to 1) of
	// two matter texts for the check to name the earlier one. Chosen on short Chinese matter
	// descriptions (checks_test.go): rewordings of one matter scored 0.43 to 0.72, different
	// matters of one field (two wage disputes) about 0.2.
	SimilarThreshold = casework.SimilarThreshold
)

// CaseCheck is an earlier case of the same person, with what the level checks make of it.
type CaseCheck struct {
	Case    casework.Case
	Holding org.Unit // where the case is handled now: its responsible unit, or else its registering unit
	// PendingLower: the case is open at a unit below the session's unit (逐级走访: the lower
	// level has not finished with it).
	PendingLower bool
	// PastReReview: the case went through re-review (复核) and is closed, and the booking's matter
	// is the same (casework.MatchText; any matter when the booking names none): the same facts
	// and reasons are not accepted again. Match says why.
	PastReReview bool
	Match        casework.MatterMatch
	// SameMatter: the booking's matter is this case's (同人同事, casework.MatchText); Match says why.
	SameMatter bool
}

// SimilarMatter is an earlier matter of the territory, of another ID number, whose text is like
// the new one.
type SimilarMatter struct {
	Kind        string
	ID          int64
	Score       float64
	Appointment Appointment   // when Kind is CheckAppointment
	Case        casework.Case // when Kind is CheckCase
}

// BookingChecks is what the checks found for one booking.
type BookingChecks struct {
	SamePerson []Appointment // earlier appointments of the same ID number, newest first
	Cases      []CaseCheck   // cases with a petitioner of the same ID number, newest first
	Similar    []SimilarMatter
}

// CheckRef is an earlier matter a booking's checks named, as kept with the appointment.
type CheckRef struct {
	Kind  string  `json:"kind"`
	ID    int64   `json:"id"`
	Score float64 `json:"score,omitempty"`
}

// CheckSummary is what is kept of the checks with the appointment (ids, scores, flags; no
// personal data), so the leader's queue can show them later.
type CheckSummary struct {
	SamePerson   []CheckRef `json:"same_person,omitempty"`
	Similar      []CheckRef `json:"similar,omitempty"`
	PendingLower []int64    `json:"pending_lower,omitempty"` // case ids
	PastReReview []int64    `json:"past_rereview,omitempty"` // case ids
}

// Empty reports whether the checks found nothing.
func (c CheckSummary) Empty() bool {
	return len(c.SamePerson)+len(c.Similar)+len(c.PendingLower)+len(c.PastReReview) == 0
}

// Summary is what is kept of b.
func (b BookingChecks) Summary() CheckSummary {
	var s CheckSummary
	for _, a := range b.SamePerson {
		s.SamePerson = append(s.SamePerson, CheckRef{Kind: CheckAppointment, ID: a.ID})
	}
	for _, c := range b.Cases {
		s.SamePerson = append(s.SamePerson, CheckRef{Kind: CheckCase, ID: c.Case.ID})
		if c.PendingLower {
			s.PendingLower = append(s.PendingLower, c.Case.ID)
		}
		if c.PastReReview {
			s.PastReReview = append(s.PastReReview, c.Case.ID)
		}
	}
	for _, m := range b.Similar {
		s.Similar = append(s.Similar, CheckRef{Kind: m.Kind, ID: m.ID, Score: m.Score})
	}
	return s
}

// Note is one thing the operator should know, in both languages.
type Note struct {
	Code   string // same_person, pending_lower, past_rereview, similar
	ZH, EN string
}

// note is the Note of code with the catalog's message k.
func note(code string, k i18n.Key, args ...any) Note {
	t := i18n.T(k, args...)
	return Note{Code: code, ZH: t.ZH, EN: t.EN}
}

// Notes says what b means for the operator, in the order they should read it.
func (b BookingChecks) Notes() []Note {
	var out []Note
	var pending, past []string
	for _, c := range b.Cases {
		if c.PendingLower {
			pending = append(pending, c.Case.Number+"（"+c.Holding.Name+"）")
		}
		if c.PastReReview {
			past = append(past, c.Case.Number)
		}
	}
	if len(pending) > 0 {
		out = append(out, note("pending_lower", "reception.check.pending_lower", "cases", strings.Join(pending, "、")))
	}
	if len(past) > 0 {
		out = append(out, note("past_rereview", "reception.check.past_rereview", "cases", strings.Join(past, "、")))
	}
	if n := len(b.SamePerson) + len(b.Cases); n > 0 {
		out = append(out, note("same_person", "reception.check.same_person", "count", n))
	}
	if len(b.Similar) > 0 {
		out = append(out, note("similar", "reception.check.similar", "count", len(b.Similar)))
	}
	return out
}

// TerritoryOf is the division-code prefix a unit's matters share: its district's six digits, or
// its city's first four (a city's code ends in 00); "" for the root.
func TerritoryOf(u org.Unit) string {
	code, _, _ := strings.Cut(u.Code, "-")
	if u.Kind == org.KindRoot || len(code) < 6 {
		return ""
	}
	code = code[:6]
	if strings.HasSuffix(code, "00") {
		return code[:4]
	}
	return code
}

// TextSimilarity is the Dice coefficient of the character bigrams of a and b (casework's: the
// booking check and the repeat rule compare texts the same way).
func TextSimilarity(a, b string) float64 { return casework.TextSimilarity(a, b) }

// truncateRunes keeps the first n characters of s.
func truncateRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n])
}

// caseOpen reports whether a case is still being handled somewhere.
func caseOpen(st casework.CaseStatus) bool {
	switch st {
	case casework.StClosed, casework.StEvaluated, casework.StArchived, casework.StNotAccepted, casework.StAnswered:
		return false
	}
	return true
}

// CheckBooking runs the checks for a petitioner of idNumber with matter, booked into sess at a
// hall whose unit is hallUnit.
func CheckBooking(ctx context.Context, st CheckStore, sess ReceptionSession, hallUnit org.Unit, idNumber, matter string) (BookingChecks, error) {
	var b BookingChecks
	idNumber = strings.ToUpper(strings.TrimSpace(idNumber))
	sessUnit, err := st.GetUnit(ctx, sess.UnitID)
	if err != nil {
		return b, fmt.Errorf("booking checks: session unit: %w", err)
	}
	skip := map[CheckRef]bool{}
	if ValidIDNumber(idNumber) {
		if b.SamePerson, err = st.AppointmentsByIDNumber(ctx, idNumber, SamePersonLimit); err != nil {
			return b, fmt.Errorf("booking checks: appointments: %w", err)
		}
		cases, err := st.CasesByIDNumber(ctx, idNumber, SamePersonLimit)
		if err != nil {
			return b, fmt.Errorf("booking checks: cases: %w", err)
		}
		for _, a := range b.SamePerson {
			skip[CheckRef{Kind: CheckAppointment, ID: a.ID}] = true
		}
		for _, c := range cases {
			skip[CheckRef{Kind: CheckCase, ID: c.ID}] = true
			cc, err := levelCheck(ctx, st, c, sessUnit, matter)
			if err != nil {
				return b, err
			}
			b.Cases = append(b.Cases, cc)
		}
	}
	if strings.TrimSpace(matter) == "" {
		return b, nil
	}
	recent, err := st.RecentMatters(ctx, TerritoryOf(hallUnit), RecentMattersLimit)
	if err != nil {
		return b, fmt.Errorf("booking checks: recent matters: %w", err)
	}
	mine := casework.BigramsOf(truncateRunes(matter, MatterTextRunes))
	for _, m := range recent {
		if skip[CheckRef{Kind: m.Kind, ID: m.ID}] {
			continue
		}
		score := mine.Dice(casework.BigramsOf(m.Text))
		if m.Title != "" {
			score = max(score, mine.Dice(casework.BigramsOf(m.Title)))
		}
		if score >= SimilarThreshold {
			b.Similar = append(b.Similar, SimilarMatter{Kind: m.Kind, ID: m.ID, Score: float64(int(score*100+0.5)) / 100})
		}
	}
	sort.SliceStable(b.Similar, func(i, j int) bool { return b.Similar[i].Score > b.Similar[j].Score })
	if len(b.Similar) > SimilarLimit {
		b.Similar = b.Similar[:SimilarLimit]
	}
	for i := range b.Similar {
		m := &b.Similar[i]
		if m.Kind == CheckAppointment {
			m.Appointment, err = st.GetAppointment(ctx, m.ID)
		} else {
			m.Case, err = st.GetCase(ctx, m.ID)
		}
		if err != nil {
			return b, fmt.Errorf("booking checks: similar %s %d: %w", m.Kind, m.ID, err)
		}
	}
	return b, nil
}

// levelCheck decides where c stands relative to the session's unit, and whether the booking's
// matter repeats it after its re-review.
func levelCheck(ctx context.Context, st CheckStore, c casework.Case, sessUnit org.Unit, matter string) (CaseCheck, error) {
	cc := CaseCheck{Case: c}
	holding := c.ResponsibleUnitID
	if holding == 0 {
		holding = c.UnitID
	}
	u, err := st.GetUnit(ctx, holding)
	if err != nil {
		return cc, fmt.Errorf("booking checks: unit of case %d: %w", c.ID, err)
	}
	cc.Holding = u
	cc.PendingLower = caseOpen(c.Status) && u.Path != sessUnit.Path && strings.HasPrefix(u.Path, sessUnit.Path)
	if strings.TrimSpace(matter) != "" {
		cc.Match = casework.MatchText(truncateRunes(matter, MatterTextRunes), c)
		cc.SameMatter = cc.Match.Same()
	}
	cc.PastReReview = c.Final && (strings.TrimSpace(matter) == "" || cc.SameMatter)
	return cc, nil
}

// IsComplainedAbout reports whether p is placed at or under the unit a case complains about
// (被反映对象). Such a viewer must not learn of the case at all through the checks: linking the
// petitioner they are booking to a complaint about themselves is what the privacy rule forbids.
func IsComplainedAbout(p *org.Principal, ch casework.CaseChain) bool {
	for _, g := range p.Grants {
		if org.InSubtree(g.UnitPath, ch.ComplainedPath) {
			return true
		}
	}
	return false
}

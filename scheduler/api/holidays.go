package api

import (
	"cmp"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"sanji/i18n"
	"sanji/scheduler/calendar"
	"sanji/scheduler/org"
)

// The holiday calendar.

// HolidayView is one day of the holiday calendar.
type HolidayView struct {
	Date string `json:"date"`
	Kind string `json:"kind"`
	Name string `json:"name"`
}

func (s *Server) listHolidays(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	if !rc.p.CanAnywhere(rc.rt.access) {
		return errForbidden
	}
	v, _, err := s.holidayYear(r)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

// holidayYearView is a year of the calendar as GET /holidays answers it.
type holidayYearView struct {
	Holidays []HolidayView `json:"holidays"`
	Covered  bool          `json:"covered"`
	Verified bool          `json:"verified"`
	Note     string        `json:"note"`
}

// holidayYear reads the year the request names (?year=, this year by default) and the years the
// calendar holds (year → verified).
func (s *Server) holidayYear(r *http.Request) (holidayYearView, map[int]bool, error) {
	year := r.URL.Query().Get("year")
	if year == "" {
		year = strconv.Itoa(s.now().In(calendar.Shanghai).Year())
	}
	y, err := strconv.Atoi(year)
	if err != nil || y < 2000 || y > 2100 {
		return holidayYearView{}, nil, invalidField("year", "api.holiday.bad_year")
	}
	hs, err := s.st.ListHolidays(r.Context(), year+"-01-01", year+"-12-31")
	if err != nil {
		return holidayYearView{}, nil, err
	}
	years, err := s.st.ListCalendarYears(r.Context())
	if err != nil {
		return holidayYearView{}, nil, err
	}
	out := []HolidayView{}
	for _, h := range hs {
		out = append(out, HolidayView{Date: h.Date, Kind: string(h.Kind), Name: h.Name})
	}
	verified, covered := years[y]
	covered = covered || len(hs) > 0
	v := holidayYearView{Holidays: out, Covered: covered, Verified: covered && verified, Note: i18n.T("api.holiday.verify_note").String()}
	if !covered {
		v.Note = calendar.ProvisionalNote([]int{y})
	}
	return v, years, nil
}

// CalendarYearView is a year the holiday calendar holds.
type CalendarYearView struct {
	Year     int  `json:"year"`
	Verified bool `json:"verified"`
}

// holidayCalendar is the calendar for those who maintain it: a year's days and every year entered,
// so the page shows which years the clocks still count provisionally. It is its own route because
// GET /holidays is session.read, which the administrator keeping the calendar does not hold (三员分立).
func (s *Server) holidayCalendar(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	root, err := s.st.GetUnitByCode(r.Context(), org.RootCode)
	if err != nil {
		return err
	}
	if err := rc.require(root.Path); err != nil {
		return err
	}
	v, years, err := s.holidayYear(r)
	if err != nil {
		return err
	}
	list := []CalendarYearView{}
	for y, verified := range years {
		list = append(list, CalendarYearView{Year: y, Verified: verified})
	}
	slices.SortFunc(list, func(a, b CalendarYearView) int { return cmp.Compare(a.Year, b.Year) })
	writeJSON(w, http.StatusOK, struct {
		holidayYearView
		Years []CalendarYearView `json:"years"`
	}{v, list})
	return nil
}

// maxHolidayName is the longest name of a day, in characters (春节调休上班 is six).
const maxHolidayName = 40

type putHolidayRequest struct {
	Kind string `json:"kind"`
	Name string `json:"name"`
}

// putHoliday stores or corrects one day of the calendar; the data is installation-wide, so the
// action is checked at the root.
func (s *Server) putHoliday(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	var req putHolidayRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	ctx := r.Context()
	root, err := s.st.GetUnitByCode(ctx, org.RootCode)
	if err != nil {
		return err
	}
	if err := rc.require(root.Path); err != nil {
		return err
	}
	h := calendar.Holiday{Date: r.PathValue("date"), Kind: calendar.HolidayKind(req.Kind), Name: strings.TrimSpace(req.Name)}
	// The name is what a deadline's explanation cites (春节, 国庆节调休): a day without one cannot be
	// checked against the State Council's notice.
	if h.Name == "" {
		return invalidField("name", "api.calendar.name_required")
	}
	if n := utf8.RuneCountInString(h.Name); n > maxHolidayName {
		return invalidField("name", "api.calendar.name_too_long", "max", maxHolidayName)
	}
	var before any
	if old, err := s.st.ListHolidays(ctx, h.Date, h.Date); err == nil && len(old) == 1 {
		before = HolidayView{Date: old[0].Date, Kind: string(old[0].Kind), Name: old[0].Name}
	}
	if err := s.st.PutHoliday(ctx, h); err != nil {
		return err
	}
	v := HolidayView{Date: h.Date, Kind: string(h.Kind), Name: h.Name}
	if err := rc.audit("holiday.put", "holiday:"+h.Date, root, before, v); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

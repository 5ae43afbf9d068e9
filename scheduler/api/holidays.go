package api

import (
	"net/http"
	"strconv"
	"strings"

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
	year := r.URL.Query().Get("year")
	if year == "" {
		year = strconv.Itoa(s.now().In(calendar.Shanghai).Year())
	}
	y, err := strconv.Atoi(year)
	if err != nil || y < 2000 || y > 2100 {
		return invalidField("year", "api.holiday.bad_year")
	}
	hs, err := s.st.ListHolidays(r.Context(), year+"-01-01", year+"-12-31")
	if err != nil {
		return err
	}
	years, err := s.st.ListCalendarYears(r.Context())
	if err != nil {
		return err
	}
	out := []HolidayView{}
	for _, h := range hs {
		out = append(out, HolidayView{Date: h.Date, Kind: string(h.Kind), Name: h.Name})
	}
	verified, covered := years[y]
	covered = covered || len(hs) > 0
	res := map[string]any{"holidays": out, "covered": covered, "verified": covered && verified,
		"note": i18n.T("api.holiday.verify_note").String()}
	if !covered {
		res["note"] = calendar.ProvisionalNote([]int{y})
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}

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

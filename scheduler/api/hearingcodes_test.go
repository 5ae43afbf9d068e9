package api

import (
	"encoding/json"
	"testing"

	"sanji/scheduler/casework"
	"sanji/scheduler/org"
	"sanji/scheduler/reception"
)

// TestHearingQueryCodes: the query code of a case registered on the call reaches the hall's
// operator through the API while the hearing is under way, and only then; a received
// petitioner's row cannot be checked in, marked absent or cancelled any more.
func TestHearingQueryCodes(t *testing.T) {
	f := newFixture(t, Config{})
	x := f.openCall(true)
	leader := f.user(org.RoleLeader, f.d1)
	book := func(name string) reception.Appointment {
		t.Helper()
		a := reception.Appointment{SessionID: x.ID, HallID: f.hall1.ID, Name: name, IDNumber: f.idNumber(), Matter: "欠薪三个月", People: 1, OverrideReason: "当日到访"}
		if err := f.st.CreateAppointment(bg, &a, f.clock.now()); err != nil {
			t.Fatal(err)
		}
		return a
	}
	heard, absent := book("王建国"), book("李四")
	op := f.loginUser(f.user(org.RoleHallOperator, f.d1))
	path := "/api/v1/sessions/" + idStr(x.ID) + "/query-codes?hall_id=" + idStr(f.hall1.ID)
	codes := func(c *client, want int) []HearingCodeView {
		t.Helper()
		resp, body := c.do("GET", path, nil)
		wantStatus(t, resp, body, want)
		var out struct {
			Codes []HearingCodeView `json:"codes"`
		}
		if want == 200 {
			if err := json.Unmarshal(body, &out); err != nil || out.Codes == nil {
				t.Fatalf("codes: %s %v", body, err)
			}
		}
		return out.Codes
	}
	if got := codes(op, 200); len(got) != 0 {
		t.Fatalf("codes before any hearing: %+v", got)
	}

	bridge := f.api.CallBridge()
	h, err := bridge.StartHearing(bg, x.ID, heard.ID, leader.ID)
	if err != nil {
		t.Fatal(err)
	}
	got := codes(op, 200)
	if len(got) != 1 || got[0].AppointmentID != heard.ID || got[0].CaseNumber != h.Number || got[0].QueryCode == "" {
		t.Fatalf("codes during the hearing: %+v", got)
	}
	c, err := f.st.GetCase(bg, h.CaseID)
	if err != nil || c.QueryCodeHash != casework.QueryCodeHash(got[0].QueryCode) {
		t.Fatalf("the code is not the case's: %v", err)
	}
	// Another district's operator does not see it; the hall is required.
	codes(f.loginUser(f.user(org.RoleHallOperator, f.d2)), 403)
	resp, body := op.do("GET", "/api/v1/sessions/"+idStr(x.ID)+"/query-codes", nil)
	wantStatus(t, resp, body, 400)
	if e := errCode(t, body); e.Field != "hall_id" {
		t.Errorf("without a hall: %+v", e)
	}

	// The row being heard offers nothing, and the API refuses it too.
	patch := func(a reception.Appointment, status string, want int) {
		t.Helper()
		resp, body := op.do("PATCH", "/api/v1/appointments/"+idStr(a.ID), map[string]string{"status": status})
		wantStatus(t, resp, body, want)
		if want == 409 {
			if e := errCode(t, body); e.Code != CodeConflict || e.Message == "" {
				t.Errorf("refusal of %s: %+v", status, e)
			}
		}
	}
	for _, st := range []string{"checked_in", "no_show", "cancelled"} {
		patch(heard, st, 409)
	}
	resp, body = op.do("GET", "/api/v1/sessions/"+idStr(x.ID)+"/queue?hall_id="+idStr(f.hall1.ID), nil)
	wantStatus(t, resp, body, 200)
	var q struct {
		Queue []AppointmentView `json:"queue"`
	}
	if err := json.Unmarshal(body, &q); err != nil || len(q.Queue) != 2 || q.Queue[0].HeardAt == nil || q.Queue[0].EndedAt != nil || q.Queue[1].HeardAt != nil {
		t.Fatalf("queue during the hearing: %s %v", body, err)
	}

	// The hearing ends: the code is gone.
	if err := bridge.EndHearing(bg, heard.ID, reception.OutcomeAnswered, "", leader.ID); err != nil {
		t.Fatal(err)
	}
	if got := codes(op, 200); len(got) != 0 {
		t.Errorf("codes after the hearing: %+v", got)
	}
	patch(heard, "checked_in", 409)

	// A no-show stays one; a waiting petitioner can still be checked in.
	patch(absent, "no_show", 200)
	patch(absent, "checked_in", 409)
	patch(absent, "cancelled", 409)
	fresh := book("赵六")
	patch(fresh, "checked_in", 200)
	patch(fresh, "cancelled", 200)
	patch(fresh, "booked", 409)
}

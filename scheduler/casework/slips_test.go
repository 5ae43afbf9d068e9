package casework

import (
	"errors"
	"strings"
	"testing"
	"time"

	"sanji/scheduler/calendar"
	"sanji/scheduler/org"
)

func TestValidateAssignment(t *testing.T) {
	ok := Assignment{CaseID: 1, AssignerUnitID: 2, ResponsibleUnitID: 3, CoUnitIDs: []int64{4}, Method: AssignOnVideoCall,
		SessionID: "rs-42", RecordingOffset: 754 * time.Second, FeedbackDue: calendar.Date(2026, 4, 1)}
	if err := ValidateAssignment(ok); err != nil {
		t.Fatal(err)
	}
	for field, mod := range map[string]func(*Assignment){
		"case_id":             func(a *Assignment) { a.CaseID = 0 },
		"responsible_unit_id": func(a *Assignment) { a.ResponsibleUnitID = 2 },
		"co_unit_ids":         func(a *Assignment) { a.CoUnitIDs = []int64{3} },
		"method":              func(a *Assignment) { a.Method = "fax" },
		"session_id":          func(a *Assignment) { a.SessionID = "" },
		"feedback_due":        func(a *Assignment) { a.FeedbackDue = time.Time{} },
	} {
		a := ok
		mod(&a)
		var fe *org.FieldError
		if err := ValidateAssignment(a); !errors.As(err, &fe) || fe.Field != field {
			t.Errorf("%s: %v", field, err)
		}
	}
	phone := ok
	phone.Method = AssignByPhone
	var fe *org.FieldError
	if err := ValidateAssignment(phone); !errors.As(err, &fe) || fe.Field != "session_id" {
		t.Errorf("phone with a session id: %v", err)
	}
}

func TestCheckObjection(t *testing.T) {
	cal, rules := calendar.DefaultCalendar(), DefaultRules()
	// Assigned on Friday 2025-09-26: 5 working days end on 2025-10-10 (9-28 is a 调休 workday, 10-1…8 off).
	a := Assignment{Status: AssignmentOpen, AssignedAt: time.Date(2025, 9, 26, 15, 0, 0, 0, calendar.ChinaTZ)}
	if err := CheckObjection(cal, rules, a, "不属于本单位职责", time.Date(2025, 10, 10, 23, 59, 0, 0, calendar.ChinaTZ)); err != nil {
		t.Errorf("on the last day: %v", err)
	}
	var fe *org.FieldError
	err := CheckObjection(cal, rules, a, "不属于本单位职责", time.Date(2025, 10, 11, 0, 0, 0, 0, calendar.ChinaTZ))
	if !errors.As(err, &fe) || fe.Field != "objection" || !strings.HasPrefix(fe.EN, "the objection period ended on 2025-10-10 (") {
		t.Errorf("a day late: %v", err)
	}
	if err := CheckObjection(cal, rules, a, " ", a.AssignedAt); !errors.As(err, &fe) || fe.Field != "reason" {
		t.Errorf("no reason: %v", err)
	}
	a.Status = AssignmentObjected
	if err := CheckObjection(cal, rules, a, "x", a.AssignedAt); !errors.As(err, &fe) || fe.Field != "status" {
		t.Errorf("objected twice: %v", err)
	}
}

func TestEscalationLadder(t *testing.T) {
	want := []string{"reminder", "on_site", "leader_coordination", "listed", "listed"}
	step := ""
	for i, w := range want {
		step = NextEscalation(step)
		if step != w {
			t.Fatalf("rung %d: %s, want %s", i, step, w)
		}
	}
}

func TestConsultation(t *testing.T) {
	c := Consultation{CaseID: 1, CompetentUnitID: 10, UnitIDs: []int64{10, 11, 12}}
	if err := c.AddOpinion(Opinion{UnitID: 13, Text: "x"}); !errors.Is(err, org.ErrInvalid) {
		t.Errorf("outsider's opinion: %v", err)
	}
	for _, o := range []Opinion{{UnitID: 11, Text: "同意"}, {UnitID: 12, Text: "不同意，应由区住建局办理", Dissent: true}, {UnitID: 11, Text: "同意，补充意见"}} {
		if err := c.AddOpinion(o); err != nil {
			t.Fatal(err)
		}
	}
	if len(c.Opinions) != 2 || c.Opinions[0].Text != "同意，补充意见" || len(c.Dissent()) != 1 || c.Dissent()[0].UnitID != 12 {
		t.Errorf("opinions: %+v", c.Opinions)
	}
	if c.Final() {
		t.Error("final before signature")
	}
	if err := c.Sign(5, 11, "由区人社局牵头办理", time.Now()); !errors.Is(err, org.ErrInvalid) || c.Final() {
		t.Errorf("signed by a non-competent unit: %v", err)
	}
	if err := c.Sign(5, 10, "", time.Now()); !errors.Is(err, org.ErrInvalid) {
		t.Errorf("empty conclusion: %v", err)
	}
	if err := c.Sign(5, 10, "由区人社局牵头办理", time.Now()); err != nil || !c.Final() {
		t.Errorf("sign: %v", err)
	}
	if err := c.AddOpinion(Opinion{UnitID: 12, Text: "y"}); !errors.Is(err, org.ErrInvalid) {
		t.Errorf("opinion after signature: %v", err)
	}
	if len(c.Dissent()) != 1 {
		t.Error("dissent must stay recorded after signature")
	}
}

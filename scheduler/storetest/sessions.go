package storetest

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"sanji/scheduler"
	"sanji/scheduler/calendar"
	"sanji/scheduler/org"
	"sanji/scheduler/reception"
)

// runSessions is the conformance suite of reception.SessionStore.
func runSessions(t *testing.T, open Opener) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s scheduler.Store)
	}{
		{"Holidays", testHolidays},
		{"ScheduleMaterialize", testScheduleMaterialize},
		{"SessionConflicts", testSessionConflicts},
		{"SessionConflictsConcurrent", testSessionConflictsConcurrent},
		{"Appointments", testAppointments},
		{"AppointmentsConcurrent", testAppointmentsConcurrent},
		{"Hearings", testHearings},
		{"Invitations", testInvitations},
		{"InvitationsConcurrent", testInvitationsConcurrent},
		{"BookingChecks", testBookingChecks},
		{"Reminders", testReminders},
		{"InvitationDecline", testInvitationDecline},
		{"DeclineConcurrent", testDeclineConcurrent},
		{"SessionRevision", testSessionRevision},
		{"CalendarFeeds", testCalendarFeeds},
		{"Backfill", testBackfill},                       // bookings.go
		{"HallsOutsideSubtree", testHallsOutsideSubtree}, // bookings.go
		{"SessionsInvolving", testSessionsInvolving},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, open(t)) })
	}
}

// Rec is the tree plus what a reception needs: a leader, a studio and two halls.
type Rec struct {
	Tree
	Leader, Leader2 org.User
	Studio, H1, H2  org.Hall
}

// BuildReception creates a leader, a studio at the city and halls in both districts.
func BuildReception(t *testing.T, s scheduler.Store) Rec {
	t.Helper()
	r := Rec{Tree: BuildTree(t, s)}
	r.Leader = mustUser(t, s, "leader1", r.City.ID)
	r.Leader2 = mustUser(t, s, "leader2", r.City.ID)
	for _, h := range []struct {
		p    *org.Hall
		unit int64
		kind org.HallKind
		name string
	}{{&r.Studio, r.City.ID, org.HallStudio, "市领导接访室"}, {&r.H1, r.D1.ID, org.HallReception, "上城区接访大厅"}, {&r.H2, r.D2.ID, org.HallReception, "拱墅区接访大厅"}} {
		*h.p = org.Hall{UnitID: h.unit, Kind: h.kind, Name: h.name}
		if err := s.CreateHall(ctx, h.p); err != nil {
			t.Fatal(err)
		}
	}
	return r
}

func shAt(s string) time.Time {
	t, err := time.ParseInLocation("2006-01-02 15:04", s, calendar.Shanghai)
	if err != nil {
		panic(err)
	}
	return t
}

func recSession(r Rec, title, start string, minutes int) reception.ReceptionSession {
	st := shAt(start)
	return reception.ReceptionSession{UnitID: r.City.ID, Title: title, LeaderID: r.Leader.ID, LeaderName: "张三", LeaderPost: "副市长",
		StudioID: r.Studio.ID, Start: st, End: st.Add(time.Duration(minutes) * time.Minute), HallIDs: []int64{r.H1.ID},
		LeadDays: 3, MinutesPerPetitioner: 15, MaxPetitioners: 4, Portfolio: "住房、社保"}
}

func testHolidays(t *testing.T, s scheduler.Store) {
	hs, err := s.ListHolidays(ctx, "2026-10-01", "2026-10-10")
	if err != nil {
		t.Fatal(err)
	}
	// The seed: 10-01 … 10-07 off, 10-10 a make-up workday.
	if len(hs) != 8 || hs[0].Name != "国庆节" || hs[7].Kind != calendar.DayWorkday {
		t.Fatalf("seeded October: %+v", hs)
	}
	if err := s.PutHoliday(ctx, calendar.Holiday{Date: "2026-10-10", Kind: calendar.DayOff, Name: "更正"}); err != nil {
		t.Fatal(err)
	}
	hs, _ = s.ListHolidays(ctx, "2026-10-10", "2026-10-10")
	if len(hs) != 1 || hs[0].Kind != calendar.DayOff || hs[0].Name != "更正" {
		t.Errorf("replace: %+v", hs)
	}
	wantErr(t, s.PutHoliday(ctx, calendar.Holiday{Date: "10/10", Kind: calendar.DayOff}), org.ErrInvalid, "bad date")
}

func testScheduleMaterialize(t *testing.T, s scheduler.Store) {
	r := BuildReception(t, s)
	rs := reception.ReceptionSchedule{UnitID: r.City.ID, LeaderID: r.Leader.ID, LeaderName: "张三", LeaderPost: "副市长",
		StudioID: r.Studio.ID, RRule: "FREQ=WEEKLY;BYDAY=TH", ExDates: []string{"2026-10-15"}, DTStart: shAt("2026-09-24 09:00"),
		Minutes: 120, HallIDs: []int64{r.H1.ID, r.H2.ID}, UnitIDs: []int64{r.Dept.ID}, LeadDays: 3, MinutesPerPetitioner: 20,
		MaxPetitioners: 6, Portfolio: "住房保障、劳动社保", Holidays: reception.HolidaySkip}
	bad := rs
	bad.StudioID = r.H1.ID // a reception hall is not a studio
	wantErr(t, s.CreateReceptionSchedule(ctx, &bad), org.ErrInvalid, "hall as studio")
	if err := s.CreateReceptionSchedule(ctx, &rs); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetReceptionSchedule(ctx, rs.ID)
	if err != nil || got.RRule != rs.RRule || len(got.HallIDs) != 2 || got.ExDates[0] != "2026-10-15" || !got.DTStart.Equal(rs.DTStart) || got.Holidays != reception.HolidaySkip {
		t.Fatalf("get schedule: %+v %v", got, err)
	}
	// Sep 24, Oct 1 (国庆, skipped), Oct 8, Oct 15 (exdate), Oct 22, Oct 29.
	res, err := reception.Materialize(ctx, s, rs.ID, shAt("2026-09-01 00:00"), shAt("2026-10-31 00:00"))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Created) != 4 || len(res.Skipped) != 1 || res.Skipped[0].Holiday != "国庆节" || len(res.Conflicts) != 0 {
		t.Fatalf("materialize: %+v", res)
	}
	again, err := reception.Materialize(ctx, s, rs.ID, shAt("2026-09-01 00:00"), shAt("2026-10-31 00:00"))
	if err != nil || len(again.Created) != 0 || again.Existing != 4 {
		t.Fatalf("materialize twice: %+v %v", again, err)
	}
	list, err := s.ListReceptionSessions(ctx, reception.SessionQuery{UnderPath: r.City.Path, HallID: r.H2.ID})
	if err != nil || len(list) != 4 || !list[0].Start.Equal(shAt("2026-09-24 09:00")) || list[3].Portfolio != rs.Portfolio {
		t.Fatalf("list by hall: %+v %v", list, err)
	}
	// A session of the district's own subtree is not in the other district's.
	if l, _ := s.ListReceptionSessions(ctx, reception.SessionQuery{UnderPath: r.D2.Path}); len(l) != 0 {
		t.Errorf("district 2 sees the city's sessions: %d", len(l))
	}
	// A single cancellation frees the resources; materialising again does not recreate it.
	if err := s.CancelReceptionSession(ctx, list[1].ID, "领导公出"); err != nil {
		t.Fatal(err)
	}
	wantErr(t, s.CancelReceptionSession(ctx, list[1].ID, "again"), org.ErrNotFound, "cancel twice")
	if l, _ := s.ListReceptionSessions(ctx, reception.SessionQuery{}); len(l) != 3 {
		t.Errorf("after cancel: %d scheduled", len(l))
	}
	if again, _ := reception.Materialize(ctx, s, rs.ID, shAt("2026-09-01 00:00"), shAt("2026-10-31 00:00")); len(again.Created) != 0 {
		t.Errorf("cancelled occurrence recreated: %+v", again.Created)
	}
	adhoc := recSession(r, "临时会商", list[1].Start.In(calendar.Shanghai).Format("2006-01-02 15:04"), 60)
	if err := s.CreateReceptionSession(ctx, &adhoc); err != nil {
		t.Errorf("the cancelled slot should be free: %v", err)
	}
}

func testSessionConflicts(t *testing.T, s scheduler.Store) {
	r := BuildReception(t, s)
	first := recSession(r, "周三接访", "2026-12-02 09:00", 120)
	first.UnitIDs = []int64{r.Dept.ID}
	if err := s.CreateReceptionSession(ctx, &first); err != nil {
		t.Fatal(err)
	}
	other := func(mod func(*reception.ReceptionSession)) reception.ReceptionSession {
		x := reception.ReceptionSession{UnitID: r.City.ID, Title: "另一场", Start: shAt("2026-12-02 10:30"), End: shAt("2026-12-02 11:30"),
			LeadDays: 1, MinutesPerPetitioner: 10, MaxPetitioners: 3}
		mod(&x)
		return x
	}
	cases := []struct {
		name     string
		s        reception.ReceptionSession
		resource string
	}{
		{"same leader", other(func(x *reception.ReceptionSession) {
			x.LeaderID, x.LeaderName = r.Leader.ID, "张三"
			x.HallIDs = []int64{r.H2.ID}
		}), "leader"},
		{"same studio", other(func(x *reception.ReceptionSession) {
			x.LeaderID, x.LeaderName, x.StudioID = r.Leader2.ID, "李四", r.Studio.ID
		}), "studio"},
		{"same hall", other(func(x *reception.ReceptionSession) { x.HallIDs = []int64{r.H2.ID, r.H1.ID} }), "hall"},
		{"same unit", other(func(x *reception.ReceptionSession) { x.HallIDs = []int64{r.H2.ID}; x.UnitIDs = []int64{r.Dept.ID} }), "unit"},
	}
	for _, c := range cases {
		err := s.CreateReceptionSession(ctx, &c.s)
		var ce *reception.ConflictError
		if !errors.As(err, &ce) || !errors.Is(err, org.ErrConflict) || ce.Resource != c.resource || ce.Other.ID != first.ID {
			t.Errorf("%s: got %v, want a conflict on %s naming session %d", c.name, err, c.resource, first.ID)
			continue
		}
		if !strings.Contains(err.Error(), fmt.Sprint(first.ID)) || !strings.Contains(err.Error(), "周三接访") {
			t.Errorf("%s: message does not name the other session: %s", c.name, err)
		}
	}
	// Back to back is no overlap; another leader in another hall at the same time is fine.
	next := recSession(r, "接续", "2026-12-02 11:00", 60)
	if err := s.CreateReceptionSession(ctx, &next); err != nil {
		t.Errorf("adjacent: %v", err)
	}
	// Changes: a move onto the first session is refused naming it; the session itself never
	// clashes with itself; a move away frees the old slot.
	moved := next
	moved.Start, moved.End = shAt("2026-12-02 10:00"), shAt("2026-12-02 11:00")
	var ce *reception.ConflictError
	if err := s.UpdateReceptionSession(ctx, moved); !errors.As(err, &ce) || ce.Other.ID != first.ID {
		t.Errorf("move onto the first session: %v", err)
	}
	if err := s.UpdateReceptionSession(ctx, first); err != nil {
		t.Errorf("unchanged session: %v", err)
	}
	moved.Start, moved.End = shAt("2026-12-02 13:00"), shAt("2026-12-02 14:00")
	if err := s.UpdateReceptionSession(ctx, moved); err != nil {
		t.Errorf("move away: %v", err)
	}
	if g, _ := s.GetReceptionSession(ctx, next.ID); !g.Start.Equal(moved.Start) {
		t.Errorf("after the move: %+v", g)
	}
	refill := recSession(r, "补位", "2026-12-02 11:00", 60)
	if err := s.CreateReceptionSession(ctx, &refill); err != nil {
		t.Errorf("the freed slot: %v", err)
	}
	par := other(func(x *reception.ReceptionSession) {
		x.LeaderID, x.LeaderName, x.HallIDs = r.Leader2.ID, "李四", []int64{r.H2.ID}
	})
	if err := s.CreateReceptionSession(ctx, &par); err != nil {
		t.Errorf("parallel: %v", err)
	}
	// A twelve-hour session that started long before still clashes (the check's range bound).
	long := other(func(x *reception.ReceptionSession) {
		x.HallIDs, x.Start, x.End = []int64{r.H2.ID}, shAt("2026-12-05 00:00"), shAt("2026-12-05 12:00")
	})
	if err := s.CreateReceptionSession(ctx, &long); err != nil {
		t.Fatal(err)
	}
	late := other(func(x *reception.ReceptionSession) {
		x.HallIDs, x.Start, x.End = []int64{r.H2.ID}, shAt("2026-12-05 11:30"), shAt("2026-12-05 12:30")
	})
	if err := s.CreateReceptionSession(ctx, &late); !errors.Is(err, org.ErrConflict) {
		t.Errorf("inside a long session: %v", err)
	}
	late.Start, late.End = shAt("2026-12-05 12:00"), shAt("2026-12-05 13:00")
	if err := s.CreateReceptionSession(ctx, &late); err != nil {
		t.Errorf("right after a long session: %v", err)
	}
	bad := recSession(r, "x", "2026-12-03 09:00", 60)
	bad.End = bad.Start
	wantErr(t, s.CreateReceptionSession(ctx, &bad), org.ErrInvalid, "end before start")
	bad = recSession(r, "x", "2026-12-03 09:00", 60)
	bad.HallIDs = []int64{99999}
	wantErr(t, s.CreateReceptionSession(ctx, &bad), org.ErrInvalid, "missing hall")
}

// testSessionConflictsConcurrent books from many goroutines at once: for each leader, every
// writer wants the same slot, so exactly one per leader succeeds, and every loser is a
// ConflictError (never a driver error, never a double booking).
func testSessionConflictsConcurrent(t *testing.T, s scheduler.Store) {
	r := BuildReception(t, s)
	leaders := []org.User{r.Leader, r.Leader2}
	const per = 8
	var wg sync.WaitGroup
	errs := make([]error, len(leaders)*per)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l := leaders[i%len(leaders)]
			x := reception.ReceptionSession{UnitID: r.City.ID, Title: fmt.Sprintf("并发 %d", i), LeaderID: l.ID, LeaderName: l.DisplayName,
				Start: shAt("2026-12-09 09:00").Add(time.Duration(i%per) * time.Minute), LeadDays: 1, MinutesPerPetitioner: 10, MaxPetitioners: 3}
			x.End = x.Start.Add(time.Hour)
			errs[i] = s.CreateReceptionSession(ctx, &x)
		}()
	}
	wg.Wait()
	ok := 0
	for i, err := range errs {
		var ce *reception.ConflictError
		switch {
		case err == nil:
			ok++
		case !errors.As(err, &ce):
			t.Errorf("writer %d: %v (want nil or a ConflictError)", i, err)
		}
	}
	if ok != len(leaders) {
		t.Errorf("%d bookings succeeded, want exactly %d (one per leader)", ok, len(leaders))
	}
	for _, l := range leaders {
		if got, _ := s.ListReceptionSessions(ctx, reception.SessionQuery{LeaderID: l.ID}); len(got) != 1 {
			t.Errorf("leader %d has %d sessions", l.ID, len(got))
		}
	}

	// Several shared resources named in different orders: the locks are taken in one order, so
	// writers never deadlock, and the two halls let only one of them through.
	errs = make([]error, 8)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			halls := []int64{r.H1.ID, r.H2.ID}
			if i%2 == 1 {
				halls = []int64{r.H2.ID, r.H1.ID}
			}
			l := leaders[i%len(leaders)]
			x := reception.ReceptionSession{UnitID: r.City.ID, Title: fmt.Sprintf("多资源 %d", i), LeaderID: l.ID, LeaderName: l.DisplayName,
				HallIDs: halls, Start: shAt("2026-12-10 14:00"), End: shAt("2026-12-10 15:00"), LeadDays: 1, MinutesPerPetitioner: 10, MaxPetitioners: 3}
			errs[i] = s.CreateReceptionSession(ctx, &x)
		}()
	}
	wg.Wait()
	ok = 0
	for i, err := range errs {
		var ce *reception.ConflictError
		switch {
		case err == nil:
			ok++
		case !errors.As(err, &ce):
			t.Errorf("multi-resource writer %d: %v (want nil or a ConflictError)", i, err)
		}
	}
	if ok != 1 {
		t.Errorf("%d multi-resource bookings succeeded, want 1", ok)
	}
}

// IDNumber makes a valid 18-character ID number from 17 digits.
func IDNumber(d17 string) string {
	w := []int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}
	sum := 0
	for i := 0; i < 17; i++ {
		sum += int(d17[i]-'0') * w[i]
	}
	return d17 + string("10X98765432"[sum%11])
}

func mkAppt(sess reception.ReceptionSession, hall int64, name, id string) reception.Appointment {
	return reception.Appointment{SessionID: sess.ID, HallID: hall, Name: name, IDNumber: id, Phone: "13800138000",
		Matter: "拖欠工资", People: 1, BookedBy: 1}
}

func testAppointments(t *testing.T, s scheduler.Store) {
	r := BuildReception(t, s)
	sess := recSession(r, "周三接访", "2026-12-16 09:00", 120)
	sess.HallIDs = []int64{r.H1.ID, r.H2.ID}
	sess.MaxPetitioners = 3
	if err := s.CreateReceptionSession(ctx, &sess); err != nil {
		t.Fatal(err)
	}
	early := shAt("2026-12-10 10:00") // before the three-day lead time closes (12-13 09:00)
	id1 := IDNumber("33010219800101123")
	a1 := mkAppt(sess, r.H1.ID, "王五", strings.ToLower(id1))
	a1.People, a1.Representatives = 30, []string{"王五", "赵六"}
	if err := s.CreateAppointment(ctx, &a1, early); err != nil {
		t.Fatal(err)
	}
	if a1.QueueNo != 1 || a1.Position != 1 || a1.Status != reception.ApptBooked || a1.IDNumber != id1 {
		t.Errorf("first booking: %+v", a1)
	}
	a2 := mkAppt(sess, r.H2.ID, "钱七", IDNumber("33010519900202234"))
	a3 := mkAppt(sess, r.H1.ID, "孙八", IDNumber("33010519900303345"))
	for _, a := range []*reception.Appointment{&a2, &a3} {
		if err := s.CreateAppointment(ctx, a, early); err != nil {
			t.Fatal(err)
		}
	}
	if a2.QueueNo != 1 || a3.QueueNo != 2 || a3.Position != 3 {
		t.Errorf("queue numbers per hall: a2 %d a3 %d pos %d", a2.QueueNo, a3.QueueNo, a3.Position)
	}
	// Full: refused without a reason, accepted with one.
	a4 := mkAppt(sess, r.H2.ID, "周九", IDNumber("33010519900404456"))
	err := s.CreateAppointment(ctx, &a4, early)
	var fe *org.FieldError
	if !errors.As(err, &fe) || fe.Field != "override_reason" {
		t.Errorf("over capacity: %v", err)
	}
	a4.OverrideReason = "高龄老人，经带班领导同意"
	if err := s.CreateAppointment(ctx, &a4, early); err != nil {
		t.Errorf("override: %v", err)
	}
	// Lead time closed: refused; a walk-in on the day is not a booking and goes after.
	late := mkAppt(sess, r.H1.ID, "吴十", IDNumber("33010519900505567"))
	late.OverrideReason = ""
	if err := s.CreateAppointment(ctx, &late, shAt("2026-12-14 09:00")); !errors.As(err, &fe) || fe.Field != "override_reason" {
		t.Errorf("after lead time: %v", err)
	}
	// Once the session is over nothing is booked, not even with a reason.
	over := late
	over.WalkIn, over.OverrideReason = true, "补录"
	if err := s.CreateAppointment(ctx, &over, shAt("2026-12-16 11:00")); !errors.As(err, &fe) || fe.Field != "session_id" {
		t.Errorf("after the end: %v", err)
	}
	// Cancel one to make room, then the walk-in.
	if err := s.SetAppointmentStatus(ctx, a4.ID, reception.ApptCancelled); err != nil {
		t.Fatal(err)
	}
	// Capacity holds for walk-ins too: full again, so the operator states a reason.
	walk := late
	walk.WalkIn = true
	if err := s.CreateAppointment(ctx, &walk, shAt("2026-12-16 08:30")); !errors.As(err, &fe) || fe.Field != "override_reason" {
		t.Errorf("walk-in when full: %v", err)
	}
	walk.OverrideReason = "当日现场来访，经同意加号"
	if err := s.CreateAppointment(ctx, &walk, shAt("2026-12-16 08:30")); err != nil {
		t.Fatalf("walk-in: %v", err)
	}
	if walk.QueueNo != 3 || walk.Position != 1 {
		t.Errorf("walk-in numbers: %+v", walk)
	}
	// Reorder: a3 to the front of the booked group.
	if err := s.MoveAppointment(ctx, a3.ID, 0); err != nil {
		t.Fatal(err)
	}
	q, err := s.ListAppointments(ctx, sess.ID)
	if err != nil {
		t.Fatal(err)
	}
	var order []string
	for _, a := range q {
		order = append(order, a.Name)
	}
	if strings.Join(order, ",") != "孙八,王五,钱七,周九,吴十" {
		t.Errorf("queue order: %v", order)
	}
	if q[1].People != 30 || len(q[1].Representatives) != 2 {
		t.Errorf("collective visit: %+v", q[1])
	}
	if err := s.SetAppointmentStatus(ctx, a2.ID, reception.ApptNoShow); err != nil {
		t.Fatal(err)
	}
	if g, _ := s.GetAppointment(ctx, a2.ID); g.Status != reception.ApptNoShow {
		t.Errorf("no-show: %+v", g)
	}
	wantErr(t, s.SetAppointmentStatus(ctx, a2.ID, "gone"), org.ErrInvalid, "bad status")
	// 同人同事: the same ID number finds the earlier booking.
	again := mkAppt(sess, r.H1.ID, "王五", id1)
	prior, err := s.AppointmentsByIDNumber(ctx, again.IDNumber, 10)
	if err != nil || len(prior) != 1 || prior[0].ID != a1.ID {
		t.Errorf("same person: %+v %v", prior, err)
	}
	// Validation.
	bad := mkAppt(sess, r.H1.ID, "x", "330102198001011230")
	if id1 == bad.IDNumber {
		bad.IDNumber = "330102198001011231"
	}
	wantErr(t, s.CreateAppointment(ctx, &bad, early), org.ErrInvalid, "bad check digit")
	bad = mkAppt(sess, r.Studio.ID+1000, "x", id1)
	wantErr(t, s.CreateAppointment(ctx, &bad, early), org.ErrInvalid, "hall not on roster")
	bad = mkAppt(sess, r.H1.ID, "x", id1)
	bad.Representatives = []string{"a", "b", "c", "d", "e", "f"}
	bad.People = 10
	wantErr(t, s.CreateAppointment(ctx, &bad, early), org.ErrInvalid, "six representatives")
}

// testHearings runs an appointment through a reception call's hearing: started with its case,
// ended with an outcome, and refused out of order.
func testHearings(t *testing.T, s scheduler.Store) {
	r := BuildReception(t, s)
	sess := recSession(r, "周四接访", "2026-12-17 09:00", 120)
	sess.HallIDs = []int64{r.H1.ID}
	if err := s.CreateReceptionSession(ctx, &sess); err != nil {
		t.Fatal(err)
	}
	a := mkAppt(sess, r.H1.ID, "王五", IDNumber("33010219800101123"))
	b := mkAppt(sess, r.H1.ID, "钱七", IDNumber("33010519900202234"))
	for _, x := range []*reception.Appointment{&a, &b} {
		if err := s.CreateAppointment(ctx, x, shAt("2026-12-10 10:00")); err != nil {
			t.Fatal(err)
		}
	}
	wantErr(t, s.EndHearing(ctx, a.ID, reception.OutcomeAnswered, "", shAt("2026-12-17 09:05")), org.ErrConflict, "end before start")
	wantErr(t, s.StartHearing(ctx, a.ID, 0, shAt("2026-12-17 09:00")), org.ErrInvalid, "start without a case")
	start := shAt("2026-12-17 09:01")
	if err := s.StartHearing(ctx, a.ID, 77, start); err != nil {
		t.Fatal(err)
	}
	wantErr(t, s.EndHearing(ctx, a.ID, "shrugged", "", start), org.ErrInvalid, "bad outcome")
	end := shAt("2026-12-17 09:12")
	if err := s.EndHearing(ctx, a.ID, reception.OutcomeAssigned, "交办区人社局", end); err != nil {
		t.Fatal(err)
	}
	g, err := s.GetAppointment(ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if g.CaseID != 77 || !g.HeardAt.Equal(start) || !g.EndedAt.Equal(end) || g.Outcome != reception.OutcomeAssigned ||
		g.OutcomeNote != "交办区人社局" || g.Status != reception.ApptDone {
		t.Errorf("heard appointment: %+v", g)
	}
	wantErr(t, s.EndHearing(ctx, a.ID, reception.OutcomeAnswered, "", end), org.ErrConflict, "end twice")
	wantErr(t, s.StartHearing(ctx, a.ID, 77, end), org.ErrConflict, "start a done hearing")
	if err := s.SetAppointmentStatus(ctx, b.ID, reception.ApptNoShow); err != nil {
		t.Fatal(err)
	}
	wantErr(t, s.StartHearing(ctx, b.ID, 78, end), org.ErrConflict, "start a no-show")
	wantErr(t, s.StartHearing(ctx, 999999, 78, end), org.ErrNotFound, "start a missing appointment")
}

// testAppointmentsConcurrent books more petitioners than capacity at once: exactly capacity
// succeed and queue numbers are unique.
func testAppointmentsConcurrent(t *testing.T, s scheduler.Store) {
	r := BuildReception(t, s)
	sess := recSession(r, "并发预约", "2026-12-23 09:00", 120)
	sess.HallIDs = []int64{r.H1.ID}
	sess.MaxPetitioners = 5
	if err := s.CreateReceptionSession(ctx, &sess); err != nil {
		t.Fatal(err)
	}
	const n = 12
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a := mkAppt(sess, r.H1.ID, "并发", IDNumber(fmt.Sprintf("330102199001%05d", i)))
			errs[i] = s.CreateAppointment(ctx, &a, shAt("2026-12-01 09:00"))
		}()
	}
	wg.Wait()
	ok := 0
	for i, err := range errs {
		var fe *org.FieldError
		switch {
		case err == nil:
			ok++
		case !errors.As(err, &fe) || fe.Field != "override_reason":
			t.Errorf("booking %d: %v", i, err)
		}
	}
	q, _ := s.ListAppointments(ctx, sess.ID)
	if ok != sess.MaxPetitioners || len(q) != ok {
		t.Errorf("%d succeeded, %d stored; want %d", ok, len(q), sess.MaxPetitioners)
	}
	seen := map[int]bool{}
	for _, a := range q {
		if seen[a.QueueNo] {
			t.Errorf("queue number %d twice", a.QueueNo)
		}
		seen[a.QueueNo] = true
	}
}

// testSessionsInvolving: a subtree finds the sessions it owns and those with one of its units,
// halls or studios on the roster, and no others.
func testSessionsInvolving(t *testing.T, s scheduler.Store) {
	r := BuildReception(t, s)
	// A studio in 上城区 and one in 拱墅区: a studio belongs to its owner's area.
	studio1 := org.Hall{UnitID: r.D1.ID, Kind: org.HallStudio, Name: "上城区领导接访室"}
	studio2 := org.Hall{UnitID: r.D2.ID, Kind: org.HallStudio, Name: "拱墅区领导接访室"}
	for _, h := range []*org.Hall{&studio1, &studio2} {
		if err := s.CreateHall(ctx, h); err != nil {
			t.Fatal(err)
		}
	}
	// The city's reception: its studio, hall 1 (上城区) and the district's 人社局 on the roster.
	city := recSession(r, "市领导接访", "2026-12-07 09:00", 120)
	city.UnitIDs = []int64{r.Dept.ID}
	// 拱墅区's own session in its studio, with its own hall.
	d2 := recSession(r, "区领导接访", "2026-12-08 09:00", 120)
	d2.UnitID, d2.LeaderID, d2.StudioID, d2.HallIDs = r.D2.ID, r.Leader2.ID, studio2.ID, []int64{r.H2.ID}
	// A cancelled one with the 人社局 on it.
	gone := recSession(r, "取消的接访", "2026-12-09 09:00", 60)
	gone.UnitIDs = []int64{r.Dept.ID}
	// The city's leader in the 上城区 studio with 拱墅区's hall: only the studio ties it to 上城区.
	visit := recSession(r, "市领导在区接访", "2026-12-10 09:00", 60)
	visit.StudioID, visit.HallIDs = studio1.ID, []int64{r.H2.ID}
	for _, x := range []*reception.ReceptionSession{&city, &d2, &gone, &visit} {
		if err := s.CreateReceptionSession(ctx, x); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.CancelReceptionSession(ctx, gone.ID, "领导公出"); err != nil {
		t.Fatal(err)
	}
	titles := func(q reception.SessionQuery) string {
		t.Helper()
		l, err := s.ListReceptionSessions(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, x := range l {
			out = append(out, x.Title)
		}
		return strings.Join(out, ",")
	}
	for _, c := range []struct {
		name, path, want string
	}{
		{"the unit on the roster", r.Dept.Path, "市领导接访"},
		{"a district: its hall, its unit, its studio", r.D1.Path, "市领导接访,市领导在区接访"},
		{"the other district: its own session, its hall", r.D2.Path, "区领导接访,市领导在区接访"},
		{"a township with nothing on a roster", r.T1.Path, ""},
		{"the city: everything it owns or holds", r.City.Path, "市领导接访,区领导接访,市领导在区接访"},
	} {
		if got := titles(reception.SessionQuery{Involving: c.path}); got != c.want {
			t.Errorf("%s (%s): got %q, want %q", c.name, c.path, got, c.want)
		}
	}
	if got := titles(reception.SessionQuery{Involving: r.Dept.Path, IncludeCancelled: true}); got != "市领导接访,取消的接访" {
		t.Errorf("the unit's sessions with the cancelled: %q", got)
	}
	// The other filters still hold.
	if got := titles(reception.SessionQuery{Involving: r.Dept.Path, From: shAt("2026-12-08 00:00")}); got != "" {
		t.Errorf("the unit's sessions from the next day: %q", got)
	}
}

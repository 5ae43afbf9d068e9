package storetest

import (
	"errors"
	"slices"
	"testing"

	"sanji/scheduler"
	"sanji/scheduler/org"
	"sanji/scheduler/reception"
)

// wantField fails unless err is a field error on field.
func wantField(t *testing.T, err error, field, what string) {
	t.Helper()
	var fe *org.FieldError
	if !errors.As(err, &fe) || fe.Field != field {
		t.Fatalf("%s: got %v, want a field error on %s", what, err, field)
	}
}

// testBackfill: the record of a reception that took place (补录) is stored and read back as
// such, and holds nothing: bookings of the same leader, studio and hall at that time go through,
// before and after the record is corrected.
func testBackfill(t *testing.T, s scheduler.Store) {
	r := BuildReception(t, s)
	rec := recSession(r, "补录：副市长接访", "2026-03-02 09:00", 120)
	rec.Backfill = true
	if err := s.CreateReceptionSession(ctx, &rec); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetReceptionSession(ctx, rec.ID)
	if err != nil || !got.Backfill {
		t.Fatalf("backfilled record read back: %+v %v", got, err)
	}
	// A correction keeps it a record, whatever the caller passes.
	got.Title, got.Backfill = "补录：副市长接访（更正）", false
	if err := s.UpdateReceptionSession(ctx, got); err != nil {
		t.Fatal(err)
	}
	if got, _ = s.GetReceptionSession(ctx, rec.ID); !got.Backfill || got.Title != "补录：副市长接访（更正）" {
		t.Errorf("after a correction: %+v", got)
	}
	booked := recSession(r, "同时段接访", "2026-03-02 10:00", 60)
	if err := s.CreateReceptionSession(ctx, &booked); err != nil {
		t.Fatalf("a booking clashes with a backfilled record: %v", err)
	}
	if booked.Backfill {
		t.Error("an ordinary session came back backfilled")
	}
	list, err := s.ListReceptionSessions(ctx, reception.SessionQuery{From: shAt("2026-03-02 00:00"), To: shAt("2026-03-03 00:00")})
	if err != nil || len(list) != 2 || !list[0].Backfill || list[1].Backfill {
		t.Errorf("listed: %+v %v", list, err)
	}
}

// testHallsOutsideSubtree: a district's session cannot name another district's hall (nor a
// studio outside it), directly or through a schedule; invited, that hall stays off the roster
// and its time free until its unit accepts.
func testHallsOutsideSubtree(t *testing.T, s scheduler.Store) {
	r := BuildReception(t, s) // H1 in D1, H2 in D2, the studio at the city
	leader := mustUser(t, s, "district-leader", r.D1.ID)
	studio := org.Hall{UnitID: r.D1.ID, Kind: org.HallStudio, Name: "上城区领导接访室"}
	if err := s.CreateHall(ctx, &studio); err != nil {
		t.Fatal(err)
	}
	x := reception.ReceptionSession{UnitID: r.D1.ID, Title: "上城区接访", LeaderID: leader.ID, LeaderName: "王五", StudioID: studio.ID,
		Start: shAt("2026-11-04 14:00"), End: shAt("2026-11-04 16:00"), HallIDs: []int64{r.H1.ID, r.H2.ID},
		LeadDays: 1, MinutesPerPetitioner: 20, MaxPetitioners: 3}
	wantField(t, s.CreateReceptionSession(ctx, &x), "hall_ids", "another district's hall booked")
	x.HallIDs = []int64{r.H1.ID}
	x.StudioID = r.Studio.ID
	wantField(t, s.CreateReceptionSession(ctx, &x), "studio_id", "the city's studio booked by a district")
	rs := reception.ReceptionSchedule{UnitID: r.D1.ID, LeaderID: leader.ID, LeaderName: "王五", LeaderPost: "副区长", StudioID: studio.ID,
		RRule: "FREQ=WEEKLY;BYDAY=WE", DTStart: shAt("2026-11-04 09:00"), Minutes: 60, HallIDs: []int64{r.H2.ID}, LeadDays: 1,
		MinutesPerPetitioner: 20, MaxPetitioners: 3, Holidays: reception.HolidaySkip}
	wantField(t, s.CreateReceptionSchedule(ctx, &rs), "hall_ids", "another district's hall in a schedule")

	x.StudioID = studio.ID
	if err := s.CreateReceptionSession(ctx, &x); err != nil {
		t.Fatal(err)
	}
	added := x
	added.HallIDs = []int64{r.H1.ID, r.H2.ID}
	wantField(t, s.UpdateReceptionSession(ctx, added), "hall_ids", "another district's hall added")

	now := shAt("2026-11-01 10:00")
	invs, err := s.InviteToSession(ctx, x.ID, nil, []int64{r.H2.ID}, "请派员参加", 7, now)
	if err != nil || len(invs) != 1 || invs[0].Status != reception.InvInvited || invs[0].UnitID != r.D2.ID {
		t.Fatalf("invite the other district's hall: %+v %v", invs, err)
	}
	onRoster := func() bool {
		t.Helper()
		got, err := s.GetReceptionSession(ctx, x.ID)
		if err != nil {
			t.Fatal(err)
		}
		return slices.Contains(got.HallIDs, r.H2.ID)
	}
	if onRoster() {
		t.Fatal("an invited hall of another district is on the roster before it accepted")
	}
	// Its time is not held: the city books it meanwhile.
	city := reception.ReceptionSession{UnitID: r.City.ID, Title: "市级接访", Start: shAt("2026-11-04 15:00"), End: shAt("2026-11-04 15:30"),
		HallIDs: []int64{r.H2.ID}, MinutesPerPetitioner: 10, MaxPetitioners: 3}
	if err := s.CreateReceptionSession(ctx, &city); err != nil {
		t.Fatalf("the invited hall's time is held: %v", err)
	}
	// Another change of the roster keeps the open invitation.
	if _, err := s.InviteToSession(ctx, x.ID, []int64{r.Dept.ID}, nil, "", 7, now); err != nil {
		t.Fatal(err)
	}
	if v, err := s.GetInvitation(ctx, invs[0].ID); err != nil || v.Status != reception.InvInvited {
		t.Fatalf("the hall's open invitation after a roster change: %+v %v", v, err)
	}
	// Accepting while the hall is busy is refused naming the other session; free, it joins.
	var ce *reception.ConflictError
	if _, err := s.AnswerInvitation(ctx, invs[0].ID, true, "", 9, now); !errors.As(err, &ce) || ce.Other.ID != city.ID {
		t.Fatalf("accept while busy: %v", err)
	}
	if v, _ := s.GetInvitation(ctx, invs[0].ID); v.Status != reception.InvInvited || onRoster() {
		t.Fatalf("a refused acceptance changed the invitation or the roster: %+v", v)
	}
	if err := s.CancelReceptionSession(ctx, city.ID, "改期"); err != nil {
		t.Fatal(err)
	}
	if v, err := s.AnswerInvitation(ctx, invs[0].ID, true, "", 9, now); err != nil || v.Status != reception.InvAccepted {
		t.Fatalf("accept: %+v %v", v, err)
	}
	if !onRoster() {
		t.Fatal("the accepted hall is not on the roster")
	}
	// Now it holds the time, and the session can still be changed with it on the roster.
	city2 := city
	city2.ID = 0
	if err := s.CreateReceptionSession(ctx, &city2); !errors.As(err, &ce) || ce.Other.ID != x.ID {
		t.Errorf("the accepted hall double-booked: %v", err)
	}
	got, _ := s.GetReceptionSession(ctx, x.ID)
	got.Title = "上城区接访（联合）"
	if err := s.UpdateReceptionSession(ctx, got); err != nil {
		t.Errorf("update with an accepted hall on the roster: %v", err)
	}
	// A decline takes it off; staff cannot put it back by hand.
	if _, err := s.AnswerInvitation(ctx, invs[0].ID, false, "大厅检修", 9, now); err != nil {
		t.Fatal(err)
	}
	got, _ = s.GetReceptionSession(ctx, x.ID)
	if slices.Contains(got.HallIDs, r.H2.ID) {
		t.Fatal("declined hall still on the roster")
	}
	got.HallIDs = append(got.HallIDs, r.H2.ID)
	wantField(t, s.UpdateReceptionSession(ctx, got), "hall_ids", "a declined hall put back by hand")
}

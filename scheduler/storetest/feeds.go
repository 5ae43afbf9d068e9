package storetest

import (
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"sanji/scheduler"
	"sanji/scheduler/org"
	"sanji/scheduler/reception"
)

// A decline that frees the roster, sessions' revisions, and calendar feeds.

// testInvitationDecline: a unit that declines leaves the roster (its time is free for another
// session) and its decline stays for staff; accepting again puts it back under the overlap
// check; a hall with petitioners booked stays on until they are moved.
func testInvitationDecline(t *testing.T, s scheduler.Store) {
	r := BuildReception(t, s)
	hearing := reception.ReceptionSession{UnitID: r.City.ID, Title: "拆迁积案联合接访", Start: shAt("2026-11-18 14:00"), End: shAt("2026-11-18 16:00"),
		HallIDs: []int64{r.H1.ID}, LeadDays: 1, MinutesPerPetitioner: 20, MaxPetitioners: 3}
	if err := s.CreateReceptionSession(ctx, &hearing); err != nil {
		t.Fatal(err)
	}
	now := shAt("2026-11-10 09:00")
	invs, err := s.InviteToSession(ctx, hearing.ID, []int64{r.D1.ID, r.Dept.ID}, []int64{r.H2.ID}, "请派员参加", 7, now)
	if err != nil || len(invs) != 3 {
		t.Fatalf("invite: %+v %v", invs, err)
	}
	dept, h2 := invs[1], invs[2]
	before, _ := s.GetReceptionSession(ctx, hearing.ID)

	// The department declines: off the roster, the decline kept with its reason.
	if _, err := s.AnswerInvitation(ctx, dept.ID, false, "当日有省厅督查", 9, now); err != nil {
		t.Fatal(err)
	}
	got, _ := s.GetReceptionSession(ctx, hearing.ID)
	if slices.Contains(got.UnitIDs, r.Dept.ID) || !slices.Contains(got.UnitIDs, r.D1.ID) {
		t.Fatalf("roster after the decline: %v", got.UnitIDs)
	}
	if got.Revision <= before.Revision {
		t.Errorf("a decline that changes the roster is a revision: %d → %d", before.Revision, got.Revision)
	}
	if v, err := s.GetInvitation(ctx, dept.ID); err != nil || v.Status != reception.InvDeclined || v.Reason != "当日有省厅督查" {
		t.Fatalf("the decline is kept: %+v %v", v, err)
	}
	// Its time is free: another session takes the department then.
	other := reception.ReceptionSession{UnitID: r.City.ID, Title: "部门另有会议", Start: shAt("2026-11-18 15:00"), End: shAt("2026-11-18 17:00"),
		UnitIDs: []int64{r.Dept.ID}, LeaderID: r.Leader2.ID, LeaderName: "李四", MinutesPerPetitioner: 10, MaxPetitioners: 3}
	if err := s.CreateReceptionSession(ctx, &other); err != nil {
		t.Fatalf("the declined unit's time is still booked: %v", err)
	}
	// A staff change of the roster keeps the decline on record.
	got.Title = "拆迁积案联合接访（改）"
	if err := s.UpdateReceptionSession(ctx, got); err != nil {
		t.Fatal(err)
	}
	if v, err := s.GetInvitation(ctx, dept.ID); err != nil || v.Status != reception.InvDeclined {
		t.Errorf("a roster update dropped the decline: %+v %v", v, err)
	}
	// Changing its mind to accept needs the time again: refused while the other session holds it,
	// and the decline stands.
	var ce *reception.ConflictError
	if _, err := s.AnswerInvitation(ctx, dept.ID, true, "", 9, now.Add(time.Hour)); !errors.As(err, &ce) || ce.Other.ID != other.ID {
		t.Fatalf("accepting into a clash: %v", err)
	}
	if v, _ := s.GetInvitation(ctx, dept.ID); v.Status != reception.InvDeclined {
		t.Errorf("a refused acceptance changed the answer: %+v", v)
	}
	if err := s.CancelReceptionSession(ctx, other.ID, "改期"); err != nil {
		t.Fatal(err)
	}
	if v, err := s.AnswerInvitation(ctx, dept.ID, true, "", 9, now.Add(time.Hour)); err != nil || v.Status != reception.InvAccepted {
		t.Fatalf("accept after all: %+v %v", v, err)
	}
	if got, _ := s.GetReceptionSession(ctx, hearing.ID); !slices.Contains(got.UnitIDs, r.Dept.ID) {
		t.Errorf("an acceptance puts the unit back on the roster: %v", got.UnitIDs)
	}

	// A hall with a petitioner booked stays on the roster when it declines; once the booking is
	// cancelled, a decline takes it off.
	a := mkAppt(hearing, r.H2.ID, "赵六", IDNumber("33010519800101001"))
	if err := s.CreateAppointment(ctx, &a, now); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AnswerInvitation(ctx, h2.ID, false, "大厅检修", 10, now); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.GetReceptionSession(ctx, hearing.ID); !slices.Contains(got.HallIDs, r.H2.ID) {
		t.Errorf("a hall with a booked petitioner left the roster: %v", got.HallIDs)
	}
	if err := s.SetAppointmentStatus(ctx, a.ID, reception.ApptCancelled); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AnswerInvitation(ctx, h2.ID, false, "大厅检修", 10, now.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.GetReceptionSession(ctx, hearing.ID); slices.Contains(got.HallIDs, r.H2.ID) || !slices.Contains(got.HallIDs, r.H1.ID) {
		t.Errorf("roster after the hall's decline: %v", got.HallIDs)
	}
	list, _ := s.ListInvitations(ctx, reception.InvitationQuery{SessionID: hearing.ID})
	if len(list) != 3 {
		t.Errorf("staff see every answer, declines included: %+v", list)
	}
}

// testSessionRevision: every change of a session counts, for the calendar feeds' SEQUENCE.
func testSessionRevision(t *testing.T, s scheduler.Store) {
	r := BuildReception(t, s)
	x := recSession(r, "周四接访", "2026-12-03 09:00", 120)
	if err := s.CreateReceptionSession(ctx, &x); err != nil {
		t.Fatal(err)
	}
	got, _ := s.GetReceptionSession(ctx, x.ID)
	if got.Revision != 0 || got.UpdatedAt.IsZero() || !got.UpdatedAt.Equal(got.CreatedAt) {
		t.Fatalf("new session: revision %d, updated %v, created %v", got.Revision, got.UpdatedAt, got.CreatedAt)
	}
	got.Start, got.End = got.Start.Add(time.Hour), got.End.Add(time.Hour)
	if err := s.UpdateReceptionSession(ctx, got); err != nil {
		t.Fatal(err)
	}
	moved, _ := s.GetReceptionSession(ctx, x.ID)
	if moved.Revision != 1 || moved.UpdatedAt.Before(got.UpdatedAt) {
		t.Errorf("moved: revision %d, updated %v", moved.Revision, moved.UpdatedAt)
	}
	if err := s.CancelReceptionSession(ctx, x.ID, "领导公出"); err != nil {
		t.Fatal(err)
	}
	cancelled, _ := s.GetReceptionSession(ctx, x.ID)
	if cancelled.Revision != 2 || cancelled.Status != reception.SessionCancelled {
		t.Errorf("cancelled: revision %d, status %s", cancelled.Revision, cancelled.Status)
	}
}

// testCalendarFeeds: feeds by token hash, by subtree, revoked once; and the sessions of a unit.
func testCalendarFeeds(t *testing.T, s scheduler.Store) {
	r := BuildReception(t, s)
	f := reception.CalendarFeed{Kind: reception.FeedHall, TargetID: r.H1.ID, UnitID: r.D1.ID, Name: "上城区接访大厅", TokenHash: "hash-1", CreatedBy: r.Leader.ID}
	bad := f
	bad.Kind = "room"
	wantErr(t, s.CreateCalendarFeed(ctx, &bad), org.ErrInvalid, "feed of an unknown kind")
	bad = f
	bad.Name = " "
	wantErr(t, s.CreateCalendarFeed(ctx, &bad), org.ErrInvalid, "feed without a name")
	if err := s.CreateCalendarFeed(ctx, &f); err != nil || f.ID == 0 || f.CreatedAt.IsZero() {
		t.Fatalf("create feed: %+v %v", f, err)
	}
	dup := f
	wantErr(t, s.CreateCalendarFeed(ctx, &dup), org.ErrConflict, "two feeds with one token")
	g := reception.CalendarFeed{Kind: reception.FeedUnit, TargetID: r.D2.ID, UnitID: r.D2.ID, Name: "拱墅区", TokenHash: "hash-2", CreatedBy: r.Leader.ID}
	if err := s.CreateCalendarFeed(ctx, &g); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetCalendarFeedByHash(ctx, "hash-1")
	if err != nil || got.ID != f.ID || got.Kind != reception.FeedHall || got.TargetID != r.H1.ID || got.UnitID != r.D1.ID || !got.RevokedAt.IsZero() {
		t.Fatalf("by hash: %+v %v", got, err)
	}
	_, err = s.GetCalendarFeedByHash(ctx, "hash-x")
	wantErr(t, err, org.ErrNotFound, "unknown token")
	if l, _ := s.ListCalendarFeeds(ctx, r.D1.Path); len(l) != 1 || l[0].ID != f.ID {
		t.Errorf("D1's feeds: %+v", l)
	}
	if l, _ := s.ListCalendarFeeds(ctx, r.City.Path); len(l) != 2 {
		t.Errorf("the city's feeds: %+v", l)
	}
	if err := s.RevokeCalendarFeed(ctx, f.ID, shAt("2026-11-01 10:00")); err != nil {
		t.Fatal(err)
	}
	wantErr(t, s.RevokeCalendarFeed(ctx, f.ID, shAt("2026-11-01 11:00")), org.ErrNotFound, "revoke twice")
	if got, _ := s.GetCalendarFeed(ctx, f.ID); !got.RevokedAt.Equal(shAt("2026-11-01 10:00")) {
		t.Errorf("revoked at %v", got.RevokedAt)
	}
	if l, _ := s.ListCalendarFeeds(ctx, r.City.Path); len(l) != 1 || l[0].ID != g.ID {
		t.Errorf("feeds after a revocation: %+v", l)
	}

	// A unit's sessions: those it owns and those it is on the roster of.
	own := reception.ReceptionSession{UnitID: r.D2.ID, Title: "区领导接访", Start: shAt("2026-11-20 09:00"), End: shAt("2026-11-20 10:00"),
		HallIDs: []int64{r.H2.ID}, MinutesPerPetitioner: 10, MaxPetitioners: 3}
	joined := reception.ReceptionSession{UnitID: r.City.ID, Title: "市级会商", Start: shAt("2026-11-21 09:00"), End: shAt("2026-11-21 10:00"),
		HallIDs: []int64{r.H1.ID}, UnitIDs: []int64{r.Dept.ID, r.D2.ID}, MinutesPerPetitioner: 10, MaxPetitioners: 3}
	apart := reception.ReceptionSession{UnitID: r.City.ID, Title: "无关会次", Start: shAt("2026-11-22 09:00"), End: shAt("2026-11-22 10:00"),
		HallIDs: []int64{r.H1.ID}, UnitIDs: []int64{r.Dept.ID}, MinutesPerPetitioner: 10, MaxPetitioners: 3}
	for _, x := range []*reception.ReceptionSession{&own, &joined, &apart} {
		if err := s.CreateReceptionSession(ctx, x); err != nil {
			t.Fatal(err)
		}
	}
	l, err := s.ListReceptionSessions(ctx, g.Query(shAt("2026-11-01 00:00")))
	if err != nil || len(l) != 2 || l[0].ID != own.ID || l[1].ID != joined.ID {
		t.Fatalf("the unit's sessions: %+v %v", l, err)
	}
}

// testDeclineConcurrent: declines and new invitations of one session at once; each changes the
// roster under the session's lock, so none is lost: the roster ends as the invited units less
// the declined ones.
func testDeclineConcurrent(t *testing.T, s scheduler.Store) {
	r := BuildReception(t, s)
	hearing := reception.ReceptionSession{UnitID: r.City.ID, Title: "并发答复", Start: shAt("2026-11-25 14:00"), End: shAt("2026-11-25 15:00"),
		HallIDs: []int64{r.H1.ID}, LeadDays: 1, MinutesPerPetitioner: 10, MaxPetitioners: 3}
	if err := s.CreateReceptionSession(ctx, &hearing); err != nil {
		t.Fatal(err)
	}
	now := shAt("2026-11-20 10:00")
	first, err := s.InviteToSession(ctx, hearing.ID, []int64{r.City.ID, r.D1.ID, r.D2.ID}, nil, "", 7, now)
	if err != nil {
		t.Fatal(err)
	}
	later := []int64{r.T1.ID, r.Dept.ID}
	var wg sync.WaitGroup
	errs := make(chan error, len(first)+len(later))
	for _, v := range first {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := s.AnswerInvitation(ctx, v.ID, false, "另有安排", 9, now)
			errs <- err
		}()
	}
	for _, u := range later {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := s.InviteToSession(ctx, hearing.ID, []int64{u}, nil, "", 7, now)
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	got, _ := s.GetReceptionSession(ctx, hearing.ID)
	slices.Sort(got.UnitIDs)
	want := slices.Sorted(slices.Values(later))
	if !slices.Equal(got.UnitIDs, want) {
		t.Errorf("roster %v, want %v", got.UnitIDs, want)
	}
}

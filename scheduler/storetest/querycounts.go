package storetest

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	"sanji/scheduler"
	"sanji/scheduler/calendar"
	"sanji/scheduler/casework"
	"sanji/scheduler/org"
	"sanji/scheduler/reception"
)

// CountingOpener returns a new empty store and the counter of the statements it sends (see
// CountStatements); it registers its own cleanup with t.
type CountingOpener func(t *testing.T) (scheduler.Store, *StatementCounter)

// MaxListStatements bounds the statements of one list read, whatever the length of the list:
// the children of a page of rows load with the page (IN (…)), never one query per row.
const MaxListStatements = 8

// RunQueryCounts checks that listing 100 cases, 100 sessions, a queue of 100 bookings and 20
// consultations takes a handful of statements each, and that the batched reads return what
// the single reads do.
func RunQueryCounts(t *testing.T, open CountingOpener) {
	for _, tc := range []struct {
		name string
		fn   func(t *testing.T, s scheduler.Store, n *StatementCounter)
	}{
		{"CaseList", testCaseListCount},
		{"SessionList", testSessionListCount},
		{"Queue", testQueueCount},
		{"ConsultationList", testConsultationListCount},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, n := open(t)
			tc.fn(t, s, n)
		})
	}
}

// counted runs read and fails the test if it took more than MaxListStatements statements.
func counted(t *testing.T, n *StatementCounter, what string, read func() error) {
	t.Helper()
	before := n.Count()
	if err := read(); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	got := n.Count() - before
	t.Logf("%s: %d statements", what, got)
	if got > MaxListStatements {
		t.Errorf("%s took %d statements, want at most %d (one query per row?)", what, got, MaxListStatements)
	}
}

func testCaseListCount(t *testing.T, s scheduler.Store, n *StatementCounter) {
	tr, cat := treeWithCategory(t, s)
	at := time.Date(2026, 3, 2, 9, 0, 0, 0, calendar.ChinaTZ)
	for i := range 100 {
		newCase(t, s, tr, cat.ID, fmt.Sprintf("事项 %d", i), at.Add(time.Duration(i)*time.Minute))
	}
	var cs []casework.Case
	counted(t, n, "ListCases of 100", func() (err error) {
		cs, err = s.ListCases(ctx, casework.CaseFilter{UnderPath: tr.Root.Path, Limit: 100})
		return err
	})
	if len(cs) != 100 {
		t.Fatalf("listed %d cases, want 100", len(cs))
	}
	for _, c := range cs {
		one := mustCase(t, s, c.ID)
		if !reflect.DeepEqual(c, one) {
			t.Fatalf("listed case differs from GetCase:\n list %+v\n  get %+v", c, one)
		}
		if len(c.Petitioners) != 2 || len(c.CoUnitIDs) != 1 {
			t.Fatalf("case %d: %d petitioners, co-units %v", c.ID, len(c.Petitioners), c.CoUnitIDs)
		}
	}
	var byID []casework.Case
	counted(t, n, "CasesByIDNumber of 100", func() (err error) {
		byID, err = s.CasesByIDNumber(ctx, "330102199001011234", 100)
		return err
	})
	if !reflect.DeepEqual(byID, cs) {
		t.Errorf("CasesByIDNumber differs from ListCases")
	}
	var none []casework.Case
	counted(t, n, "ListCases of none", func() (err error) {
		none, err = s.ListCases(ctx, casework.CaseFilter{UnderPath: tr.D2.Path})
		return err
	})
	if none != nil {
		t.Errorf("no cases: %#v, want nil", none)
	}
}

func testSessionListCount(t *testing.T, s scheduler.Store, n *StatementCounter) {
	r := BuildReception(t, s)
	first := shAt("2027-01-04 09:00")
	for i := range 100 {
		x := recSession(r, fmt.Sprintf("接访 %d", i), "2027-01-04 09:00", 60)
		x.Start = first.Add(time.Duration(i) * 2 * time.Hour)
		x.End = x.Start.Add(time.Hour)
		x.HallIDs = []int64{r.H1.ID, r.H2.ID}
		if err := s.CreateReceptionSession(ctx, &x); err != nil {
			t.Fatal(err)
		}
	}
	var ss []reception.ReceptionSession
	counted(t, n, "ListReceptionSessions of 100", func() (err error) {
		ss, err = s.ListReceptionSessions(ctx, reception.SessionQuery{UnderPath: r.Root.Path})
		return err
	})
	if len(ss) != 100 {
		t.Fatalf("listed %d sessions, want 100", len(ss))
	}
	for _, x := range ss {
		one, err := s.GetReceptionSession(ctx, x.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(x, one) {
			t.Fatalf("listed session differs from GetReceptionSession:\n list %+v\n  get %+v", x, one)
		}
	}
}

func testQueueCount(t *testing.T, s scheduler.Store, n *StatementCounter) {
	r := BuildReception(t, s)
	x := recSession(r, "集中接访", "2027-01-04 09:00", 120)
	x.HallIDs, x.MinutesPerPetitioner, x.MaxPetitioners = []int64{r.H1.ID, r.H2.ID}, 1, 100
	if err := s.CreateReceptionSession(ctx, &x); err != nil {
		t.Fatal(err)
	}
	early := shAt("2026-12-20 10:00")
	for i := range 100 {
		hall := r.H1.ID
		if i%2 == 1 {
			hall = r.H2.ID
		}
		a := mkAppt(x, hall, fmt.Sprintf("信访人%d", i), IDNumber(fmt.Sprintf("330102198001%05d", i)))
		a.WalkIn = i%5 == 0
		if i%7 == 0 {
			a.People, a.Representatives = 3, []string{"代表甲", "代表乙"}
		}
		if err := s.CreateAppointment(ctx, &a, early); err != nil {
			t.Fatal(err)
		}
	}
	var q []reception.Appointment
	counted(t, n, "ListAppointments (queue) of 100", func() (err error) {
		q, err = s.ListAppointments(ctx, x.ID)
		return err
	})
	if len(q) != 100 {
		t.Fatalf("queue of %d, want 100", len(q))
	}
	for _, a := range q {
		one, err := s.GetAppointment(ctx, a.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(a, one) {
			t.Fatalf("queued appointment differs from GetAppointment:\n list %+v\n  get %+v", a, one)
		}
	}
}

func testConsultationListCount(t *testing.T, s scheduler.Store, n *StatementCounter) {
	tr, cat := treeWithCategory(t, s)
	bj := func(d, h int) time.Time { return time.Date(2026, 3, d, h, 0, 0, 0, calendar.ChinaTZ) }
	c := newCase(t, s, tr, cat.ID, "会商", bj(2, 9))
	leader := member(t, s, "leader", org.RoleLeader, tr.D1)
	dept := member(t, s, "dept-handler", org.RoleCaseHandler, tr.Dept)
	for i := range 20 {
		k := casework.Consultation{CaseID: c.ID, CompetentUnitID: tr.Dept.ID, UnitIDs: []int64{tr.Dept.ID, tr.T1.ID, tr.D1.ID},
			Subject: fmt.Sprintf("会商 %d", i)}
		if err := s.CreateConsultation(ctx, &k, actorOf(leader, bj(3, 9).Add(time.Duration(i)*time.Minute))); err != nil {
			t.Fatal(err)
		}
		if i%2 == 0 {
			o := casework.Opinion{UnitID: tr.Dept.ID, Text: "由人社局牵头"}
			if err := s.AddConsultationOpinion(ctx, k.ID, o, actorOf(dept, bj(4, 9).Add(time.Duration(i)*time.Minute))); err != nil {
				t.Fatal(err)
			}
		}
	}
	var ks []casework.Consultation
	counted(t, n, "ListConsultations of 20", func() (err error) {
		ks, err = s.ListConsultations(ctx, c.ID)
		return err
	})
	if len(ks) != 20 {
		t.Fatalf("listed %d consultations, want 20", len(ks))
	}
	for i, k := range ks {
		one, err := s.GetConsultation(ctx, k.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(k, one) {
			t.Fatalf("listed consultation differs from GetConsultation:\n list %+v\n  get %+v", k, one)
		}
		if len(k.UnitIDs) != 3 || len(k.Opinions) != 1-i%2 {
			t.Fatalf("consultation %d: units %v, opinions %+v", k.ID, k.UnitIDs, k.Opinions)
		}
	}
}

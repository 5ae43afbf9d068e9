package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"sanji/scheduler"
	"sanji/scheduler/casework"
	"sanji/scheduler/notify"
	"sanji/scheduler/org"
	"sanji/scheduler/reception"
)

// Multi-site hearings (invitations and answers) and the booking checks' reads.

func testInvitations(t *testing.T, s scheduler.Store) {
	r := BuildReception(t, s)
	hearing := reception.ReceptionSession{UnitID: r.City.ID, Title: "欠薪积案会商", Start: shAt("2026-11-04 14:00"), End: shAt("2026-11-04 16:00"),
		HallIDs: []int64{r.H1.ID}, UnitIDs: []int64{r.D1.ID}, LeadDays: 1, MinutesPerPetitioner: 20, MaxPetitioners: 3}
	if err := s.CreateReceptionSession(ctx, &hearing); err != nil {
		t.Fatal(err)
	}
	now := shAt("2026-11-01 10:00")
	// D1 is on the roster already; the department and H2 are added to it by the invitation.
	invs, err := s.InviteToSession(ctx, hearing.ID, []int64{r.D1.ID, r.Dept.ID}, []int64{r.H2.ID}, "请准备欠薪案件材料", 7, now)
	if err != nil {
		t.Fatal(err)
	}
	if len(invs) != 3 || invs[0].Status != reception.InvInvited || invs[2].Kind != reception.InviteHall || invs[2].UnitID != r.D2.ID ||
		invs[1].UnitID != r.Dept.ID || invs[0].Note != "请准备欠薪案件材料" || !invs[0].InvitedAt.Equal(now) {
		t.Fatalf("invitations: %+v", invs)
	}
	got, _ := s.GetReceptionSession(ctx, hearing.ID)
	if len(got.UnitIDs) != 2 || len(got.HallIDs) != 2 {
		t.Errorf("roster after inviting: units %v halls %v", got.UnitIDs, got.HallIDs)
	}
	// The roster grew under the overlap check: the department is now busy at that time.
	clash := reception.ReceptionSession{UnitID: r.City.ID, Title: "另一场", Start: shAt("2026-11-04 15:00"), End: shAt("2026-11-04 15:30"),
		UnitIDs: []int64{r.Dept.ID}, LeaderID: r.Leader2.ID, LeaderName: "李四", MinutesPerPetitioner: 10, MaxPetitioners: 3}
	var ce *reception.ConflictError
	if err := s.CreateReceptionSession(ctx, &clash); !errors.As(err, &ce) || ce.Resource != "unit" || ce.Other.ID != hearing.ID {
		t.Errorf("an invited unit double-booked: %v", err)
	}
	// And an invitation that would double-book is refused, naming the other session.
	other := reception.ReceptionSession{UnitID: r.City.ID, Title: "同时段接访", Start: shAt("2026-11-04 15:00"), End: shAt("2026-11-04 17:00"),
		UnitIDs: []int64{r.T1.ID}, MinutesPerPetitioner: 10, MaxPetitioners: 3, LeaderID: r.Leader2.ID, LeaderName: "李四"}
	if err := s.CreateReceptionSession(ctx, &other); err != nil {
		t.Fatal(err)
	}
	if _, err := s.InviteToSession(ctx, hearing.ID, []int64{r.T1.ID}, nil, "", 7, now); !errors.As(err, &ce) || ce.Other.ID != other.ID {
		t.Errorf("inviting a busy unit: %v", err)
	}
	// Inviting again changes nothing.
	if again, err := s.InviteToSession(ctx, hearing.ID, []int64{r.D1.ID}, nil, "", 7, now); err != nil || len(again) != 0 {
		t.Errorf("invite twice: %+v %v", again, err)
	}

	// Answers: a decline needs a reason; answers change until the session ends.
	dept := invs[1]
	_, err = s.AnswerInvitation(ctx, dept.ID, false, "  ", 9, now)
	wantErr(t, err, org.ErrInvalid, "decline without reason")
	a, err := s.AnswerInvitation(ctx, dept.ID, false, "当日另有省厅检查", 9, now.Add(time.Hour))
	if err != nil || a.Status != reception.InvDeclined || a.Reason != "当日另有省厅检查" || a.AnsweredBy != 9 || !a.AnsweredAt.Equal(now.Add(time.Hour)) {
		t.Fatalf("decline: %+v %v", a, err)
	}
	if _, err := s.AnswerInvitation(ctx, invs[0].ID, true, "", 8, now); err != nil {
		t.Fatal(err)
	}
	list, err := s.ListInvitations(ctx, reception.InvitationQuery{SessionID: hearing.ID})
	if err != nil || len(list) != 3 || list[0].Status != reception.InvAccepted || list[1].Status != reception.InvDeclined || list[2].Status != reception.InvInvited {
		t.Fatalf("session's invitations: %+v %v", list, err)
	}
	// A unit sees its own: by subtree, by status.
	if l, _ := s.ListInvitations(ctx, reception.InvitationQuery{UnderPath: r.Dept.Path}); len(l) != 1 || l[0].ID != dept.ID {
		t.Errorf("the department's invitations: %+v", l)
	}
	if l, _ := s.ListInvitations(ctx, reception.InvitationQuery{UnderPath: r.D1.Path, Status: reception.InvInvited}); len(l) != 0 {
		t.Errorf("D1's open invitations: %+v", l)
	}
	if l, _ := s.ListInvitations(ctx, reception.InvitationQuery{UnderPath: r.City.Path, From: shAt("2026-11-05 00:00")}); len(l) != 0 {
		t.Errorf("invitations to past sessions: %+v", l)
	}
	// A declined unit invited again is asked again.
	re, err := s.InviteToSession(ctx, hearing.ID, []int64{r.Dept.ID}, nil, "改为视频参加", 7, now.Add(2*time.Hour))
	if err != nil || len(re) != 1 || re[0].ID != dept.ID || re[0].Status != reception.InvInvited || re[0].Reason != "" || re[0].AnsweredBy != 0 {
		t.Errorf("invite again after a decline: %+v %v", re, err)
	}
	// A unit taken off the roster has nothing left to answer.
	got, _ = s.GetReceptionSession(ctx, hearing.ID)
	got.UnitIDs = []int64{r.D1.ID}
	if err := s.UpdateReceptionSession(ctx, got); err != nil {
		t.Fatal(err)
	}
	_, err = s.GetInvitation(ctx, dept.ID)
	wantErr(t, err, org.ErrNotFound, "invitation of a unit off the roster")
	// Once the session is over, or cancelled, nothing is answered or invited.
	_, err = s.AnswerInvitation(ctx, invs[0].ID, true, "", 8, shAt("2026-11-04 16:00"))
	wantErr(t, err, org.ErrInvalid, "answer after the end")
	if err := s.CancelReceptionSession(ctx, hearing.ID, "改期"); err != nil {
		t.Fatal(err)
	}
	_, err = s.AnswerInvitation(ctx, invs[0].ID, false, "x", 8, now)
	wantErr(t, err, org.ErrInvalid, "answer to a cancelled session")
	_, err = s.InviteToSession(ctx, hearing.ID, []int64{r.D2.ID}, nil, "", 7, now)
	wantErr(t, err, org.ErrInvalid, "invite to a cancelled session")
	_, err = s.InviteToSession(ctx, other.ID, []int64{99999}, nil, "", 7, now)
	wantErr(t, err, org.ErrInvalid, "invite a missing unit")
	_, err = s.InviteToSession(ctx, other.ID, nil, nil, "", 7, now)
	wantErr(t, err, org.ErrInvalid, "invite nobody")
}

// testInvitationsConcurrent invites different units to one session at once: every invitation
// lands and the roster holds every unit (no invitation's roster change is lost).
func testInvitationsConcurrent(t *testing.T, s scheduler.Store) {
	r := BuildReception(t, s)
	hearing := reception.ReceptionSession{UnitID: r.City.ID, Title: "并发邀请", Start: shAt("2026-11-11 14:00"), End: shAt("2026-11-11 15:00"),
		HallIDs: []int64{r.H1.ID}, LeadDays: 1, MinutesPerPetitioner: 10, MaxPetitioners: 3}
	if err := s.CreateReceptionSession(ctx, &hearing); err != nil {
		t.Fatal(err)
	}
	units := []int64{r.City.ID, r.D1.ID, r.D2.ID, r.T1.ID, r.Dept.ID}
	var wg sync.WaitGroup
	errs := make([]error, len(units))
	for i, u := range units {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = s.InviteToSession(ctx, hearing.ID, []int64{u}, nil, fmt.Sprintf("第 %d 家", i), 7, shAt("2026-11-01 10:00"))
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("invite %d: %v", i, err)
		}
	}
	got, _ := s.GetReceptionSession(ctx, hearing.ID)
	list, _ := s.ListInvitations(ctx, reception.InvitationQuery{SessionID: hearing.ID})
	if len(got.UnitIDs) != len(units) || len(list) != len(units) {
		t.Errorf("roster %v, %d invitations; want %d each", got.UnitIDs, len(list), len(units))
	}
}

// caseTo walks c through the status machine to the last of steps.
func caseTo(t *testing.T, s scheduler.Store, c *casework.Case, steps ...casework.CaseStatus) {
	t.Helper()
	for _, to := range steps {
		ev := casework.CaseEvent{CaseID: c.ID, From: c.Status, To: to, Reason: "办理", ActorID: 1, Actor: "handler"}
		if to == casework.StAnswered {
			ev.Result = casework.ResultExplain
		}
		if to == casework.StAssigned || to == casework.StForwarded {
			ev.ResponsibleUnitID = c.ResponsibleUnitID
		}
		if err := s.TransitionCase(ctx, &ev); err != nil {
			t.Fatalf("case %d %s → %s: %v", c.ID, c.Status, to, err)
		}
		c.Status = to
	}
}

func testBookingChecks(t *testing.T, s scheduler.Store) {
	r := BuildReception(t, s)
	cat := org.Category{Code: "02", Name: "劳动和社会保障"}
	if err := s.CreateCategory(ctx, &cat); err != nil {
		t.Fatal(err)
	}
	idn := IDNumber("33010219750505123")
	other := IDNumber("33010219660606456")
	mk := func(unit int64, territory, title, content, id string) casework.Case {
		_, hash, _ := casework.NewQueryCode()
		c := casework.Case{UnitID: unit, Territory: territory, Form: casework.FormVisit, Type: casework.TypeClaim, CategoryID: cat.ID,
			Title: title, Content: content, QueryCodeHash: hash, RegisteredAt: shAt("2026-05-01 10:00"),
			Petitioners: []casework.Petitioner{{Name: "赵六", IDNumber: id, Role: casework.PetitionerSelf}}}
		if err := s.CreateCase(ctx, &c, casework.CaseEvent{ActorID: 1, Actor: "intake", UnitID: unit, Reason: "登记"}); err != nil {
			t.Fatal(err)
		}
		return c
	}
	// An open case at the district (below the city), one past re-review at the city, one of
	// another person in the district that reads alike, one elsewhere that reads alike.
	pending := mk(r.D1.ID, "330102", "欠薪", "某建筑公司拖欠工资三个月，老板失联", idn)
	caseTo(t, s, &pending, casework.StAccepted, casework.StInProgress)
	// Handled by a district department: its review goes to the district, the re-review to the city.
	old := mk(r.Dept.ID, "330100", "征地补偿", "征地补偿标准过低", idn)
	caseTo(t, s, &old, casework.StAccepted, casework.StInProgress, casework.StAnswered, casework.StReview, casework.StReReview, casework.StClosed)
	alike := mk(r.D1.ID, "330102001", "欠薪", "建筑公司拖欠我们三个月工资，老板找不到人", other)
	far := mk(r.D2.ID, "330105", "欠薪", "建筑公司拖欠我们三个月工资，老板找不到人", other)
	_ = mk(r.D1.ID, "330102", "噪音", "楼下饭店油烟噪音扰民", other)

	got, err := s.CasesByIDNumber(ctx, idn, 10)
	if err != nil || len(got) != 2 || got[0].ID != old.ID || got[1].ID != pending.ID || got[0].Petitioners[0].IDNumber != idn {
		t.Fatalf("cases by id number: %+v %v", got, err)
	}
	recent, err := s.RecentMatters(ctx, "330102", 100)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int64]bool{}
	for _, m := range recent {
		seen[m.ID] = m.Kind == reception.CheckCase
	}
	if len(recent) != 3 || !seen[alike.ID] || !seen[pending.ID] || seen[far.ID] {
		t.Errorf("recent matters of 330102: %+v", recent)
	}

	// A city reception; a booking at the district hall.
	sess := recSession(r, "市领导接访", "2026-12-09 09:00", 120)
	if err := s.CreateReceptionSession(ctx, &sess); err != nil {
		t.Fatal(err)
	}
	earlier := mkAppt(sess, r.H1.ID, "赵六", idn)
	earlier.Matter = "征地补偿"
	cancelled := mkAppt(sess, r.H1.ID, "钱七", other)
	cancelled.Matter = "建筑公司拖欠三个月工资，老板失联了"
	for _, a := range []*reception.Appointment{&earlier, &cancelled} {
		if err := s.CreateAppointment(ctx, a, shAt("2026-12-01 09:00")); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.SetAppointmentStatus(ctx, cancelled.ID, reception.ApptCancelled); err != nil {
		t.Fatal(err)
	}
	b, err := reception.CheckBooking(ctx, s, sess, r.D1, idn, "拖欠工资三个月，公司老板失联")
	if err != nil {
		t.Fatal(err)
	}
	if len(b.SamePerson) != 1 || b.SamePerson[0].ID != earlier.ID || len(b.Cases) != 2 {
		t.Fatalf("same person: %+v", b)
	}
	for _, c := range b.Cases {
		switch c.Case.ID {
		case pending.ID:
			if !c.PendingLower || c.PastReReview || c.Holding.ID != r.D1.ID {
				t.Errorf("pending case: %+v", c)
			}
		case old.ID:
			// Re-reviewed, but about land compensation: the wages are another matter.
			if c.PendingLower || c.PastReReview || c.Match.Same() {
				t.Errorf("re-reviewed case of another matter: %+v", c)
			}
		}
	}
	// The same person about the same land compensation: not accepted again, and why.
	again, err := reception.CheckBooking(ctx, s, sess, r.D1, idn, "征地补偿标准过低，要求重新核定")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range again.Cases {
		if c.Case.ID == old.ID && (!c.PastReReview || c.Match.Similarity < casework.SimilarThreshold || !strings.Contains(c.Match.Explain(), "相似度")) {
			t.Errorf("re-reviewed case of the same matter: %+v %s", c, c.Match.Explain())
		}
	}
	if s := again.Summary(); len(s.PastReReview) != 1 || s.PastReReview[0] != old.ID {
		t.Errorf("same matter after re-review: %+v", s)
	}
	// The same person's own case is not listed again as similar; the cancelled booking and the
	// other district's case are not candidates; the other person's case in the district is.
	if len(b.Similar) != 1 || b.Similar[0].ID != alike.ID || b.Similar[0].Case.Number != alike.Number || b.Similar[0].Score < reception.SimilarThreshold {
		t.Errorf("similar: %+v", b.Similar)
	}
	sum := b.Summary()
	if len(sum.PendingLower) != 1 || len(sum.PastReReview) != 0 || len(sum.SamePerson) != 3 {
		t.Errorf("summary %+v", sum)
	}
	// The summary is kept with the appointment.
	a := mkAppt(sess, r.H1.ID, "赵六", idn)
	a.Checks = sum
	if err := s.CreateAppointment(ctx, &a, shAt("2026-12-01 09:00")); err != nil {
		t.Fatal(err)
	}
	if g, _ := s.GetAppointment(ctx, a.ID); len(g.Checks.PendingLower) != 1 || g.Checks.PendingLower[0] != pending.ID || len(g.Checks.Similar) != 1 {
		t.Errorf("checks kept: %+v", g.Checks)
	}
	// For a district reception, the district's own case is not "lower".
	dsess := recSession(r, "区领导接访", "2026-12-10 09:00", 60)
	dsess.UnitID, dsess.LeaderID, dsess.StudioID = r.D1.ID, r.Leader2.ID, 0
	if err := s.CreateReceptionSession(ctx, &dsess); err != nil {
		t.Fatal(err)
	}
	if b, _ := reception.CheckBooking(ctx, s, dsess, r.D1, idn, "x"); len(b.Cases) != 2 || b.Cases[0].PendingLower || b.Cases[1].PendingLower {
		t.Errorf("district session's level check: %+v", b.Cases)
	}
}

// NoticeSink receives notices through the real notifiers: a webhook to an HTTP server of the
// test and the SMS gateway's log. Notifier is what to configure; Webhook and Texts are what
// arrived.
type NoticeSink struct {
	Notifier reception.Notifier
	Texts    *observer.ObservedLogs
	mu       sync.Mutex
	hook     []notify.WebhookBody
}

// NewNoticeSink starts the sink's HTTP server, closed when t ends.
func NewNoticeSink(t testing.TB) *NoticeSink {
	k := &NoticeSink{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var b notify.WebhookBody
		if err := json.NewDecoder(r.Body).Decode(&b); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		k.mu.Lock()
		k.hook = append(k.hook, b)
		k.mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	core, logs := observer.New(zap.InfoLevel)
	k.Texts = logs
	k.Notifier = notify.Fanout{&notify.Webhook{URL: srv.URL}, notify.SMS{Gateway: notify.LogSMS{Log: zap.New(core)}}}
	return k
}

// Webhook is what the webhook received so far.
func (k *NoticeSink) Webhook() []notify.WebhookBody {
	k.mu.Lock()
	defer k.mu.Unlock()
	return append([]notify.WebhookBody(nil), k.hook...)
}

// testReminders: a session starting within a day is reminded once (its roster by webhook, its
// booked petitioners by text), however often the job runs; later and cancelled sessions are not.
func testReminders(t *testing.T, s scheduler.Store) {
	r := BuildReception(t, s)
	soon := recSession(r, "明日接访", "2026-12-16 09:00", 60)
	soon.UnitIDs = []int64{r.Dept.ID}
	later := recSession(r, "下周接访", "2026-12-23 09:00", 60)
	gone := recSession(r, "已取消", "2026-12-16 14:00", 60)
	for _, x := range []*reception.ReceptionSession{&soon, &later, &gone} {
		if err := s.CreateReceptionSession(ctx, x); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.CancelReceptionSession(ctx, gone.ID, "改期"); err != nil {
		t.Fatal(err)
	}
	booked := mkAppt(soon, r.H1.ID, "王五", IDNumber("33010219800101123"))
	noShow := mkAppt(soon, r.H1.ID, "赵六", IDNumber("33010219800101124"))
	noShow.Phone = "13700000000"
	for _, a := range []*reception.Appointment{&booked, &noShow} {
		if err := s.CreateAppointment(ctx, a, shAt("2026-12-01 09:00")); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.SetAppointmentStatus(ctx, noShow.ID, reception.ApptCancelled); err != nil {
		t.Fatal(err)
	}
	k := NewNoticeSink(t)
	now := shAt("2026-12-15 10:00")
	n, err := reception.SendReminders(ctx, s, k.Notifier, now)
	if err != nil || n != 1 {
		t.Fatalf("reminders: %d %v", n, err)
	}
	hook := k.Webhook()
	// The department, the studio and the hall by webhook; the petitioner by text only.
	var units, halls int
	for _, b := range hook {
		if b.Kind != reception.NoticeReminder || b.SessionID != soon.ID || !strings.Contains(b.TextZH, "明日接访") {
			t.Errorf("reminder %+v", b)
		}
		if b.UnitID == r.Dept.ID {
			units++
		}
		if b.HallID == r.Studio.ID || b.HallID == r.H1.ID {
			halls++
		}
	}
	if len(hook) != 3 || units != 1 || halls != 2 {
		t.Errorf("reminders to the roster: %+v", hook)
	}
	texts := k.Texts.All()
	if len(texts) != 1 || texts[0].ContextMap()["to"] != casework.MaskPhone(booked.Phone) {
		t.Errorf("texts to petitioners: %+v", texts)
	}
	// Again, and from another node: nothing more.
	if n, err := reception.SendReminders(ctx, s, k.Notifier, now.Add(10*time.Minute)); err != nil || n != 0 || len(k.Webhook()) != len(hook) {
		t.Errorf("second run: %d %v", n, err)
	}
	if first, err := s.MarkReminded(ctx, soon.ID, now); err != nil || first {
		t.Errorf("mark twice: %v %v", first, err)
	}

	// The job: each tick runs the reminders, until its context ends.
	jctx, cancel := context.WithCancel(ctx)
	tick := make(chan time.Time)
	reports := make(chan int, 2)
	done := make(chan struct{})
	go func() {
		defer close(done)
		reception.RunReminderJob(jctx, s, k.Notifier, tick, func(n int, err error) {
			if err != nil {
				t.Errorf("job: %v", err)
			}
			reports <- n
		})
	}()
	tick <- shAt("2026-12-22 10:00") // the next week's session is within a day now
	if n := <-reports; n != 1 {
		t.Errorf("job reminded %d sessions, want 1", n)
	}
	cancel()
	<-done
	if hook := k.Webhook(); len(hook) != 5 || hook[4].SessionID != later.ID {
		t.Errorf("the job's reminders: %+v", hook)
	}
}

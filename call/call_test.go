package call_test

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"sanji/auth"
	"sanji/call"
	"sanji/recording"
	"sanji/scheduler"
	"sanji/scheduler/api"
	"sanji/scheduler/casework"
	"sanji/scheduler/org"
	"sanji/scheduler/reception"
	"sanji/scheduler/sqlite"
	"sanji/sfu"
)

// The call's rules without a WebSocket or an SFU: the real scheduler (SQLite, the demo tree and
// the demo reception) behind the API's CallBridge, a fake clock, and participants that keep what
// they are told.

// clock is a fake clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// member is a participant that keeps what the call tells it.
type member struct {
	m call.Member

	mu       sync.Mutex
	states   []call.State
	panels   []call.Panel
	notices  []call.Notice
	deferred []func()
}

func (p *member) Member() call.Member { return p.m }

func (p *member) CallState(st call.State) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.states = append(p.states, st)
}

func (p *member) CasePanel(d call.Panel) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.panels = append(p.panels, d)
}

func (p *member) CallNotice(n call.Notice) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.notices = append(p.notices, n)
}

func (p *member) Defer(fn func()) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.deferred = append(p.deferred, fn)
}

// state is the last state p was sent.
func (p *member) state(t *testing.T) call.State {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.states) == 0 {
		t.Fatalf("%s was sent no state", p.m.ID)
	}
	return p.states[len(p.states)-1]
}

// panel is the last case panel p was sent (CaseID 0: none or cleared).
func (p *member) panel() call.Panel {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.panels) == 0 {
		return call.Panel{}
	}
	return p.panels[len(p.panels)-1]
}

// takeNotices returns the notices p got since the last call.
func (p *member) takeNotices() []call.Notice {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := p.notices
	p.notices = nil
	return n
}

// sink counts the enforcements.
type sink struct {
	mu      sync.Mutex
	changes int
	members int
}

func (s *sink) Enforce(k *call.Call, members []call.Participant) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.changes++
	s.members = len(members)
}

func (s *sink) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.changes
}

type testEnv struct {
	t       *testing.T
	st      scheduler.Store
	session reception.ReceptionSession
	clock   *clock
	sink    *sink
	calls   *call.Calls
	bridge  call.Backend
	users   map[string]org.User
}

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func newTestEnv(t *testing.T, rec call.Recorder) *testEnv {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, t.TempDir()+"/sanji.db")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	if _, err := scheduler.EnsureRoot(ctx, st); err != nil {
		t.Fatal(err)
	}
	quick := func(string) (string, error) { return "not-a-hash", nil }
	if _, err := scheduler.SeedDemo(ctx, st, quick, func() (string, error) { return "pw", nil }); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	x, booked, err := scheduler.SeedDemoReception(ctx, st, now)
	if err != nil || !booked {
		t.Fatalf("demo reception: %v %v", booked, err)
	}
	log := zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel))
	clk := &clock{t: now}
	// The scheduler's clock is the call's: hearings start and end when the call says.
	bridge := api.New(api.Config{Store: st, Signer: auth.NewSigner([]byte("test secret of at least 32 bytes, for signing")),
		Logger: log, Attachments: casework.Blobs{Dir: t.TempDir(), MaxSize: 1 << 20}, Now: clk.Now}).CallBridge()
	e := &testEnv{t: t, st: st, session: x, clock: clk, sink: &sink{}, users: map[string]org.User{}, bridge: bridge}
	e.calls = call.New(call.Config{Backend: bridge, Recorder: rec, Sink: e.sink, Now: e.clock.Now, Logger: log})
	for _, name := range []string{"demo-leader", "demo-operator", "demo-operator2", "demo-handler", "demo-observer"} {
		u, err := st.GetUserByUsername(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		e.users[name] = u
	}
	return e
}

// enter seats a demo user in the session's call and tells the call it joined the room.
func (e *testEnv) enter(id, username, seat string, hall, unit int64) (*member, *call.Call) {
	e.t.Helper()
	p := &member{m: call.Member{ID: id, Role: "leader", Seat: call.Seat{Kind: seat, Hall: hall, Unit: unit},
		UserID: e.users[username].ID}}
	k, err := e.calls.Enter(e.session.ID, p.m.UserID, p)
	if err != nil {
		e.t.Fatalf("%s enters: %v", id, err)
	}
	k.Joined(p)
	return p, k
}

func (e *testEnv) unit(code string) org.Unit {
	e.t.Helper()
	u, err := e.st.GetUnitByCode(context.Background(), code)
	if err != nil {
		e.t.Fatal(err)
	}
	return u
}

func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s: %v, want %v", what, err, want)
	}
}

func must(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// allow asks the call's policy whether sub receives pub's tracks of kind.
func allow(k *call.Call, sub, pub *member, kind sfu.Kind) bool {
	return k.Policy().Allow(sub.m.ID, sfu.TrackInfo{ID: "t", ParticipantID: pub.m.ID, Kind: kind})
}

func TestCallStageAndPolicy(t *testing.T) {
	rec, err := recording.New(recording.Config{Dir: t.TempDir(), Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rec.Close() })
	e := newTestEnv(t, rec)
	ctx := context.Background()
	hallA, hallB := e.session.HallIDs[0], e.session.HallIDs[1] // 清波 (王建国 first in the queue), 湖滨
	rsj := e.unit("330102-RSJ")

	leader, k := e.enter("leader", "demo-leader", auth.SeatStudio, 0, 0)
	a, _ := e.enter("hallA", "demo-operator", auth.SeatHall, hallA, 0)
	b, _ := e.enter("hallB", "demo-operator2", auth.SeatHall, hallB, 0)
	unit, _ := e.enter("unit", "demo-handler", auth.SeatUnit, 0, rsj.ID)
	obs, _ := e.enter("observer", "demo-observer", auth.SeatObserver, 0, 0)
	video, audio := sfu.KindVideo, sfu.KindAudio

	// Idle: the observer sees the studio; nobody else receives anyone; nobody sees the observer.
	if !allow(k, obs, leader, video) || allow(k, a, leader, video) || allow(k, leader, a, audio) || allow(k, leader, obs, video) {
		t.Fatal("idle policy")
	}
	// The queue before the session starts counts from its start, 15 minutes a petitioner across
	// halls; hall B's first petitioner is second.
	st := b.state(t)
	per := time.Duration(e.session.MinutesPerPetitioner) * time.Minute
	if st.Phase != "idle" || st.Stage != nil || st.Me.Position != 2 || st.Me.Waiting != 2 || len(st.Queue) != 2 ||
		st.Me.ETA == nil || !st.Me.ETA.Equal(e.session.Start.Add(per)) {
		t.Fatalf("hall B idle: %+v", st)
	}
	if got := len(leader.state(t).Queue); got != 4 {
		t.Errorf("the studio sees %d bookings, want all 4", got)
	}
	if n := len(obs.state(t).Queue); n != 0 {
		t.Errorf("the observer sees %d bookings", n)
	}

	// Only the studio runs the call.
	wantErr(t, "hall calls next", k.CallNext(ctx, b), call.ErrNotModerator)
	before := e.sink.count()
	must(t, "call next", k.CallNext(ctx, leader))
	if e.sink.count() != before+1 || e.sink.members != 5 {
		t.Errorf("enforcements %d -> %d of %d members, want one of 5", before, e.sink.count(), e.sink.members)
	}
	wantErr(t, "call while a hearing is under way", k.CallNext(ctx, leader), call.ErrHearingUnderWay)
	wantErr(t, "broadcast during a hearing", k.Broadcast(ctx, leader, true), call.ErrHearingUnderWay)
	st = leader.state(t)
	if st.Phase != "called" || st.Stage == nil || st.Stage.HallID != hallA || st.Stage.Petitioner == "王建国" || st.Stage.CaseID == 0 {
		t.Fatalf("called: %+v", st.Stage)
	}
	caseID, heard := st.Stage.CaseID, st.Stage.AppointmentID
	// The query code goes to the operator's queue page (the API), never to the room screen.
	if n := a.takeNotices(); len(n) != 0 {
		t.Errorf("hall A's notices: %+v", n)
	}
	if n := b.takeNotices(); len(n) != 0 {
		t.Errorf("hall B was told %+v", n)
	}
	if b.state(t).Stage != nil || b.state(t).Me.Position != 1 {
		t.Errorf("waiting hall B: %+v", b.state(t))
	}
	must(t, "stage the unit", k.StageUnit(ctx, leader, rsj.ID, true))

	// The stage receives the stage; the waiting hall receives nothing of it; the observer follows
	// the studio and the unit, never the petitioner's hall.
	for _, c := range []struct {
		sub, pub *member
		want     bool
	}{
		{a, leader, true}, {leader, a, true}, {unit, a, true}, {a, unit, true},
		{b, leader, false}, {b, a, false}, {b, unit, false}, {a, b, false},
		{obs, leader, true}, {obs, unit, true}, {obs, a, false}, {leader, obs, false},
	} {
		if got := allow(k, c.sub, c.pub, video) && allow(k, c.sub, c.pub, audio); got != c.want {
			t.Errorf("%s <- %s: %v, want %v", c.sub.m.ID, c.pub.m.ID, got, c.want)
		}
	}
	// A node holding some of the call's media (package cascade) applies the same rule from the
	// snapshot's wire form.
	raw, err := json.Marshal(k.Policy().Snapshot())
	if err != nil {
		t.Fatal(err)
	}
	far := &call.Snapshot{}
	if err := json.Unmarshal(raw, far); err != nil {
		t.Fatal(err)
	}
	everyone := []*member{leader, a, b, unit, obs}
	for _, sub := range everyone {
		for _, pub := range everyone {
			for _, kind := range []sfu.Kind{video, audio} {
				if got, want := far.Allow(sub.m.ID, pub.m.ID, kind), allow(k, sub, pub, kind); got != want {
					t.Errorf("snapshot from the wire: %s <- %s %s: %v, the owner's %v", sub.m.ID, pub.m.ID, kind, got, want)
				}
			}
		}
	}
	// The case panel goes to the stage and the observer; the waiting hall's is empty.
	for _, p := range []*member{leader, a, unit, obs} {
		if p.panel().CaseID != caseID || len(p.panel().Panel) == 0 {
			t.Errorf("%s's panel: %+v", p.m.ID, p.panel())
		}
	}
	if b.panel().CaseID != 0 {
		t.Errorf("hall B's panel: %+v", b.panel())
	}
	// The observers' seat sees the title of the matter heard and nothing else: no number, no
	// content, no timeline (compare the leader's panel of the same case).
	var obsPanel map[string]json.RawMessage
	if err := json.Unmarshal(obs.panel().Panel, &obsPanel); err != nil {
		t.Fatal(err)
	}
	var obsCase map[string]any
	_ = json.Unmarshal(obsPanel["case"], &obsCase)
	if len(obsPanel) != 2 || string(obsPanel["observer"]) != "true" || len(obsCase) != 2 || obsCase["title"] == "" || obsCase["title"] == nil {
		t.Errorf("observer's panel: %s", obs.panel().Panel)
	}
	var leaderPanel map[string]json.RawMessage
	if err := json.Unmarshal(leader.panel().Panel, &leaderPanel); err != nil || leaderPanel["timeline"] == nil {
		t.Errorf("leader's panel: %s %v", leader.panel().Panel, err)
	}
	if v := obs.state(t).Stage; v == nil || v.Petitioner != "" || v.People != 0 || len(v.Units) != 1 || v.Units[0].Name == "" {
		t.Errorf("observer's stage: %+v", v)
	}

	// The recording notice: only the stage hall acknowledges it; the hearing's clock starts then.
	wantErr(t, "record before the notice", k.HearingRecord(ctx, a, "x"), call.ErrNoHearing)
	wantErr(t, "hall B acknowledges", k.AckRecording(ctx, b), call.ErrNotStageHall)
	if _, ok := e.calls.HearingOffset(e.session.ID); ok {
		t.Error("a hearing offset before the notice was acknowledged")
	}
	ack := e.session.Start.Add(time.Minute)
	e.clock.Set(ack)
	must(t, "hall A acknowledges", k.AckRecording(ctx, a))
	st = leader.state(t)
	if st.Phase != "hearing" || !st.Stage.RecordingAcknowledged || st.Stage.StartedAt == nil || !st.Stage.StartedAt.Equal(ack) {
		t.Fatalf("hearing: %+v", st.Stage)
	}
	e.clock.Set(ack.Add(90 * time.Second))
	if off, ok := e.calls.HearingOffset(e.session.ID); !ok || off != 90*time.Second {
		t.Errorf("hearing offset %v %v, want 90s", off, ok)
	}
	// Past the start the queue counts from now.
	if st := b.state(t); st.Me.ETA == nil {
		t.Errorf("hall B has no ETA: %+v", st.Me)
	}
	must(t, "raise a hand", k.RaiseHand(ctx, b, true)) // any change sends the states again
	// Hall B is next: after what the hearing on stage should take still at the booked pace.
	now, called := ack.Add(90*time.Second), leader.state(t).Stage.CalledAt
	if want := now.Add(max(per-now.Sub(called), 0)); b.state(t).Me.ETA == nil || !b.state(t).Me.ETA.Equal(want) {
		t.Errorf("hall B's ETA %v, want %v (it is next)", b.state(t).Me.ETA, want)
	}

	// The record: the stage hall writes it, the petitioner confirms it, then it is fixed.
	wantErr(t, "confirm an empty record", k.ConfirmRecord(ctx, a, "王建国", nil), call.ErrNoRecord)
	must(t, "write the record", k.HearingRecord(ctx, a, "信访人反映：企业拖欠工资八个月。"))
	wantErr(t, "another hall writes the record", k.HearingRecord(ctx, b, "x"), call.ErrNotStageHall)
	wantErr(t, "the studio confirms", k.ConfirmRecord(ctx, leader, "王建国", nil), call.ErrNotStageHall)
	must(t, "confirm", k.ConfirmRecord(ctx, a, "王建国", nil))
	wantErr(t, "change a confirmed record", k.HearingRecord(ctx, a, "改"), call.ErrRecordConfirmed)
	wantErr(t, "confirm twice", k.ConfirmRecord(ctx, a, "王建国", nil), call.ErrRecordConfirmed)
	files, err := e.st.ListAttachments(ctx, caseID, casework.AttachSignedRecord)
	if err != nil || len(files) != 1 || files[0].MIME != "text/plain" {
		t.Fatalf("signed record: %+v %v", files, err)
	}
	if v := leader.state(t).Stage; !v.RecordConfirmed || v.Record == "" {
		t.Errorf("studio's stage after the confirmation: %+v", v)
	}
	if v := obs.state(t).Stage; v.Record != "" || !v.RecordConfirmed {
		t.Errorf("observer's stage after the confirmation: %+v", v)
	}

	// Ending the hearing clears the stage, the hands and the panels, and seals the recording.
	wantErr(t, "hall ends the hearing", k.EndHearing(ctx, a, reception.OutcomeAssigned, ""), call.ErrNotModerator)
	must(t, "end", k.EndHearing(ctx, leader, reception.OutcomeAssigned, " 交办区人社局 "))
	if allow(k, a, leader, video) || allow(k, unit, a, video) || !allow(k, obs, leader, video) {
		t.Error("policy after the hearing")
	}
	st = leader.state(t)
	if st.Phase != "idle" || st.Stage != nil || len(st.Hands) != 0 || len(st.Queue) != 4 {
		t.Errorf("after the hearing: %+v", st)
	}
	for _, q := range st.Queue {
		if q.AppointmentID == heard && (q.Status == "on_stage" || q.ETA != nil) {
			t.Errorf("the heard appointment still waits: %+v", q)
		}
	}
	if a.panel().CaseID != 0 || unit.panel().CaseID != 0 {
		t.Error("panels not cleared after the hearing")
	}
	wantErr(t, "end again", k.EndHearing(ctx, leader, reception.OutcomeAssigned, ""), call.ErrNoHearing)
	evs, err := e.st.ListCaseEvents(ctx, caseID)
	if err != nil {
		t.Fatal(err)
	}
	sealed := false
	for _, ev := range evs {
		sealed = sealed || (ev.Kind == "recording" && strings.HasPrefix(ev.Ref, "recording:"))
	}
	if !sealed {
		t.Errorf("no seal of the recording on the case: %+v", evs)
	}

	// Hall B's petitioner next: the stage moves.
	must(t, "call next", k.CallNext(ctx, leader))
	if !allow(k, b, leader, video) || allow(k, a, leader, video) || allow(k, a, b, video) {
		t.Error("policy on hall B's hearing")
	}
}

func TestCallModeration(t *testing.T) {
	e := newTestEnv(t, nil)
	ctx := context.Background()
	hallA, hallB := e.session.HallIDs[0], e.session.HallIDs[1]
	leader, k := e.enter("leader", "demo-leader", auth.SeatStudio, 0, 0)
	a, _ := e.enter("hallA", "demo-operator", auth.SeatHall, hallA, 0)
	b, _ := e.enter("hallB", "demo-operator2", auth.SeatHall, hallB, 0)
	obs, _ := e.enter("observer", "demo-observer", auth.SeatObserver, 0, 0)

	// Between hearings the studio may broadcast to the waiting halls.
	wantErr(t, "a hall broadcasts", k.Broadcast(ctx, a, true), call.ErrNotModerator)
	must(t, "broadcast", k.Broadcast(ctx, leader, true))
	if !allow(k, a, leader, sfu.KindVideo) || !allow(k, b, leader, sfu.KindAudio) || allow(k, leader, a, sfu.KindVideo) || !a.state(t).Broadcast {
		t.Error("broadcast policy")
	}
	must(t, "broadcast off", k.Broadcast(ctx, leader, false))
	if allow(k, a, leader, sfu.KindVideo) {
		t.Error("broadcast still on")
	}
	wantErr(t, "speakers without a hearing", k.SetSpeakers(ctx, a, []string{"张海涛"}), call.ErrNoHearing)

	// 张海涛's collective visit (at hall A) comes on stage; calling it brings the broadcast down.
	q, err := e.st.ListAppointments(ctx, e.session.ID)
	if err != nil {
		t.Fatal(err)
	}
	var collective reception.Appointment
	for _, x := range q {
		if len(x.Representatives) > 0 {
			collective = x
		}
	}
	must(t, "call the collective visit", k.CallAppointment(ctx, leader, collective.ID))
	a.takeNotices() // its query code
	if st := a.state(t); st.Stage == nil || st.Stage.AppointmentID != collective.ID || st.Stage.Representatives != 3 {
		t.Fatalf("stage: %+v", st.Stage)
	}
	wantErr(t, "six speakers", k.SetSpeakers(ctx, a, []string{"张海涛", "李明", "赵刚", "甲", "乙", "丙"}), call.ErrTooManySpeakers)
	wantErr(t, "a speaker not in the booking", k.SetSpeakers(ctx, a, []string{"张海涛", "路人"}), call.ErrNotRepresentative)
	wantErr(t, "another hall names speakers", k.SetSpeakers(ctx, b, []string{"张海涛"}), call.ErrNotStageHall)
	must(t, "speakers", k.SetSpeakers(ctx, a, []string{"张海涛", "李明"}))
	if v := leader.state(t).Stage; len(v.Speakers) != 2 || v.Speakers[0] == "张海涛" {
		t.Errorf("speakers (masked): %+v", v.Speakers)
	}
	if v := obs.state(t).Stage; len(v.Speakers) != 0 {
		t.Errorf("the observer learns the speakers: %+v", v.Speakers)
	}

	// Hands and the floor.
	wantErr(t, "observer raises a hand", k.RaiseHand(ctx, obs, true), call.ErrObserver)
	wantErr(t, "hall takes the floor of others", k.SetFloor(ctx, a, leader.m.ID, false), call.ErrNotModerator)
	wantErr(t, "floor of nobody", k.SetFloor(ctx, leader, "nobody", false), call.ErrNoParticipant)
	must(t, "take hall A's floor", k.SetFloor(ctx, leader, a.m.ID, false))
	if allow(k, leader, a, sfu.KindAudio) || !allow(k, leader, a, sfu.KindVideo) || a.state(t).Me.Floor {
		t.Error("hall A's audio still allowed, or its video cut")
	}
	if n := a.takeNotices(); len(n) != 1 || n[0].Kind != "floor_taken" || n[0].MessageZH == "" || n[0].MessageEN == "" {
		t.Errorf("hall A's notices: %+v", n)
	}
	must(t, "raise a hand", k.RaiseHand(ctx, a, true))
	if st := leader.state(t); len(st.Hands) != 1 || st.Hands[0] != a.m.ID || len(st.Held) != 1 || st.Held[0] != a.m.ID {
		t.Errorf("studio's hands and held: %v %v", st.Hands, st.Held)
	}
	if st := a.state(t); !st.Me.Hand || st.Hands != nil {
		t.Errorf("hall A's own view: %+v", st)
	}
	must(t, "give the floor back", k.SetFloor(ctx, leader, a.m.ID, true))
	if !allow(k, leader, a, sfu.KindAudio) || a.state(t).Me.Hand || len(leader.state(t).Held) != 0 {
		t.Error("floor given back")
	}
	if n := a.takeNotices(); len(n) != 1 || n[0].Kind != "unmute_request" {
		t.Errorf("hall A's notices: %+v", n)
	}

	// Removal: the studio only, of someone present; the call changes when the removed one leaves.
	if _, err := k.RemoveParticipant(a, obs.m.ID); !errors.Is(err, call.ErrNotModerator) {
		t.Errorf("hall removes: %v", err)
	}
	if _, err := k.RemoveParticipant(leader, "nobody"); !errors.Is(err, call.ErrNoParticipant) {
		t.Errorf("remove nobody: %v", err)
	}
	if p, err := k.RemoveParticipant(leader, obs.m.ID); err != nil || p != call.Participant(obs) {
		t.Fatalf("remove the observer: %v %v", p, err)
	}
	k.Leave(obs)
	if allow(k, obs, leader, sfu.KindVideo) {
		t.Error("a participant who left is still allowed")
	}

	// A no-show of the petitioner on stage ends the hearing.
	must(t, "no-show", k.NoShow(ctx, leader, collective.ID))
	if st := leader.state(t); st.Phase != "idle" || st.Stage != nil {
		t.Errorf("after the no-show: %+v", st)
	}
	// The queue runs out.
	for range 3 {
		must(t, "call next", k.CallNext(ctx, leader))
		must(t, "end", k.EndHearing(ctx, leader, reception.OutcomeAnswered, ""))
	}
	wantErr(t, "call with nobody left", k.CallNext(ctx, leader), call.ErrQueueEmpty)
}

// The call keeps no state the scheduler does not have: it closes with its last participant, and
// the next one in resumes the hearing under way (its notice to be acknowledged again).
func TestCallResumes(t *testing.T) {
	e := newTestEnv(t, nil)
	ctx := context.Background()
	hallA := e.session.HallIDs[0]
	leader, k := e.enter("leader", "demo-leader", auth.SeatStudio, 0, 0)
	a, _ := e.enter("hallA", "demo-operator", auth.SeatHall, hallA, 0)
	must(t, "call next", k.CallNext(ctx, leader))
	must(t, "acknowledge", k.AckRecording(ctx, a))
	appt := leader.state(t).Stage.AppointmentID

	// A newer connection of the same participant takes its seat; the older one's leave changes
	// nothing.
	a2, k2 := e.enter("hallA", "demo-operator", auth.SeatHall, hallA, 0)
	if k2 != k {
		t.Fatal("a second call for the same session")
	}
	k.Leave(a)
	if !allow(k, leader, a2, sfu.KindVideo) {
		t.Fatal("the replaced connection's leave took the seat")
	}
	k.Leave(a2)
	k.Leave(leader)
	if e.calls.Live(e.session.ID) != nil {
		t.Fatal("the call outlived its last participant")
	}

	again, k3 := e.enter("leader", "demo-leader", auth.SeatStudio, 0, 0)
	if k3 == k {
		t.Fatal("the closed call was reused")
	}
	st := again.state(t)
	if st.Phase != "called" || st.Stage == nil || st.Stage.AppointmentID != appt {
		t.Fatalf("resumed: %+v", st.Stage)
	}
	if now := k3.State(again); !reflect.DeepEqual(now, st) {
		t.Errorf("State %+v, the last state sent %+v", now, st)
	}
	if k3.Room() != call.RoomName(e.session.ID) || k3.SessionID() != e.session.ID {
		t.Errorf("room %q, session %d", k3.Room(), k3.SessionID())
	}
}

// TestStudioOffersUnitsByName: the studio is told the units it may bring on stage, by name: the
// roster's and those that accepted an invitation, not those that declined; other seats are told
// none. Staging one of them names it on the stage.
func TestStudioOffersUnitsByName(t *testing.T) {
	e := newTestEnv(t, nil)
	ctx := context.Background()
	rsj, zjj, xfj := e.unit("330102-RSJ"), e.unit("330100-ZJJ"), e.unit("330100-XFJ")
	invs, err := e.st.InviteToSession(ctx, e.session.ID, []int64{zjj.ID, xfj.ID}, nil, "会商", e.users["demo-leader"].ID, e.clock.Now())
	if err != nil || len(invs) != 2 {
		t.Fatalf("invite: %v %v", invs, err)
	}
	for _, inv := range invs {
		accept := inv.TargetID == zjj.ID
		if _, err := e.st.AnswerInvitation(ctx, inv.ID, accept, map[bool]string{true: "", false: "另有任务"}[accept], e.users["demo-leader"].ID, e.clock.Now()); err != nil {
			t.Fatal(err)
		}
	}
	leader, k := e.enter("leader", "demo-leader", auth.SeatStudio, 0, 0)
	hall, _ := e.enter("hallA", "demo-operator", auth.SeatHall, e.session.HallIDs[0], 0)
	want := []call.StageUnit{{ID: rsj.ID, Name: rsj.Name}, {ID: zjj.ID, Name: zjj.Name}}
	if got := leader.state(t).Units; !reflect.DeepEqual(got, want) {
		t.Errorf("the studio is offered %+v, want %+v", got, want)
	}
	if got := hall.state(t).Units; got != nil {
		t.Errorf("a hall is offered units: %+v", got)
	}
	must(t, "call next", k.CallNext(ctx, leader))
	must(t, "stage the accepted unit", k.StageUnit(ctx, leader, zjj.ID, true))
	var named bool
	for _, u := range leader.state(t).Stage.Units {
		named = named || (u.ID == zjj.ID && u.Name == zjj.Name)
	}
	if !named {
		t.Errorf("the staged unit is not named on the stage: %+v", leader.state(t).Stage.Units)
	}
}

// TestCallETAFollowsPace: a waiting hall's expected time follows the call — the hearing on stage
// counts until its expected end, and the pace is the mean of the hearings that ended, the booked
// minutes per petitioner before the first.
func TestCallETAFollowsPace(t *testing.T) {
	e := newTestEnv(t, nil)
	ctx := context.Background()
	start := e.session.Start
	per := time.Duration(e.session.MinutesPerPetitioner) * time.Minute // 15 minutes booked
	hallA, hallB := e.session.HallIDs[0], e.session.HallIDs[1]         // queue: A1, B1, A2, B2
	e.clock.Set(start.Add(-5 * time.Minute))
	leader, k := e.enter("leader", "demo-leader", auth.SeatStudio, 0, 0)
	a, _ := e.enter("hallA", "demo-operator", auth.SeatHall, hallA, 0)
	b, _ := e.enter("hallB", "demo-operator2", auth.SeatHall, hallB, 0)
	eta := func(what string, p *member, position int, want time.Time, pace time.Duration) {
		t.Helper()
		me := p.state(t).Me
		if me.Position != position || me.ETA == nil || !me.ETA.Equal(want) || me.Pace != int(pace/time.Second) {
			t.Errorf("%s: position %d ETA %v pace %ds, want %d %v %ds", what, me.Position, me.ETA, me.Pace, position, want, int(pace/time.Second))
		}
	}
	refresh := func(at time.Duration) {
		t.Helper()
		e.clock.Set(start.Add(at))
		must(t, "a change sends the states", k.RaiseHand(ctx, b, !b.state(t).Me.Hand))
	}
	eta("before the start", b, 2, start.Add(per), per)

	e.clock.Set(start)
	must(t, "call A1", k.CallNext(ctx, leader))
	eta("A1 just called", b, 1, start.Add(per), per)
	refresh(10 * time.Minute)
	eta("A1 ten minutes in", b, 1, start.Add(per), per)
	refresh(25 * time.Minute) // A1 runs ten minutes over: B1 is due any moment
	eta("A1 over its time", b, 1, start.Add(25*time.Minute), per)
	eta("hall A's second", a, 2, start.Add(25*time.Minute+per), per)

	must(t, "end A1 after 25 minutes", k.EndHearing(ctx, leader, reception.OutcomeAnswered, ""))
	pace := 25 * time.Minute
	eta("after A1", b, 1, start.Add(25*time.Minute), pace)
	eta("hall A's second after A1", a, 2, start.Add(25*time.Minute+pace), pace)

	e.clock.Set(start.Add(30 * time.Minute))
	must(t, "call B1", k.CallNext(ctx, leader))
	eta("B1 on stage", a, 1, start.Add(30*time.Minute+pace), pace)
	refresh(35 * time.Minute)
	eta("B1 five minutes in", a, 1, start.Add(30*time.Minute+pace), pace)
	e.clock.Set(start.Add(40 * time.Minute))
	must(t, "end B1 after 10 minutes", k.EndHearing(ctx, leader, reception.OutcomeAnswered, ""))
	pace = (25*time.Minute + 10*time.Minute) / 2
	eta("after B1", a, 1, start.Add(40*time.Minute), pace)
	eta("hall B's second after B1", b, 2, start.Add(40*time.Minute+pace), pace)
}

// TestCallTiles: every picture is captioned by its place; the hall on stage adds its petitioner,
// masked, for those who see the hearing; nobody reads the operator's own name.
func TestCallTiles(t *testing.T) {
	e := newTestEnv(t, nil)
	ctx := context.Background()
	hallA, hallB := e.session.HallIDs[0], e.session.HallIDs[1]
	rsj := e.unit("330102-RSJ")
	leader, k := e.enter("leader", "demo-leader", auth.SeatStudio, 0, 0)
	a, _ := e.enter("hallA", "demo-operator", auth.SeatHall, hallA, 0)
	b, _ := e.enter("hallB", "demo-operator2", auth.SeatHall, hallB, 0)
	unit, _ := e.enter("unit", "demo-handler", auth.SeatUnit, 0, rsj.ID)
	obs, _ := e.enter("observer", "demo-observer", auth.SeatObserver, 0, 0)
	must(t, "call A1", k.CallNext(ctx, leader))
	must(t, "stage the unit", k.StageUnit(ctx, leader, rsj.ID, true))
	tiles := func(p *member) map[string]string {
		out := map[string]string{}
		for _, tl := range p.state(t).Tiles {
			out[tl.ParticipantID] = tl.Place + "|" + tl.Person
			for _, u := range e.users {
				if u.DisplayName != "" && (tl.Place == u.DisplayName || tl.Person == u.DisplayName) {
					t.Errorf("%s reads a person's own name on %s: %+v", p.m.ID, tl.ParticipantID, tl)
				}
			}
		}
		return out
	}
	leaderName := e.session.LeaderName
	for _, c := range []struct {
		who  *member
		want map[string]string
	}{
		{leader, map[string]string{"hallA": "清波街道接访室|王**", "hallB": "湖滨街道接访室|", "unit": rsj.Name + "|", "leader": "市领导视频接访室|" + leaderName}},
		{a, map[string]string{"hallA": "清波街道接访室|王**", "leader": "市领导视频接访室|" + leaderName}},
		{unit, map[string]string{"hallA": "清波街道接访室|王**"}},
		// The waiting hall and the observers learn nobody's petitioner.
		{b, map[string]string{"hallA": "清波街道接访室|", "hallB": "湖滨街道接访室|"}},
		{obs, map[string]string{"hallA": "清波街道接访室|", "observer": "|"}},
	} {
		got := tiles(c.who)
		if len(got) != 5 {
			t.Errorf("%s has %d captions, want one per member: %v", c.who.m.ID, len(got), got)
		}
		for id, want := range c.want {
			if got[id] != want {
				t.Errorf("%s reads %s as %q, want %q", c.who.m.ID, id, got[id], want)
			}
		}
	}
}

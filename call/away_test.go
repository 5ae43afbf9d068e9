package call_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"go.uber.org/zap"

	"sanji/auth"
	"sanji/recording"
	"sanji/sfu"
)

// TestReleasedHallLeavesTheStage: a hall on stage whose seat is released after its grace period
// takes the stage with it — the recording is sealed with the gap and the release noted, the
// hearing is paused, not ended — and the studio is told; the hall joins again as a waiting hall
// (the studio is told it is back), and the leader calls the same booking again: the same case.
func TestReleasedHallLeavesTheStage(t *testing.T) {
	dir := t.TempDir()
	rec, err := recording.New(recording.Config{Dir: dir, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rec.Close() })
	e := newTestEnv(t, rec)
	ctx := context.Background()
	hallA, hallB := e.session.HallIDs[0], e.session.HallIDs[1]
	leader, k := e.enter("leader", "demo-leader", auth.SeatStudio, 0, 0)
	a, _ := e.enter("hallA", "demo-operator", auth.SeatHall, hallA, 0)
	b, _ := e.enter("hallB", "demo-operator2", auth.SeatHall, hallB, 0)
	must(t, "call next", k.CallNext(ctx, leader))
	must(t, "acknowledge", k.AckRecording(ctx, a))
	stage := leader.state(t).Stage
	if !k.OnStage("hallA") || !k.OnStage("leader") || k.OnStage("hallB") || k.OnStage("nobody") {
		t.Fatal("OnStage does not follow the stage")
	}

	// A waiting hall's release changes nothing on stage and tells nobody.
	leader.takeNotices()
	k.Released(b)
	if st := leader.state(t); st.Stage == nil || st.Stage.AppointmentID != stage.AppointmentID {
		t.Fatalf("a waiting hall's release cleared the stage: %+v", st.Stage)
	}
	if n := leader.takeNotices(); len(n) != 0 {
		t.Errorf("a waiting hall's release told the studio %+v", n)
	}

	k.LinkChanged("hallA", true)
	k.Released(a)
	st := leader.state(t)
	if st.Stage != nil || st.Phase != "idle" {
		t.Fatalf("the released hall is still on stage: %+v", st.Stage)
	}
	if n := leader.takeNotices(); len(n) != 1 || n[0].Kind != "hall_released" || n[0].MessageZH == "" {
		t.Fatalf("studio notices after the release: %+v", n)
	}
	// The booking waits at the head of the queue, not ended.
	var item string
	for _, q := range st.Queue {
		if q.AppointmentID == stage.AppointmentID {
			item = q.Status
		}
	}
	if item != "checked_in" {
		t.Fatalf("the paused booking's status %q, want checked_in", item)
	}
	// One recording, sealed, with the gap and the release noted.
	hearings, _ := filepath.Glob(filepath.Join(dir, "*", "*", "manifest.json"))
	if len(hearings) == 0 {
		hearings, _ = filepath.Glob(filepath.Join(dir, "*", "manifest.json"))
	}
	if len(hearings) != 1 {
		entries, _ := os.ReadDir(dir)
		t.Fatalf("recordings: %v (dir holds %v)", hearings, entries)
	}
	m, err := recording.ReadManifest(filepath.Dir(hearings[0]))
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, n := range m.Notes {
		kinds = append(kinds, n.Kind)
	}
	if m.EndedAt.IsZero() || !slices.Contains(kinds, "link_lost") || !slices.Contains(kinds, "released") {
		t.Fatalf("recording ended at %v with notes %v, want closed with link_lost and released", m.EndedAt, kinds)
	}

	// The hall joins again: waiting, not on stage; the studio is told once.
	a2, _ := e.enter("hallA-2", "demo-operator", auth.SeatHall, hallA, 0)
	if k.OnStage("hallA-2") || allow(k, leader, a2, sfu.KindVideo) {
		t.Fatal("the hall came back on stage by itself")
	}
	if n := leader.takeNotices(); len(n) != 1 || n[0].Kind != "hall_back" {
		t.Fatalf("studio notices after the rejoin: %+v", n)
	}
	if st := a2.state(t); st.Me.OnStage {
		t.Fatalf("the rejoined hall's state: %+v", st.Me)
	}
	// The leader calls the same booking again: the same case, on stage again.
	must(t, "call the booking again", k.CallAppointment(ctx, leader, stage.AppointmentID))
	again := leader.state(t).Stage
	if again == nil || again.CaseID != stage.CaseID || !allow(k, leader, a2, sfu.KindVideo) {
		t.Fatalf("called again: %+v, first %+v", again, stage)
	}
	if n := leader.takeNotices(); len(n) != 0 {
		t.Errorf("notices after calling again: %+v", n)
	}
}

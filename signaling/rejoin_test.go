package signaling_test

import (
	"encoding/json"
	"testing"
	"time"

	"sanji/auth"
	"sanji/client"
	"sanji/signaling"
)

// noticed reports whether p was sent a call_notice of kind.
func noticed(p *peer, kind string) bool {
	return p.inbox.find(func(m signaling.Message) bool {
		var d struct {
			Kind string `json:"kind"`
		}
		return m.Type == signaling.TypeCallNotice && json.Unmarshal(m.Data, &d) == nil && d.Kind == kind
	})
}

// TestOnStageGraceOutlivesIdleSeats: two halls lose their sockets at once; the waiting one is
// released after resume_grace, the one on stage is kept for resume_grace_on_stage and resumes,
// still on stage.
func TestOnStageGraceOutlivesIdleSeats(t *testing.T) {
	ce := newCallEnv(t, func(c *signaling.Config) { c.ResumeGrace, c.ResumeGraceOnStage = 300*time.Millisecond, 20*time.Second })
	hallA, hallB := ce.session.HallIDs[0], ce.session.HallIDs[1]
	leader := ce.join(t, "leader", "demo-leader", auth.SeatStudio, 0, 0)
	a := ce.join(t, "hallA", "demo-operator", auth.SeatHall, hallA, 0)
	b := ce.join(t, "hallB", "demo-operator2", auth.SeatHall, hallB, 0)
	if err := leader.request(signaling.TypeCallNext, nil); err != nil {
		t.Fatal(err)
	}
	if err := a.request(signaling.TypeAckRecording, nil); err != nil {
		t.Fatal(err)
	}
	onStage := func() bool {
		st, ok := leader.lastState()
		return ok && st.Phase == "hearing" && st.Stage != nil && st.Stage.HallID == hallA
	}
	eventually(t, "hearing", onStage)

	a.c.DropSocket()
	b.c.DropSocket()
	eventually(t, "the waiting hall released", func() bool { return left(leader, "hallB") })
	// Ten idle graces later the hall on stage is still there, and on stage.
	deadline := time.Now().Add(10 * 300 * time.Millisecond)
	for time.Now().Before(deadline) {
		if left(leader, "hallA") || !onStage() {
			t.Fatal("the hall on stage was released with the idle grace")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := a.resume(t, ce.wsURL); err != nil {
		t.Fatalf("resume of the hall on stage: %v", err)
	}
	if !onStage() || noticed(leader, "hall_released") {
		t.Fatal("the hall left the stage")
	}
}

// TestReleasedHallRejoins: with the idle grace for everyone, the hall on stage is released: the
// stage is cleared and the studio told; the hall joins again (rejoin), waits, the studio is told
// it is back, and the rejoin is counted.
func TestReleasedHallRejoins(t *testing.T) {
	ce := newCallEnv(t, func(c *signaling.Config) { c.ResumeGrace = 300 * time.Millisecond })
	hallA := ce.session.HallIDs[0]
	leader := ce.join(t, "leader", "demo-leader", auth.SeatStudio, 0, 0)
	a := ce.join(t, "hallA", "demo-operator", auth.SeatHall, hallA, 0)
	if err := leader.request(signaling.TypeCallNext, nil); err != nil {
		t.Fatal(err)
	}
	if err := a.request(signaling.TypeAckRecording, nil); err != nil {
		t.Fatal(err)
	}
	eventually(t, "hearing", func() bool {
		st, ok := leader.lastState()
		return ok && st.Phase == "hearing"
	})
	a.c.DropSocket()
	eventually(t, "the hall released and the studio told", func() bool { return left(leader, "hallA") && noticed(leader, "hall_released") })
	eventually(t, "the stage cleared", func() bool {
		st, ok := leader.lastState()
		return ok && st.Stage == nil && st.Phase == "idle"
	})
	if err := a.resume(t, ce.wsURL); err == nil {
		t.Fatal("a resume after the grace was accepted")
	}

	// A fresh seat token, as the page asks the API for one (a seat token seats one client: the
	// first, bound to its use, is refused).
	back := ce.joinWith(t, "hallA-again", "demo-operator", auth.SeatHall, hallA, 0, client.Options{Rejoin: true})
	eventually(t, "the studio told the hall is back", func() bool { return noticed(leader, "hall_back") })
	eventually(t, "the hall waits", func() bool {
		st, ok := back.lastState()
		return ok && !st.Me.OnStage && st.Phase == "idle"
	})
	if got := ce.metric("sanji_signaling_rejoins_total"); got != 1 {
		t.Errorf("rejoins counted: %v, want 1", got)
	}
}

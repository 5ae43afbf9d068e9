package signaling_test

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"sanji/auth"
	"sanji/client"
	"sanji/recording"
	"sanji/signaling"
)

// resume takes p's participant back on a new socket.
func (p *peer) resume(t *testing.T, wsURL string) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return p.c.Resume(ctx, wsURL)
}

// reconnecting waits until p was told that participant id is (or is no longer) reconnecting,
// after the n-th message of p's inbox.
func (p *peer) waitReconnecting(t *testing.T, from int, id string, want bool) {
	t.Helper()
	eventually(t, "participant_reconnecting", func() bool {
		p.inbox.mu.Lock()
		defer p.inbox.mu.Unlock()
		for _, m := range p.inbox.msgs[from:] {
			var d signaling.ParticipantReconnectingData
			if m.Type == signaling.TypeParticipantReconnecting && json.Unmarshal(m.Data, &d) == nil &&
				d.ParticipantID == id && d.Reconnecting == want {
				return true
			}
		}
		return false
	})
}

func (in *inbox) len() int {
	in.mu.Lock()
	defer in.mu.Unlock()
	return len(in.msgs)
}

func left(p *peer, id string) bool {
	return p.inbox.find(func(m signaling.Message) bool {
		var d signaling.ParticipantLeftData
		return m.Type == signaling.TypeParticipantLeft && json.Unmarshal(m.Data, &d) == nil && d.ParticipantID == id
	})
}

func TestResumeKeepsTheParticipant(t *testing.T) {
	e := newEnv(t, func(c *signaling.Config) { c.ResumeGrace = 10 * time.Second })
	a := e.connect(t, "resume", "a")
	b := e.connect(t, "resume", "b")
	a.publish()
	b.publish()
	flowing(t, "b <- a", b, a, 20)
	first := a.c.ResumeToken()
	if first == "" {
		t.Fatal("joined carries no resume token")
	}

	// a's socket drops: b is told a is reconnecting, and a does not leave.
	mark := b.inbox.len()
	a.c.DropSocket()
	b.waitReconnecting(t, mark, "a", true)

	// a comes back on a new socket from another address (its network changed): the same
	// participant, its tracks and subscriptions kept; then it restarts ICE on both connections,
	// and media flows both ways.
	mark = b.inbox.len()
	a.c.SetDialer(&websocket.Dialer{NetDialContext: (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}}).DialContext})
	if err := a.resume(t, e.wsURL); err != nil {
		t.Fatalf("resume: %v", err)
	}
	b.waitReconnecting(t, mark, "a", false)
	if left(b, "a") {
		t.Fatal("b was told a left")
	}
	var resumed signaling.JoinedData
	a.inbox.waitFor(t, "resumed", func(m signaling.Message) bool {
		return m.Type == signaling.TypeResumed && json.Unmarshal(m.Data, &resumed) == nil
	})
	if resumed.Participant.ID != "a" || len(resumed.Participant.Tracks) != 2 || len(resumed.Participants) != 1 ||
		resumed.ResumeToken == "" || resumed.ResumeToken == first {
		t.Fatalf("resumed: %+v", resumed)
	}
	restarts := e.metric("sanji_signaling_ice_restarts_total")
	if err := a.c.RestartICE(); err != nil {
		t.Fatalf("ICE restart: %v", err)
	}
	eventually(t, "the subscriber's ICE restart counted", func() bool {
		return e.metric("sanji_signaling_ice_restarts_total") > restarts
	})
	flowing(t, "b <- a after resume and ICE restart", b, a, 30)
	flowing(t, "a <- b after resume and ICE restart", a, b, 30)
	if got := e.metric("sanji_signaling_resumes_total", "result=ok"); got != 1 {
		t.Errorf("resumes counted: %v", got)
	}
	if got := e.metric("sanji_signaling_reconnect_seconds"); got < 1 {
		t.Errorf("no time to media measured: %v", got)
	}

	// The first token was used: it takes nobody back, even while a is connected.
	r := e.dialRaw()
	r.send(signaling.TypeResume, "r1", signaling.ResumeData{Token: first, ParticipantID: "a"})
	r.expectError(signaling.CodeResumeRefused, "r1")
	// b's valid token shown as a's is refused, and still takes b back afterwards.
	r.send(signaling.TypeResume, "r2", signaling.ResumeData{Token: b.c.ResumeToken(), ParticipantID: "a"})
	r.expectError(signaling.CodeResumeRefused, "r2")
	r.send(signaling.TypeResume, "r3", signaling.ResumeData{Token: "made-up", ParticipantID: "b"})
	r.expectError(signaling.CodeResumeRefused, "r3")
	r.send(signaling.TypeResume, "r4", signaling.ResumeData{ParticipantID: "b"})
	r.expectError(signaling.CodeInvalid, "r4")
	// Another path: b's socket is still open when it resumes (its network changed before the
	// server noticed); the new socket takes over, the old one is closed.
	if err := b.c.Resume(context.Background(), e.wsURL); err == nil {
		t.Fatal("the client resumed over an open socket")
	}
	b.c.DropSocket()
	if err := b.resume(t, e.wsURL); err != nil {
		t.Fatalf("b resumes with its own token after it was shown for a: %v", err)
	}
	r.ping("still-open") // a refused resume leaves the socket open, to join or try again
}

func TestResumeAfterTheGraceIsRefused(t *testing.T) {
	e := newEnv(t, func(c *signaling.Config) { c.ResumeGrace = 300 * time.Millisecond })
	a := e.connect(t, "grace", "a")
	b := e.connect(t, "grace", "b")
	a.publish()
	flowing(t, "b <- a", b, a, 10)

	a.c.DropSocket()
	eventually(t, "a released after the grace", func() bool { return left(b, "a") })
	stopped(t, "nothing of a after its release", b, a)
	if err := a.resume(t, e.wsURL); err == nil {
		t.Fatal("a resumed after the grace period")
	} else {
		var pe *signaling.Error
		if !errors.As(err, &pe) || pe.Code != signaling.CodeResumeRefused {
			t.Fatalf("resume after the grace: %v", err)
		}
	}
	if e.metric("sanji_signaling_resumes_total", "result=expired") != 1 || e.metric("sanji_signaling_resumes_total", "result=refused") != 1 {
		t.Errorf("resumes counted: %v expired, %v refused", e.metric("sanji_signaling_resumes_total", "result=expired"),
			e.metric("sanji_signaling_resumes_total", "result=refused"))
	}
}

func TestResumeOffLeavesWithTheSocket(t *testing.T) {
	e := newEnv(t, func(c *signaling.Config) { c.ResumeGrace = -1 })
	a := e.connect(t, "off", "a")
	b := e.connect(t, "off", "b")
	if a.c.ResumeToken() != "" {
		t.Error("a resume token without resume")
	}
	a.c.DropSocket()
	eventually(t, "a left with its socket", func() bool { return left(b, "a") })
}

// The hall on stage loses its socket and comes back: the stage, the hearing and the recording go
// on, the studio saw it reconnecting, the recording notes the gap, and media flows again.
func TestCallResumeKeepsTheStage(t *testing.T) {
	ce := newCallEnv(t)
	hallA := ce.session.HallIDs[0]
	leader := ce.join(t, "leader", "demo-leader", auth.SeatStudio, 0, 0)
	a := ce.join(t, "hallA", "demo-operator", auth.SeatHall, hallA, 0)
	for _, p := range []*peer{leader, a} {
		p.ownTrack("video")
	}
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
	flowing(t, "studio <- hall A", leader, a, 30)

	mark := leader.inbox.len()
	a.c.DropSocket()
	leader.waitReconnecting(t, mark, "hallA", true)
	if err := a.resume(t, ce.wsURL); err != nil {
		t.Fatalf("resume: %v", err)
	}
	leader.waitReconnecting(t, mark, "hallA", false)
	if left(leader, "hallA") || !onStage() {
		t.Fatal("the hall left the stage")
	}
	// The hall gets its state again on the new socket.
	eventually(t, "hall's state after resume", func() bool {
		st, ok := a.lastState()
		return ok && st.Me.OnStage && st.Phase == "hearing"
	})
	if err := a.c.RestartICE(); err != nil {
		t.Fatal(err)
	}
	flowing(t, "studio <- hall A after resume", leader, a, 30)
	flowing(t, "hall A <- studio after resume", a, leader, 30)

	// The recording notes the gap, on the hall.
	dirs, err := filepath.Glob(filepath.Join(ce.recordings, "s*"))
	if err != nil || len(dirs) != 1 {
		t.Fatalf("recordings: %v %v", dirs, err)
	}
	eventually(t, "the gap noted in the recording", func() bool {
		m, err := recording.ReadManifest(dirs[0])
		if err != nil {
			return false
		}
		notes := map[string]bool{}
		for _, n := range m.Notes {
			notes[n.Kind+":"+n.Text] = true
		}
		return notes["link_lost:hallA"] && notes["link_restored:hallA"]
	})
	if _, err := os.Stat(dirs[0]); err != nil {
		t.Fatal(err)
	}
}

// A reconnect storm: 200 participants lose their sockets at once and all come back within a
// second; every one is back, and the server answers meanwhile.
func TestResumeStorm(t *testing.T) {
	const n = 200
	e := newEnv(t, func(c *signaling.Config) { c.ResumeGrace = 20 * time.Second; c.RateLimit = 1000 })
	clients := make([]*client.Client, n)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	sem := make(chan struct{}, 16)
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			c, err := client.Dial(ctx, e.wsURL, e.token("storm", "p"+itoa(i), "leader", time.Hour), client.Options{})
			if err != nil {
				errs <- err
				return
			}
			clients[i] = c
		}()
	}
	wg.Wait()
	t.Cleanup(func() {
		for _, c := range clients {
			if c != nil {
				_ = c.Close()
			}
		}
	})
	select {
	case err := <-errs:
		t.Fatalf("dial: %v", err)
	default:
	}

	watcher := e.dialRaw()
	watcher.ping("before")
	for _, c := range clients {
		wg.Add(1)
		go func() { defer wg.Done(); c.DropSocket() }()
	}
	wg.Wait()
	start := time.Now()
	var slowest time.Duration
	var mu sync.Mutex
	for i, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Spread over one second, as clients with jittered back-off come back.
			time.Sleep(time.Duration(i) * time.Second / n)
			t0 := time.Now()
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			if err := c.Resume(ctx, e.wsURL); err != nil {
				errs <- err
				return
			}
			mu.Lock()
			slowest = max(slowest, time.Since(t0))
			mu.Unlock()
		}()
	}
	// The server stays responsive while they come back.
	for i := range 5 {
		t0 := time.Now()
		watcher.ping("during-" + itoa(i))
		if d := time.Since(t0); d > 2*time.Second {
			t.Errorf("a ping took %v during the storm", d)
		}
	}
	wg.Wait()
	select {
	case err := <-errs:
		t.Fatalf("resume: %v", err)
	default:
	}
	t.Logf("%d resumes in %v, the slowest took %v", n, time.Since(start), slowest)
	// The count follows the reply the client has already read: wait for it, briefly.
	deadline := time.Now().Add(5 * time.Second)
	for e.metric("sanji_signaling_resumes_total", "result=ok") != n && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if got := e.metric("sanji_signaling_resumes_total", "result=ok"); got != n {
		t.Errorf("resumes counted: %v, want %d", got, n)
	}
	if s := e.srv.Sessions(); s != n+1 {
		t.Errorf("%d sessions open, want %d", s, n+1)
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

// metric is the sum of a metric family's samples (counters, and a histogram's count), or of
// those with the label value given as "name=value".
func (e *env) metric(name string, labels ...string) float64 {
	e.t.Helper()
	families, err := e.reg.Gather()
	if err != nil {
		e.t.Fatal(err)
	}
	sum := 0.0
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
	next:
		for _, m := range f.GetMetric() {
			for _, want := range labels {
				found := false
				for _, l := range m.GetLabel() {
					found = found || l.GetName()+"="+l.GetValue() == want
				}
				if !found {
					continue next
				}
			}
			switch {
			case m.GetCounter() != nil:
				sum += m.GetCounter().GetValue()
			case m.GetHistogram() != nil:
				sum += float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return sum
}

package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"

	"sanji/bench"
	"sanji/client"
	"sanji/recording"
	"sanji/signaling"
)

// failoverPeer is a Go client of the test that publishes audio and counts what it receives.
type failoverPeer struct {
	c     *client.Client
	got   atomic.Int64 // RTP packets received, on any connection
	mu    sync.Mutex
	state signaling.CallState // the last call_state
	stop  chan struct{}
	done  chan struct{}
	once  sync.Once
}

// close stops publishing and leaves.
func (p *failoverPeer) close() {
	p.once.Do(func() {
		close(p.stop)
		<-p.done
		_ = p.c.Close()
	})
}

func dialFailoverPeer(t *testing.T, wsURL, token string) *failoverPeer {
	t.Helper()
	p := &failoverPeer{stop: make(chan struct{}), done: make(chan struct{})}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, wsURL, token, client.Options{AutoSubscribe: true,
		OnTrack: func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
			go func() { // ends when the track's connection closes
				for {
					if _, _, err := tr.ReadRTP(); err != nil {
						return
					}
					p.got.Add(1)
				}
			}()
		},
		OnMessage: func(m client.Message) {
			if m.Type != signaling.TypeCallState {
				return
			}
			var st signaling.CallState
			if m.Decode(&st) == nil {
				p.mu.Lock()
				p.state = st
				p.mu.Unlock()
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	p.c = c
	tr, err := webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "audio", "stream")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Publish(tr); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(p.done)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-p.stop:
				return
			case <-tick.C:
				_ = tr.WriteSample(media.Sample{Data: []byte{0xf8, 0xff, 0xfe}, Duration: 20 * time.Millisecond})
			}
		}
	}()
	t.Cleanup(p.close)
	return p
}

func (p *failoverPeer) stage() *signaling.StageView {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.state.Stage
}

// receiving waits until p has received n more packets than now.
func (p *failoverPeer) receiving(t *testing.T, n int64, d time.Duration) {
	t.Helper()
	from := p.got.Load()
	waitUntil(t, d, "media", func() bool { return p.got.Load() >= from+n })
}

func waitUntil(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(d); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("%s: not within %v", what, d)
		}
	}
}

// TestFailoverKillNineMidReception: two `sanji serve` processes on one PostgreSQL and one Redis;
// a reception call on node 1 with the leader and a hall (Go clients) exchanging audio, a hearing
// on stage and acknowledged. Node 1 is killed with SIGKILL. Node 2 takes the call over; both
// clients resume there (renewing their media) and receive each other's audio again within 6 s
// of the takeover, with the same hearing on stage.
func TestFailoverKillNineMidReception(t *testing.T) {
	redisAddr := os.Getenv("SANJI_TEST_REDIS")
	if redisAddr == "" {
		t.Skip("SANJI_TEST_REDIS is not set (CI sets it)")
	}
	dsn := testPGSchema(t)
	bin := buildBinary(t)
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	env := []string{"SANJI_STORE_DSN=" + dsn}
	// The recordings on storage both nodes see, as a cluster needs.
	recDir := t.TempDir()
	args := func(id string, serves string) []string {
		a := []string{"--recording-dir", recDir, "--redis-addr", redisAddr, "--redis-key-prefix", "sanjitest-" + hex.EncodeToString(b), "--cluster-node-id", id}
		if serves != "" {
			a = append(a, "--cluster-serves", serves)
		}
		return a
	}
	// Node 1 serves the bench city, so the call is placed there.
	n1 := startServerEnv(t, bin, env, args("n1", benchCityCode)...)
	n2 := startServerEnv(t, bin, env, args("n2", "")...)
	ws := func(base string) string { return "ws" + strings.TrimPrefix(base, "http") + "/ws" }

	resp, raw := postReception(t, testHTTPClient(t), n1.url, `{"halls": 1, "petitioners_per_hall": 2}`)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s %s", resp.Status, raw)
	}
	var seats bench.ReceptionSeats
	if err := json.Unmarshal(raw, &seats); err != nil {
		t.Fatal(err)
	}
	leader := dialFailoverPeer(t, ws(n1.url), seats.Studio.Token)
	hall := dialFailoverPeer(t, ws(n1.url), seats.Halls[0].Token)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := leader.c.Request(ctx, signaling.TypeCallNext, struct{}{}); err != nil {
		t.Fatal(err)
	}
	if _, err := hall.c.Request(ctx, signaling.TypeAckRecording, struct{}{}); err != nil {
		t.Fatal(err)
	}
	leader.receiving(t, 50, 10*time.Second)
	hall.receiving(t, 50, 10*time.Second)
	waitUntil(t, 5*time.Second, "hearing acknowledged", func() bool {
		g := leader.stage()
		return g != nil && g.RecordingAcknowledged
	})
	before := *leader.stage()

	n1.signal(syscall.SIGKILL)
	killed := time.Now()
	n1.wait(time.Minute)

	// Both clients come back on node 2; until it has taken the call it refuses (wrong_node).
	var wg sync.WaitGroup
	backAt := make([]time.Time, 2)
	errs := make([]error, 2)
	for i, p := range []*failoverPeer{leader, hall} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for end := time.Now().Add(30 * time.Second); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
				rctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				errs[i] = p.c.Resume(rctx, ws(n2.url))
				cancel()
				if errs[i] == nil {
					backAt[i] = time.Now()
					return
				}
			}
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("client %d did not resume on node 2: %v\n%s", i, err, n2.output())
		}
	}
	resumed := backAt[0]
	if backAt[1].After(resumed) {
		resumed = backAt[1]
	}
	// Media both ways again, on the new connections.
	leader.receiving(t, 50, 6*time.Second)
	hall.receiving(t, 50, 6*time.Second)
	t.Logf("killed → resumed %v, → media both ways %v", resumed.Sub(killed).Round(time.Millisecond), time.Since(killed).Round(time.Millisecond))
	if d := time.Since(killed); d > 5*time.Second+6*time.Second {
		t.Fatalf("back with media %v after the kill: more than the node TTL and 6 s", d)
	}
	waitUntil(t, 5*time.Second, "the hearing on stage again", func() bool { return leader.stage() != nil })
	after := *leader.stage()
	if after.AppointmentID != before.AppointmentID || after.CaseID != before.CaseID || after.StartedAt == nil || before.StartedAt == nil || !after.StartedAt.Equal(*before.StartedAt) ||
		!after.RecordingAcknowledged {
		t.Fatalf("hearing changed: before %+v, after %+v", before, after)
	}

	// The recording: one hearing, its first segments interrupted, new ones recording after them
	// on the same chain; sealed whole when the call ends.
	dirs, _ := filepath.Glob(filepath.Join(recDir, fmt.Sprintf("s%d-a*", seats.SessionID)))
	if len(dirs) != 1 {
		t.Fatalf("hearing directories: %v", dirs)
	}
	waitUntil(t, 10*time.Second, "new segments recording", func() bool {
		m, err := recording.ReadManifest(dirs[0])
		if err != nil {
			return false
		}
		interrupted, second := 0, 0
		for _, tr := range m.Tracks {
			if tr.End == recording.EndInterrupted {
				interrupted++
			}
			if tr.Segment == 2 {
				second++
			}
		}
		return interrupted == 2 && second == 2
	})
	leader.close()
	hall.close()
	var m *recording.Manifest
	waitUntil(t, 20*time.Second, "the hearing sealed", func() bool {
		var err error
		m, err = recording.ReadManifest(dirs[0])
		return err == nil && m.Chain.Head != ""
	})
	rep, err := recording.Verify(dirs[0], m.Chain.Head)
	if err != nil || !rep.OK {
		t.Fatalf("verify: %+v %v", rep, err)
	}
	taken := false
	for _, n := range m.Notes {
		taken = taken || n.Kind == "taken_over"
	}
	if !taken || rep.Files != 4 {
		t.Fatalf("manifest: %d files checked, notes %+v, tracks %+v", rep.Files, m.Notes, m.Tracks)
	}
}

// TestResumeOnAnotherNode, in process: two nodes on one Redis. A participant on node a loses its
// socket; its resume is refused on node b while a lives and owns the room (wrong_node, the
// record left for a), and a wrong token is refused. When a has left the cluster, b takes the
// room and the resume: the participant is seated on b with renew_media, publishes again on new
// connections, and a newcomer on b receives its audio.
func TestResumeOnAnotherNode(t *testing.T) {
	redisAddr := os.Getenv("SANJI_TEST_REDIS")
	if redisAddr == "" {
		t.Skip("SANJI_TEST_REDIS is not set (CI sets it)")
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	prefix := "sanjitest-" + hex.EncodeToString(b)
	a := startTestApp(t, clusterTestConfig(t, redisAddr, prefix, "a"))
	bn := startTestApp(t, clusterTestConfig(t, redisAddr, prefix, "b"))
	bn.cluster.node.Load().DrainLocal() // the room goes to a
	ws := func(base string) string { return "ws" + strings.TrimPrefix(base, "http") + "/ws" }
	waitUntil(t, 10*time.Second, "a sees b draining", func() bool {
		v, _ := a.cluster.node.Load().View()
		return len(v) == 2 && v[1].ID == "b" && v[1].Draining
	})

	hc := testHTTPClient(t)
	p := dialFailoverPeer(t, ws(a.URL()), devToken(t, hc, a.URL(), "room-f", "甲"))
	p.c.DropSocket()

	resume := func(base string, d signaling.ResumeData) (string, map[string]any) {
		t.Helper()
		conn, _, err := websocket.DefaultDialer.Dial(ws(base), nil)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if err := conn.WriteJSON(map[string]any{"v": 1, "type": "resume", "id": "r", "data": d}); err != nil {
			t.Fatal(err)
		}
		for {
			_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
			var m struct {
				Type string         `json:"type"`
				Data map[string]any `json:"data"`
			}
			if err := conn.ReadJSON(&m); err != nil {
				t.Fatalf("read: %v", err)
			}
			if m.Type == "resumed" || m.Type == "error" {
				return m.Type, m.Data
			}
		}
	}
	d := signaling.ResumeData{Token: p.c.ResumeToken(), ParticipantID: p.c.ID(), Room: "room-f"}
	if typ, data := resume(bn.URL(), d); typ != "error" || data["code"] != "wrong_node" {
		t.Fatalf("resume on b while a owns the room: %s %v", typ, data)
	}
	// a leaves the cluster (as if gone; its participant stays kept there): b takes new rooms.
	if err := a.cluster.node.Load().Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := bn.cluster.node.Load().Undrain(context.Background(), "b"); err != nil {
		t.Fatal(err)
	}
	bad := d
	bad.Token = "not-the-token"
	if typ, data := resume(bn.URL(), bad); typ != "error" || data["code"] != "resume_refused" {
		t.Fatalf("resume on b with a wrong token: %s %v", typ, data)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := p.c.Resume(ctx, ws(bn.URL())); err != nil {
		t.Fatalf("resume on b: %v", err)
	}
	// The token was used once, cluster-wide.
	if typ, data := resume(bn.URL(), d); typ != "error" || data["code"] != "resume_refused" {
		t.Fatalf("the old token again: %s %v", typ, data)
	}
	watcher := dialFailoverPeer(t, ws(bn.URL()), devToken(t, hc, bn.URL(), "room-f", "乙"))
	watcher.receiving(t, 50, 10*time.Second)
	if got := p.c.Joined().Room; got != "room-f" {
		t.Fatalf("room %q", got)
	}
}

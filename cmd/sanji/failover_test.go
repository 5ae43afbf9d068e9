package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"

	"sanji/bench"
	"sanji/client"
	"sanji/cluster"
	"sanji/recording"
	"sanji/signaling"
)

// failoverPeer is a Go client of the test that publishes audio and counts what it receives.
type failoverPeer struct {
	c     *client.Client
	base  string       // the node it joined
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
	p, err := tryFailoverPeer(t, wsURL, token)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func tryFailoverPeer(t *testing.T, wsURL, token string) (*failoverPeer, error) {
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
		return nil, err
	}
	p.c = c
	publishAudio(t, c, p.stop, p.done)
	t.Cleanup(p.close)
	return p, nil
}

// publishAudio publishes an Opus track on c and sends 50 packets a second until stop is closed;
// done is closed when it has stopped.
func publishAudio(t testing.TB, c *client.Client, stop <-chan struct{}, done chan<- struct{}) {
	t.Helper()
	tr, err := webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "audio", "stream")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Publish(tr); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(done)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				_ = tr.WriteSample(media.Sample{Data: []byte{0xf8, 0xff, 0xfe}, Duration: 20 * time.Millisecond})
			}
		}
	}()
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

// failoverCluster is two `sanji serve` processes on one PostgreSQL schema, one Redis key
// prefix and one recordings directory (storage both nodes see, as a cluster needs).
type failoverCluster struct {
	t      *testing.T
	bin    string
	env    []string
	args   func(id string) []string
	recDir string
}

func newFailoverCluster(t *testing.T) *failoverCluster {
	redisAddr := os.Getenv("SANJI_TEST_REDIS")
	if redisAddr == "" {
		t.Skip("SANJI_TEST_REDIS is not set (CI sets it)")
	}
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	// The nodes of a cluster sign and check join tokens with one secret.
	fc := &failoverCluster{t: t, env: []string{"SANJI_STORE_DSN=" + testPGSchema(t), "SANJI_TOKEN_SECRET=" + hex.EncodeToString(b),
		"SANJI_IDENTITY_KEYS=" + testIdentityKeys(t)},
		bin: buildBinary(t), recDir: t.TempDir()}
	b = b[:6]
	prefix := "sanjitest-" + hex.EncodeToString(b)
	fc.args = func(id string) []string {
		return []string{"--recording-dir", fc.recDir, "--redis-addr", redisAddr, "--redis-key-prefix", prefix, "--cluster-node-id", id}
	}
	return fc
}

func (fc *failoverCluster) start(id string) *serverProcess {
	return startServerEnv(fc.t, fc.bin, fc.env, fc.args(id)...)
}

// failoverTrial is one failover: a reception booked, its leader and hall (Go clients) in the
// call with audio both ways and the hearing on stage and acknowledged; the call's node killed
// with SIGKILL; both clients resuming on the other node until it has taken the call, then
// receiving each other's audio again.
type failoverTrial struct {
	seats         bench.ReceptionSeats
	owner         *serverProcess
	leader, hall  *failoverPeer
	before, after signaling.StageView
	toResume      time.Duration // kill → both clients resumed
	toMedia       time.Duration // kill → both receive the other's audio again
}

func runFailoverTrial(t *testing.T, nodes [2]*serverProcess) *failoverTrial {
	t.Helper()
	ft := &failoverTrial{}
	resp, raw := postReception(t, testHTTPClient(t), nodes[0].url, `{"halls": 1, "petitioners_per_hall": 2}`)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s %s", resp.Status, raw)
	}
	if err := json.Unmarshal(raw, &ft.seats); err != nil {
		t.Fatal(err)
	}
	// The leader finds the call's node: the one that does not refuse it.
	survivor := nodes[1]
	ft.owner = nodes[0]
	ft.leader = dialFailoverPeerOn(t, []string{nodes[0].url, nodes[1].url}, ft.seats.Studio.Token)
	if ft.leader.base == nodes[1].url {
		ft.owner, survivor = nodes[1], nodes[0]
	}
	ft.hall = dialFailoverPeer(t, wsOf(ft.owner.url), ft.seats.Halls[0].Token)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := ft.leader.c.Request(ctx, signaling.TypeCallNext, struct{}{}); err != nil {
		t.Fatal(err)
	}
	if _, err := ft.hall.c.Request(ctx, signaling.TypeAckRecording, struct{}{}); err != nil {
		t.Fatal(err)
	}
	ft.leader.receiving(t, 50, 10*time.Second)
	ft.hall.receiving(t, 50, 10*time.Second)
	waitUntil(t, 5*time.Second, "hearing acknowledged", func() bool {
		g := ft.leader.stage()
		return g != nil && g.RecordingAcknowledged
	})
	ft.before = *ft.leader.stage()

	ft.owner.signal(syscall.SIGKILL)
	killed := time.Now()
	ft.owner.wait(time.Minute)

	// Both clients come back on the other node; until it has taken the call it refuses
	// (wrong_node, naming the dead node while its registry entry lasts).
	var wg sync.WaitGroup
	backAt := make([]time.Time, 2)
	errs := make([]error, 2)
	for i, p := range []*failoverPeer{ft.leader, ft.hall} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for end := time.Now().Add(30 * time.Second); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
				rctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				errs[i] = p.c.Resume(rctx, wsOf(survivor.url))
				cancel()
				if e := (*client.Error)(nil); errs[i] != nil && (!errors.As(errs[i], &e) || e.Code != signaling.CodeWrongNode) {
					t.Logf("client %d: resume: %v", i, errs[i])
				}
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
			t.Fatalf("client %d did not resume on the other node: %v\n%s", i, err, survivor.output())
		}
	}
	resumed := backAt[0]
	if backAt[1].After(resumed) {
		resumed = backAt[1]
	}
	ft.toResume = resumed.Sub(killed)
	// Media both ways again, on the new connections: from the other's new track only (the
	// counters go on from what the old connections received).
	ft.leader.receiving(t, 20, 6*time.Second)
	ft.hall.receiving(t, 20, 6*time.Second)
	ft.toMedia = time.Since(killed)
	waitUntil(t, 5*time.Second, "the hearing on stage again", func() bool { return ft.leader.stage() != nil })
	ft.after = *ft.leader.stage()
	return ft
}

// dialFailoverPeerOn dials the nodes in turn until one takes the token (the others answer
// wrong_node).
func dialFailoverPeerOn(t *testing.T, bases []string, token string) *failoverPeer {
	t.Helper()
	for _, base := range bases {
		p, err := tryFailoverPeer(t, wsOf(base), token)
		if err == nil {
			// Dial follows wrong_node by itself: the node it joined is the one it ended on.
			p.base = base
			for _, b := range bases {
				if wsOf(b) == p.c.URL() {
					p.base = b
				}
			}
			return p
		}
		var e *client.Error
		if !errors.As(err, &e) || e.Code != signaling.CodeWrongNode {
			t.Fatal(err)
		}
	}
	t.Fatal("no node took the call")
	return nil
}

// TestFailoverKillNineMidReception: two `sanji serve` processes on one PostgreSQL and one Redis;
// a reception call with the leader and a hall (Go clients) exchanging audio, a hearing on stage
// and acknowledged. The call's node is killed with SIGKILL. The other takes the call over; both
// clients resume there (renewing their media) and receive each other's audio again within 6 s
// of the takeover, with the same hearing on stage; its recording continues in new segments on
// the same chain.
func TestFailoverKillNineMidReception(t *testing.T) {
	fc := newFailoverCluster(t)
	nodes := [2]*serverProcess{fc.start("n1"), fc.start("n2")}
	ft := runFailoverTrial(t, nodes)
	t.Logf("killed → resumed %v, → media both ways %v", ft.toResume.Round(time.Millisecond), ft.toMedia.Round(time.Millisecond))
	// The registry forgets a node within its TTL (cluster.node_ttl); the failover's budget is 6 s
	// after that.
	if ft.toMedia > cluster.DefaultNodeTTL+6*time.Second {
		t.Fatalf("back with media %v after the kill: more than the node TTL and 6 s", ft.toMedia)
	}
	before, after := ft.before, ft.after
	if after.AppointmentID != before.AppointmentID || after.CaseID != before.CaseID || after.StartedAt == nil ||
		before.StartedAt == nil || !after.StartedAt.Equal(*before.StartedAt) || !after.RecordingAcknowledged {
		t.Fatalf("hearing changed: before %+v, after %+v", before, after)
	}

	// The recording: one hearing, its first segments interrupted, new ones recording after them
	// on the same chain; sealed whole when the call ends.
	dirs, _ := filepath.Glob(filepath.Join(fc.recDir, fmt.Sprintf("s%d-a*", ft.seats.SessionID)))
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
	ft.leader.close()
	ft.hall.close()
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

// TestFailoverTrials measures failover (make bench-failover, docs/benchmarks.md): with
// SANJI_FAILOVER_TRIALS=n, n trials of runFailoverTrial on two nodes, the killed node started
// again after each; it reports the time from the kill to both clients back with media (p50,
// p95, max). A measurement, not a timed test: it fails only when a trial does not come back.
func TestFailoverTrials(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("SANJI_FAILOVER_TRIALS"))
	if n <= 0 {
		t.Skip("SANJI_FAILOVER_TRIALS is not set (make bench-failover)")
	}
	fc := newFailoverCluster(t)
	nodes := [2]*serverProcess{fc.start("n1"), fc.start("n2")}
	var toMedia, toResume []time.Duration
	for i := range n {
		ft := runFailoverTrial(t, nodes)
		toMedia, toResume = append(toMedia, ft.toMedia), append(toResume, ft.toResume)
		t.Logf("trial %d: killed → resumed %v, → media both ways %v", i+1, ft.toResume.Round(time.Millisecond), ft.toMedia.Round(time.Millisecond))
		ft.leader.close()
		ft.hall.close()
		id := "n1"
		if ft.owner == nodes[1] {
			id = "n2"
		}
		restarted := fc.start(id)
		if ft.owner == nodes[0] {
			nodes[0] = restarted
		} else {
			nodes[1] = restarted
		}
		// The next trial's call goes to either node; wait until both see each other.
		time.Sleep(cluster.DefaultHeartbeat + time.Second)
	}
	q := func(ds []time.Duration, p float64) time.Duration {
		s := slices.Clone(ds)
		slices.Sort(s)
		return s[min(len(s)-1, int(math.Ceil(p*float64(len(s))))-1)]
	}
	t.Logf("failover over %d trials: kill → both clients back with media p50 %v, p95 %v, max %v; kill → resumed p50 %v, p95 %v",
		n, q(toMedia, 0.5).Round(time.Millisecond), q(toMedia, 0.95).Round(time.Millisecond), q(toMedia, 1).Round(time.Millisecond),
		q(toResume, 0.5).Round(time.Millisecond), q(toResume, 0.95).Round(time.Millisecond))
}

// twoNodesBDraining starts two nodes in process, b drained (by the flag in Redis, which Undrain
// clears) so that new rooms go to a, and waits until a sees it.
func twoNodesBDraining(t *testing.T) (a, bn *app) {
	t.Helper()
	a, bn = twoTestNodes(t)
	if err := bn.cluster.node.Load().Drain(context.Background(), "b"); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 10*time.Second, "a sees b draining", func() bool {
		v, _ := a.cluster.node.Load().View()
		return len(v) == 2 && v[1].ID == "b" && v[1].Draining
	})
	return a, bn
}

// TestResumeOnAnotherNode, in process: two nodes on one Redis. A participant on node a loses its
// socket; its resume is refused on node b while a lives and owns the room (wrong_node, the
// record left for a), and a wrong token is refused. When a has left the cluster, b takes the
// room and the resume: the participant is seated on b with renew_media, publishes again on new
// connections, and a newcomer on b receives its audio.
func TestResumeOnAnotherNode(t *testing.T) {
	a, bn := twoNodesBDraining(t)
	ws := wsOf

	hc := testHTTPClient(t)
	p := dialFailoverPeer(t, ws(a.URL()), devToken(t, hc, a.URL(), "room-f", "甲"))
	p.c.DropSocket()

	resume := func(base string, d signaling.ResumeData) (string, map[string]any) {
		t.Helper()
		return wsAsk(t, base, "resume", d, "resumed")
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
	// b places the room on itself once its view no longer holds a (its next look).
	waitUntil(t, 10*time.Second, "b sees a gone", func() bool {
		v, _ := bn.cluster.node.Load().View()
		return len(v) == 1
	})
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

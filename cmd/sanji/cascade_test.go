package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"sanji/bench"
	"sanji/client"
	"sanji/recording"
	"sanji/signaling"
)

// cascadeNodes starts nodes on the test PostgreSQL and Redis, each serving the codes given.
func cascadeNodes(t *testing.T, serves map[string][]string) map[string]*app {
	t.Helper()
	redisAddr := os.Getenv("SANJI_TEST_REDIS")
	if redisAddr == "" {
		t.Skip("SANJI_TEST_REDIS is not set (CI sets it)")
	}
	dsn := testPGSchema(t)
	keys := testIdentityKeys(t)
	prefix := "sanjitest-cascade-" + time.Now().Format("150405.000000")
	nodes := map[string]*app{}
	for id, codes := range serves {
		cfg := clusterTestConfig(t, redisAddr, prefix, id)
		cfg.Store.DSN, cfg.Identity.Keys = dsn, keys
		cfg.TokenSecret = testClusterSecret
		cfg.Cluster.Serves = codes
		nodes[id] = startTestApp(t, cfg)
	}
	for _, n := range nodes {
		waitView(t, n, len(nodes))
	}
	return nodes
}

// TestCascadeReceptionAcrossTwoNodes: the city node a owns the call (it serves the studio's
// city); both halls are in a district that node b serves, so their media stays on b while their
// signaling is a's. In hall 1's hearing the leader and hall 1 receive each other across the one
// relay, the waiting hall 2 receives nothing, and b holds both halls.
func TestCascadeReceptionAcrossTwoNodes(t *testing.T) {
	nodes := cascadeNodes(t, map[string][]string{"a": {benchCityCode}, "b": {benchCityCode[:4] + "01"}})
	a, b := nodes["a"], nodes["b"]
	resp, raw := postReception(t, testHTTPClient(t), a.URL(), `{"halls": 2, "petitioners_per_hall": 1, "districts": 1}`)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("booking: %s %s", resp.Status, raw)
	}
	var seats bench.ReceptionSeats
	if err := json.Unmarshal(raw, &seats); err != nil {
		t.Fatal(err)
	}
	if len(seats.Districts) != 1 || seats.Districts[0] != "990101" {
		t.Fatalf("districts %v", seats.Districts)
	}
	leader := dialFailoverPeer(t, wsOf(a.URL()), seats.Studio.Token)
	hall1 := dialFailoverPeer(t, wsOf(a.URL()), seats.Halls[0].Token)
	hall2 := dialFailoverPeer(t, wsOf(a.URL()), seats.Halls[1].Token)
	if s := a.cascade.hub.Stats(); s.Remotes != 2 {
		t.Fatalf("a drives %d participants' media on other nodes, want both halls'", s.Remotes)
	}
	if s := b.cascade.hub.Stats(); s.Held != 2 {
		t.Fatalf("b holds %d participants' media, want both halls'", s.Held)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := leader.c.Request(ctx, signaling.TypeCallNext, struct{}{}); err != nil {
		t.Fatal(err)
	}
	if _, err := hall1.c.Request(ctx, signaling.TypeAckRecording, struct{}{}); err != nil {
		t.Fatal(err)
	}
	leader.receiving(t, 50, 15*time.Second)
	hall1.receiving(t, 50, 15*time.Second)
	if n := hall2.got.Load(); n != 0 {
		t.Fatalf("the waiting hall received %d packets during hall 1's hearing", n)
	}
	if s := a.cascade.hub.Stats(); s.Relays != 1 || s.Links != 1 {
		t.Fatalf("a: %+v, want one link and one relay (the call's, with b)", s)
	}
	// The owner records the hearing, the hall's audio too, which crossed the relay.
	dirs, _ := filepath.Glob(filepath.Join(recordingsDir(a.cfg), fmt.Sprintf("s%d-a*", seats.SessionID)))
	if len(dirs) != 1 {
		t.Fatalf("hearing directories on a: %v", dirs)
	}
	waitUntil(t, 15*time.Second, "the hall's audio in a's recording", func() bool {
		m, err := recording.ReadManifest(dirs[0])
		if err != nil {
			return false
		}
		for _, tr := range m.Tracks {
			if tr.Participant == seats.Halls[0].ParticipantID && tr.Kind == "audio" {
				// Frames are written as they come; the manifest's counts only at the seal.
				fi, err := os.Stat(filepath.Join(dirs[0], tr.File))
				return err == nil && fi.Size() > 4096
			}
		}
		return false
	})
}

// seatPeer is a Go client in a reception call that publishes audio and counts the packets it
// receives from each participant.
type seatPeer struct {
	c    *client.Client
	mu   sync.Mutex
	from map[string]int // packets by publisher (the stream id of what it receives)
	stop chan struct{}
	done chan struct{}
}

func dialSeat(t *testing.T, base, token string) *seatPeer {
	t.Helper()
	p := &seatPeer{from: map[string]int{}, stop: make(chan struct{}), done: make(chan struct{})}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, wsOf(base), token, client.Options{AutoSubscribe: true,
		OnTrack: func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
			go func() { // ends when the track's connection closes
				for {
					if _, _, err := tr.ReadRTP(); err != nil {
						return
					}
					p.mu.Lock()
					p.from[tr.StreamID()]++
					p.mu.Unlock()
				}
			}()
		}})
	if err != nil {
		t.Fatal(err)
	}
	p.c = c
	publishAudio(t, c, p.stop, p.done)
	t.Cleanup(func() {
		close(p.stop)
		<-p.done
		_ = c.Close()
	})
	return p
}

// got is how many packets p received from participant id ("" for all).
func (p *seatPeer) got(id string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if id != "" {
		return p.from[id]
	}
	n := 0
	for _, k := range p.from {
		n += k
	}
	return n
}

// hears waits until p has received n packets from each of ids.
func (p *seatPeer) hears(t *testing.T, what string, n int, ids ...string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for _, id := range ids {
		for p.got(id) < n {
			if time.Now().After(deadline) {
				p.mu.Lock()
				defer p.mu.Unlock()
				t.Fatalf("%s: not within 15 s; %s has sent %d packets (from each: %v)", what, id, p.from[id], p.from)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// TestCascadeThreeNodes: the city node a owns the call; district node b holds halls 1 and 3 and
// district node c holds hall 2 and unit 2 (their districts' codes). In hall 1's hearing with unit
// 2 on stage, the leader, hall 1 and unit 2 hear each other — hall 1 and unit 2 across two
// relays, through a — while the waiting halls 2 and 3 receive nothing, even when they ask for the
// hearing's tracks by id.
func TestCascadeThreeNodes(t *testing.T) {
	nodes := cascadeNodes(t, map[string][]string{"a": {benchCityCode}, "b": {"990101"}, "c": {"990102"}})
	a, b, c := nodes["a"], nodes["b"], nodes["c"]
	resp, raw := postReception(t, testHTTPClient(t), a.URL(), `{"halls": 3, "units": 2, "petitioners_per_hall": 1, "districts": 2}`)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("booking: %s %s", resp.Status, raw)
	}
	var seats bench.ReceptionSeats
	if err := json.Unmarshal(raw, &seats); err != nil {
		t.Fatal(err)
	}
	leader := dialSeat(t, a.URL(), seats.Studio.Token)
	hall1 := dialSeat(t, a.URL(), seats.Halls[0].Token)
	hall2 := dialSeat(t, a.URL(), seats.Halls[1].Token)
	hall3 := dialSeat(t, a.URL(), seats.Halls[2].Token)
	unit2 := dialSeat(t, a.URL(), seats.Units[1].Token)
	if sb, sc := b.cascade.hub.Stats(), c.cascade.hub.Stats(); sb.Held != 2 || sc.Held != 2 {
		t.Fatalf("b holds %d, c holds %d participants' media; want 2 each", sb.Held, sc.Held)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := leader.c.Request(ctx, signaling.TypeCallNext, struct{}{}); err != nil {
		t.Fatal(err)
	}
	if _, err := hall1.c.Request(ctx, signaling.TypeAckRecording, struct{}{}); err != nil {
		t.Fatal(err)
	}
	if _, err := leader.c.Request(ctx, signaling.TypeStageUnit, signaling.StageUnitData{UnitID: seats.Units[1].UnitID, On: true}); err != nil {
		t.Fatal(err)
	}
	L, H1, U2 := seats.Studio.ParticipantID, seats.Halls[0].ParticipantID, seats.Units[1].ParticipantID
	leader.hears(t, "the leader hears hall 1 and unit 2", 50, H1, U2)
	hall1.hears(t, "hall 1 hears the leader and unit 2", 50, L, U2)
	unit2.hears(t, "unit 2 hears the leader and hall 1", 50, L, H1)

	// The waiting halls ask for every track of the call by id: refused, on their own nodes.
	var ids []string
	for _, n := range []*app{a, b, c} {
		if r := n.sfu.Room(seats.Room); r != nil {
			for _, tr := range r.Tracks() {
				ids = append(ids, tr.ID)
			}
		}
	}
	for _, p := range []*seatPeer{hall2, hall3} {
		for _, id := range ids {
			_, err := p.c.Request(ctx, signaling.TypeSubscribe, signaling.TrackIDsData{TrackIDs: []string{id}})
			if e := (*client.Error)(nil); !errors.As(err, &e) || (e.Code != signaling.CodeForbidden && e.Code != signaling.CodeNotFound) {
				t.Fatalf("a waiting hall subscribing to %s: %v, want forbidden", id, err)
			}
		}
	}
	leader.hears(t, "the hearing goes on", 100, H1, U2)
	if n2, n3 := hall2.got(""), hall3.got(""); n2 != 0 || n3 != 0 {
		t.Fatalf("waiting halls received %d and %d packets during hall 1's hearing", n2, n3)
	}
}

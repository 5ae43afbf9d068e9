package sfu

import (
	"encoding/binary"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// slowWriter stalls every nth write for stall, as a subscriber's write path that lags would.
type slowWriter struct {
	n      int
	stall  time.Duration
	writes atomic.Int64
}

func (w *slowWriter) WriteRTP(_ *rtp.Header, payload []byte) (int, error) {
	if w.writes.Add(1)%int64(w.n) == 0 {
		time.Sleep(w.stall)
	}
	return len(payload) + 12, nil
}

func (w *slowWriter) Write(b []byte) (int, error) { return len(b), nil }

// TestLatePacketIsDroppedNotSent: a packet the fan-out reaches later than maxDelay after its
// arrival goes to nobody; the drop is counted per subscriber. It keeps its place in each
// subscriber's stream, as a packet lost on the link: the stream goes on without waiting for a
// keyframe (a wait that froze the picture at every stall), and a NACK for it is repaired.
func TestLatePacketIsDroppedNotSent(t *testing.T) {
	tr, _ := testTrack(t, time.Hour)
	tr.maxDelay = 100 * time.Millisecond
	downs, ws := bindDowns(t, tr, 3)
	feed(t, tr, 1, 0, vp8KeyPayload)
	l := tr.layer(0)
	var p packet
	tr.receive(l, marshal(t, rtp.Header{Version: 2, SequenceNumber: 2, Timestamp: 3000, SSRC: l.ssrc}, vp8DeltaPayload),
		&p, now()-int64(150*time.Millisecond))
	for i, w := range ws {
		if len(w.headers) != 1 {
			t.Fatalf("subscriber %d was sent %d packets, want the keyframe only", i, len(w.headers))
		}
		if downs[i].lagged.Load() != 1 {
			t.Fatalf("subscriber %d: lag not noted", i)
		}
	}
	if got := testutil.ToFloat64(tr.metrics.lateDropped); got != 3 {
		t.Fatalf("%v late drops counted, want 3", got)
	}
	keyRequests := func() float64 {
		return testutil.ToFloat64(tr.metrics.plisSent) + testutil.ToFloat64(tr.metrics.plisThrottled)
	}
	asked := keyRequests()
	feed(t, tr, 3, 6000, vp8DeltaPayload) // in time: sent at once, after the hole the drop left
	for i, w := range ws {
		if len(w.headers) != 2 || w.headers[1].SequenceNumber != w.headers[0].SequenceNumber+2 {
			t.Fatalf("subscriber %d: %d packets after the drop, want the next one with the dropped one's number skipped", i, len(w.headers))
		}
		if h := downs[i].holes.Load(); h != 1 {
			t.Fatalf("subscriber %d: %d holes noted, want the dropped packet (not the link's loss)", i, h)
		}
	}
	if keyRequests() != asked {
		t.Fatal("a late drop asked the publisher for a keyframe")
	}
	d, w := downs[0], ws[0]
	lost := w.headers[0].SequenceNumber + 1
	d.handleRTCP([]rtcp.Packet{&rtcp.TransportLayerNack{MediaSSRC: w.headers[0].SSRC, Nacks: []rtcp.NackPair{{PacketID: lost}}}})
	if len(w.headers) != 3 || w.headers[2].SequenceNumber != lost || w.headers[2].Timestamp != w.headers[0].Timestamp+3000 {
		t.Fatalf("the NACK for the dropped packet %d was not repaired: %+v", lost, w.headers)
	}
}

// TestFanOutServesPriorityFirstWithinBound: when writing to the first subscribers takes the
// whole bound, the rest of the fan-out is dropped, and housekeeping's order puts the stage (and
// the recorder) before the thumbnails, so the thumbnails are the ones cut off.
func TestFanOutServesPriorityFirstWithinBound(t *testing.T) {
	tr, _ := testTrack(t, time.Hour)
	tr.maxDelay = 50 * time.Millisecond
	var thumbs, stage []*DownTrack
	for i := range 2 * fanOutClockEvery {
		d := newDownTrack(tr, &Participant{id: "p"}, tr.metrics)
		var w interface {
			WriteRTP(*rtp.Header, []byte) (int, error)
			Write([]byte) (int, error)
		} = &recordingWriter{keep: true}
		if i%2 == 1 { // the stage's writes are slow: together they take the bound
			d.priority.Store(2)
			w = &slowWriter{n: 1, stall: 5 * time.Millisecond}
			stage = append(stage, d)
		} else {
			thumbs = append(thumbs, d)
		}
		d.bind(w, uint32(5000+i), 96, 0, 0, false)
		tr.addDown(d)
	}
	tr.shedLag()
	order := *tr.downs.Load()
	for i, d := range order {
		if (i < fanOutClockEvery) != (d.priority.Load() == 2) {
			t.Fatalf("fan-out order: position %d has priority %d", i, d.priority.Load())
		}
	}
	feed(t, tr, 1, 0, vp8KeyPayload)
	for _, d := range stage {
		if d.lagged.Load() != 0 {
			t.Fatal("a stage subscriber was cut off")
		}
	}
	for _, d := range thumbs {
		if d.lagged.Load() != 1 {
			t.Fatal("a thumbnail was served past the bound")
		}
	}
}

// TestLaggingSubscriberStepsDownLowestPriorityFirst: down tracks dropped from in consecutive
// rounds go down a layer, the lowest priority first; the stage follows only once nothing lower
// can go down, and a calm track climbs back.
func TestLaggingSubscriberStepsDownLowestPriorityFirst(t *testing.T) {
	tr, _ := testTrackLayers(t, time.Hour, 3)
	thumb, _ := bindDown(t, tr, false)
	stage, _ := bindDown(t, tr, false)
	thumb.sub, stage.sub = &Participant{id: "t"}, &Participant{id: "s"}
	stage.priority.Store(2)
	for q := range 3 {
		feedLayer(t, tr, q, 1, 0, vp8Frame(1, 0, true, 160<<q, 90<<q))
	}
	if thumb.cur.Load() != 2 || stage.cur.Load() != 2 {
		t.Fatalf("layers %d, %d before the lag, want 2", thumb.cur.Load(), stage.cur.Load())
	}
	round := func() {
		thumb.lagged.Add(1)
		stage.lagged.Add(1)
		tr.shedLag()
	}
	round()
	if thumb.lagCeiling.Load() != noLagCeiling {
		t.Fatal("stepped down after one round of lag")
	}
	round()
	if thumb.lagCeiling.Load() != 1 || stage.lagCeiling.Load() != noLagCeiling {
		t.Fatalf("ceilings %d, %d: want the thumbnail down first", thumb.lagCeiling.Load(), stage.lagCeiling.Load())
	}
	thumb.allocate(1<<40, false, now())
	if thumb.target.Load() != 1 {
		t.Fatalf("target %d under a lag ceiling of 1", thumb.target.Load())
	}
	thumb.cur.Store(0) // as if it switched and then went down again to the lowest
	thumb.target.Store(0)
	stage.resync() // dropped from: it waits for a keyframe of its layer, and still counts as on it
	round()
	round()
	if stage.lagCeiling.Load() != 1 {
		t.Fatal("the stage was not stepped down when nothing lower could go down")
	}
	if got := testutil.ToFloat64(tr.metrics.lagStepDowns); got != 2 {
		t.Fatalf("%v step-downs counted, want 2", got)
	}
	for range lagRecoverRounds {
		tr.shedLag()
	}
	if thumb.lagCeiling.Load() != noLagCeiling || stage.lagCeiling.Load() != noLagCeiling {
		t.Fatalf("ceilings %d, %d after %d calm rounds", thumb.lagCeiling.Load(), stage.lagCeiling.Load(), lagRecoverRounds)
	}
}

// TestDelayBoundedBehindSlowSubscriber, with pion peers: a subscriber whose every write takes
// 30 ms (1.5 s of work per second of 50 fps video) is served first; before the bound, everyone
// after it fell further behind (seconds within the test). Now the pion subscriber behind it
// receives packets whose delay varies by little more than the bound.
func TestDelayBoundedBehindSlowSubscriber(t *testing.T) {
	s := newTestSFU(t)
	a := joinPeer(t, s, "lag", "pub")
	b := joinPeer(t, s, "lag", "sub")
	id, remote := subscribeVideo(t, s, "lag", a, b)
	addSlowSubscriber(t, s, "lag", id).shedLag() // the slow one first

	start := time.Now()
	var lo, hi time.Duration
	var highest uint16
	n := 0
	for time.Since(start) < 5*time.Second {
		_ = remote.SetReadDeadline(time.Now().Add(2 * time.Second))
		pkt, _, err := remote.ReadRTP()
		if err != nil {
			continue
		}
		// First arrivals only: a packet the bound dropped comes later as the repair the
		// subscriber asked for, which is its choice, not forwarding's delay.
		if n > 0 && int16(pkt.SequenceNumber-highest) <= 0 {
			continue
		}
		highest = pkt.SequenceNumber
		delay := time.Since(start) - time.Duration(pkt.Timestamp)*time.Second/90000
		if n == 0 || delay < lo {
			lo = delay
		}
		if n == 0 || delay > hi {
			hi = delay
		}
		n++
	}
	late := testutil.ToFloat64(s.metrics.lateDropped)
	t.Logf("%d packets in 5 s, delay spread %v; %v late drops", n, hi-lo, late)
	if n < 20 || late == 0 {
		t.Fatalf("%d packets received, %v late drops: the test did not lag", n, late)
	}
	if hi-lo > 400*time.Millisecond {
		t.Fatalf("the delay behind a slow subscriber varied by %v, want about the %v bound", hi-lo, DefaultMaxDelay)
	}
}

// addSlowSubscriber adds to a published track a subscriber of priority 5 (served first) whose
// every write takes 30 ms, and returns the track.
func addSlowSubscriber(t *testing.T, s *SFU, roomID, trackID string) *publishedTrack {
	t.Helper()
	return addSubscriberWriter(t, s, roomID, trackID, &slowWriter{n: 1, stall: 30 * time.Millisecond})
}

// addSubscriberWriter adds to a published track a subscriber of priority 5 (served first) that
// writes to w, and returns the track.
func addSubscriberWriter(t *testing.T, s *SFU, roomID, trackID string, w webrtc.TrackLocalWriter) *publishedTrack {
	t.Helper()
	s.mu.Lock()
	room := s.rooms[roomID]
	s.mu.Unlock()
	room.mu.Lock()
	tr := room.tracks[trackID]
	room.mu.Unlock()
	slow := newDownTrack(tr, &Participant{id: "slow"}, s.metrics)
	slow.priority.Store(5)
	slow.bind(w, 9999, 96, 0, 0, false)
	tr.addDown(slow)
	t.Cleanup(func() { tr.removeDown(slow) })
	return tr
}

// TestLaggingSubscriberStepsDownWithPionPeers: a pion subscriber on the top layer behind a slow
// one is dropped from again and again; housekeeping steps it down a layer, whose own goroutine
// then serves it in time, without a freeze.
func TestLaggingSubscriberStepsDownWithPionPeers(t *testing.T) {
	s := newTestSFU(t)
	a := joinPeer(t, s, "shed", "hall")
	b := joinPeer(t, s, "shed", "thumb")
	publishSimulcast(t, a)
	ids := publishedIDs(t, s, "shed", 1)
	if err := b.p.Subscribe(ids...); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "subscriber track", func() bool { return b.track(ids[0]) != nil })
	trace := layerTrace{t: t, tr: b.track(ids[0])}
	trace.untilTop(25, 20*time.Second)
	addSlowSubscriber(t, s, "shed", ids[0])
	waitFor(t, "a step-down", func() bool { return testutil.ToFloat64(s.metrics.lagStepDowns) > 0 })
	trace.phase(time.Second) // the switch, on the lower layer's next keyframe
	layers, gap, worst := trace.phase(3 * time.Second)
	t.Logf("after the step-down: %v packets per layer in 3 s, longest gap %v, emptiest second %d; %v late drops",
		layers, gap, worst, testutil.ToFloat64(s.metrics.lateDropped))
	if layers[2] != 0 || layers[1] < 100 || gap > 300*time.Millisecond {
		t.Fatalf("after the step-down: %v packets per layer (50 fps sent), longest gap %v: want the middle layer, steadily", layers, gap)
	}
}

// TestLateDropAllocatesNothing holds the late path (each subscriber's place in the stream taken,
// the packet not sent) to no allocation, as the forwarding path is.
func TestLateDropAllocatesNothing(t *testing.T) {
	tr, _ := testTrack(t, time.Hour)
	tr.maxDelay = 100 * time.Millisecond
	_, ws := bindDowns(t, tr, 3)
	feed(t, tr, 1, 0, vp8KeyPayload)
	for _, w := range ws {
		w.keep = false
	}
	l := tr.layer(0)
	raw := marshal(t, rtp.Header{Version: 2, SequenceNumber: 2, Timestamp: 3000, SSRC: l.ssrc}, vp8DeltaPayload)
	var p packet
	seq := uint16(2)
	allocs := testing.AllocsPerRun(1000, func() {
		binary.BigEndian.PutUint16(raw[2:], seq)
		seq++
		tr.receive(l, raw, &p, now()-int64(150*time.Millisecond))
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per late packet", allocs)
	}
	if got := testutil.ToFloat64(tr.metrics.lateDropped); got < 3*1000 {
		t.Fatalf("%v late drops counted: the packets were not late", got)
	}
}

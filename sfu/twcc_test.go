package sfu

import (
	"math"
	"testing"
	"time"

	"github.com/pion/rtcp"
)

// linkSim drives a bandwidth estimate with TWCC the way a subscriber connection does: packets
// "sent" are recorded with their transport sequence numbers, and the receiver's feedback says
// which arrived and when. Times are simulated, in ns from 0.
type linkSim struct {
	b   *bandwidth
	seq uint16
	at  int64
}

func newLinkSim() *linkSim { return &linkSim{b: &bandwidth{twcc: &twccLog{}}, at: int64(time.Second)} }

// round sends bps for one allocation round (500 ms, 1,000-byte packets), loses every n-th
// (lossEvery 0: none), delays each by base + queue, feeds the feedback and runs update as
// housekeeping would, sending being what the allocator sends.
func (s *linkSim) round(t *testing.T, bps int64, lossEvery int, queue time.Duration, sending int64) {
	t.Helper()
	const size = 1000
	interval := 500 * time.Millisecond
	n := int(bps * int64(interval) / int64(time.Second) / 8 / size)
	ref := s.at / 1000 / 64_000 // in 64 ms units, before the first arrival
	fb := &rtcp.TransportLayerCC{BaseSequenceNumber: s.seq, PacketStatusCount: uint16(n), ReferenceTime: uint32(ref)}
	arrival := ref * 64_000 // µs, where the deltas start
	var symbols []uint16
	step := int64(interval) / int64(max(n, 1))
	for i := range n {
		at := s.at + int64(i)*step
		s.b.twcc.record(s.seq, at, size)
		s.seq++
		if lossEvery > 0 && i%lossEvery == lossEvery-1 {
			symbols = append(symbols, rtcp.TypeTCCPacketNotReceived)
			continue
		}
		// Arrival on the receiver's clock: 40 ms of path plus the queue, growing through the round.
		want := (at + int64(40*time.Millisecond) + int64(queue)*int64(i+1)/int64(n)) / 1000
		fb.RecvDeltas = append(fb.RecvDeltas, &rtcp.RecvDelta{Type: rtcp.TypeTCCPacketReceivedLargeDelta, Delta: want - arrival})
		arrival = want
		symbols = append(symbols, rtcp.TypeTCCPacketReceivedLargeDelta)
	}
	for len(symbols) > 0 {
		k := min(7, len(symbols))
		fb.PacketChunks = append(fb.PacketChunks, &rtcp.StatusVectorChunk{SymbolSize: rtcp.TypeTCCSymbolSizeTwoBit, SymbolList: symbols[:k]})
		symbols = symbols[k:]
	}
	// Send the feedback over the wire format and back, as a receiver would.
	fb.Header = rtcp.Header{Count: rtcp.FormatTCC, Type: rtcp.TypeTransportSpecificFeedback, Length: uint16(fb.MarshalSize()/4 - 1)}
	raw, err := fb.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	var parsed rtcp.TransportLayerCC
	if err := parsed.Unmarshal(raw); err != nil {
		t.Fatal(err)
	}
	s.at += int64(interval)
	s.b.twcc.feedback(&parsed, s.at)
	s.b.update(s.at, sending)
}

func TestTWCCFeedbackCountsOnlyWhatWasSent(t *testing.T) {
	var l twccLog
	for i := range uint16(10) {
		l.record(100+i, int64(i)*int64(time.Millisecond), 1200)
	}
	// Packets 100..109 reported, 102 and 105 lost; 90..99 were never sent by us (not counted).
	fb := &rtcp.TransportLayerCC{BaseSequenceNumber: 90, PacketStatusCount: 20}
	var symbols []uint16
	for i := range 20 {
		switch s := 90 + i; {
		case s == 102 || s == 105:
			symbols = append(symbols, rtcp.TypeTCCPacketNotReceived)
		default:
			symbols = append(symbols, rtcp.TypeTCCPacketReceivedSmallDelta)
			fb.RecvDeltas = append(fb.RecvDeltas, &rtcp.RecvDelta{Type: rtcp.TypeTCCPacketReceivedSmallDelta, Delta: 1000})
		}
	}
	for len(symbols) > 0 {
		k := min(14, len(symbols))
		fb.PacketChunks = append(fb.PacketChunks, &rtcp.StatusVectorChunk{SymbolSize: rtcp.TypeTCCSymbolSizeOneBit, SymbolList: symbols[:k]})
		symbols = symbols[k:]
	}
	l.feedback(fb, int64(time.Second))
	l.feedback(fb, int64(time.Second)) // a repeated report is not counted twice
	r := l.take(int64(time.Second), time.Second)
	if !r.fresh || r.loss != 0.2 || r.delivered != 8*1200*8 {
		t.Fatalf("round %+v, want fresh, loss 0.2 (2 of 10), 8 packets of 1200 bytes delivered in 1 s", r)
	}
}

// Random loss on a link that is not full (10 %, no queueing) lowers the estimate towards the
// lowest layer but never below it, and never allows a pause, on stage or off.
func TestRandomLossNeverPauses(t *testing.T) {
	s := newLinkSim()
	s.b.floor, s.b.need = 150_000, 1_500_000
	for range 60 { // 30 s
		s.round(t, 600_000, 10, 0, 500_000)
		if s.b.mayPause(true) || s.b.mayPause(false) {
			t.Fatalf("a pause allowed at 10 %% random loss (estimate %d)", s.b.estimate())
		}
	}
	if e := s.b.estimate(); e < 150_000 {
		t.Fatalf("estimate %d fell below the lowest layers (150 kbit/s) on random loss", e)
	}
}

// A link that is really full (the queue grows) comes down to what got through and may pause;
// once it is clean again the estimate is tried up to what the tracks want within seconds: a
// pause is always followed by trials.
func TestPauseIsFollowedByTrials(t *testing.T) {
	s := newLinkSim()
	s.b.floor, s.b.need = 150_000, 1_500_000
	for i := range 4 {
		s.round(t, 100_000, 0, time.Duration(i+1)*150*time.Millisecond, 1_500_000)
	}
	if e := s.b.estimate(); e > 200_000 || !s.b.mayPause(true) {
		t.Fatalf("a full link: estimate %d, may pause a stage track %v; want ≤ 200 kbit/s and a pause allowed", e, s.b.mayPause(true))
	}
	start := s.at
	for s.b.estimate() < 1_500_000 {
		if s.at-start > int64(5*time.Second) {
			t.Fatalf("estimate %d 5 s after the link cleared, want the tracks' 1.5 Mbit/s tried", s.b.estimate())
		}
		s.round(t, 100_000, 0, 0, 0) // paused: only audio flows, and it arrives clean
	}
	if s.b.mayPause(true) {
		t.Fatal("still allowed to pause the stage after a clean trial")
	}
	t.Logf("tried the tracks' rate %.1f s after the link cleared", float64(s.at-start)/1e9)
}

// A REMB far below the lowest layer on a clean TWCC link does not pause a stage track (the
// publisher's jitter pulls REMB down); it still caps the estimate, and may pause a thumbnail.
func TestREMBDoesNotPauseStage(t *testing.T) {
	s := newLinkSim()
	s.b.setREMB(20_000)
	for range 4 {
		s.round(t, 500_000, 0, 0, 500_000)
	}
	if s.b.mayPause(true) {
		t.Fatal("a REMB allowed pausing a stage track on a clean link")
	}
	if !s.b.mayPause(false) || s.b.estimate() != 30_000 {
		t.Fatalf("thumbnail may pause %v, estimate %d; want a pause allowed and the REMB ceiling 30 kbit/s", s.b.mayPause(false), s.b.estimate())
	}
	tr, _ := testTrackLayers(t, time.Hour, 3)
	d, _ := bindDown(t, tr, false)
	at := now()
	for i, l := range *tr.layers.Load() {
		l.lastPacket.Store(at)
		l.bitrate.Store(int64(150_000 * (i + 1)))
	}
	d.priority.Store(2)
	if d.allocate(s.b.estimate(), s.b.mayPause(true), at); d.paused.Load() || d.target.Load() != 0 || !d.lowered.Load() {
		t.Fatalf("stage track: paused %v, layer %d, lowered %v; want the lowest layer, lowered", d.paused.Load(), d.target.Load(), d.lowered.Load())
	}
	if d.allocate(math.MaxInt64, false, at); d.lowered.Load() || d.target.Load() != 2 {
		t.Fatalf("no limit: layer %d lowered %v", d.target.Load(), d.lowered.Load())
	}
}

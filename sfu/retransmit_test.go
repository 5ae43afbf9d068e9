package sfu

import (
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// sendVideo binds an RTX down track and forwards n packets of 1,100 bytes, sequence numbers 1..n.
func sendVideo(t *testing.T, n int) (*publishedTrack, *DownTrack, *recordingWriter) {
	t.Helper()
	tr, _ := testTrack(t, time.Hour)
	d, w := bindDown(t, tr, true)
	body := make([]byte, 1100)
	feed(t, tr, 1, 0, append(append([]byte{}, vp8KeyPayload...), body...))
	for i := 2; i <= n; i++ {
		feed(t, tr, uint16(i), uint32(i/6*3000), append(append([]byte{}, vp8DeltaPayload...), body...))
	}
	return tr, d, w
}

// nackAll asks for every sequence number in [from, to] in pairs of 17 (PID + BLP).
func nackAll(d *DownTrack, from, to int) {
	var pairs []rtcp.NackPair
	for s := from; s <= to; s += 17 {
		pairs = append(pairs, rtcp.NackPair{PacketID: uint16(s), LostPackets: 0xffff})
	}
	d.handleRTCP([]rtcp.Packet{&rtcp.TransportLayerNack{MediaSSRC: 4242, Nacks: pairs}})
}

// TestNACKStormIsBounded forges a storm: every packet sent, and thousands never sent, NACKed
// again and again. Retransmissions stay within the subscriber's budget (its burst and what
// refills while the storm lasts), and unknown sequence numbers get nothing.
func TestNACKStormIsBounded(t *testing.T) {
	_, d, w := sendVideo(t, 1000)
	forwarded := len(w.headers)
	start := now()
	for range 50 {
		nackAll(d, 1, 1000)
		nackAll(d, 20000, 30000) // never sent
		time.Sleep(time.Millisecond)
	}
	elapsed := time.Duration(now() - start)
	resent := len(w.headers) - forwarded
	var bytes int
	for _, p := range w.payload[forwarded:] {
		bytes += len(p) + 12
	}
	limit := int(burstBytes(retransmitDefaultRate)) + 1200 + int(retransmitDefaultRate/8*elapsed/time.Second)
	if resent == 0 || bytes > limit {
		t.Fatalf("%d retransmissions (%d bytes) for a NACK storm in %v, want some and at most %d bytes",
			resent, bytes, elapsed, limit)
	}
	if got := testutil.ToFloat64(d.metrics.nacksOverBudget); got == 0 {
		t.Fatal("NACKs beyond the budget were not counted")
	}
	if got := testutil.ToFloat64(d.metrics.retransmits); int(got) != resent {
		t.Fatalf("retransmissions counted %v, written %d", got, resent)
	}
}

// TestNACKTooOldIsRefused: a packet sent longer ago than a few round trips, and never less than
// a second (two when the round trip is unknown), is not retransmitted, and the refusal is
// counted. On a short round trip a repair stays useful far longer than a few round trips: a
// receiver NACKs again at its own pace (libwebrtc every 100 ms while it knows no round trip)
// until it gives the frame up, and with a 200 ms floor a repair on its third try was refused.
func TestNACKTooOldIsRefused(t *testing.T) {
	_, d, w := sendVideo(t, 40)
	age := func(seq uint16, by time.Duration) {
		d.nack.sent.entries[seq%uint16(len(d.nack.sent.entries))].sentMs -= uint32(by.Milliseconds())
	}
	nack := func(seq uint16) bool {
		before := len(w.headers)
		d.handleRTCP([]rtcp.Packet{&rtcp.TransportLayerNack{MediaSSRC: 4242, Nacks: []rtcp.NackPair{{PacketID: seq}}}})
		return len(w.headers) > before
	}
	age(10, 2100*time.Millisecond)
	if nack(10) {
		t.Fatal("a packet sent 2.1 s ago was retransmitted (round trip unknown)")
	}
	age(11, 1800*time.Millisecond)
	if !nack(11) {
		t.Fatal("a packet sent 1.8 s ago was refused (round trip unknown)")
	}
	d.rtx.rtt.Store(int64(2 * time.Millisecond)) // a LAN: 4 round trips = 8 ms, the floor applies
	e := &d.nack.sent.entries[12]
	for try := 1; try <= 9; try++ {
		age(12, 100*time.Millisecond) // the receiver's next try, 100 ms on: the repairs were lost
		e.resent, e.resentAt = 0, 0   // (the cap on copies per packet is not what this tests)
		if !nack(12) {
			t.Fatalf("with a 2 ms round trip: the receiver's try %d ms after the packet was sent was refused", try*100)
		}
	}
	age(13, 1200*time.Millisecond)
	if nack(13) {
		t.Fatal("with a 2 ms round trip: a packet sent 1.2 s ago was retransmitted")
	}
	d.rtx.rtt.Store(int64(400 * time.Millisecond)) // 1.6 s
	age(14, 1400*time.Millisecond)
	age(15, 1800*time.Millisecond)
	if !nack(14) || nack(15) {
		t.Fatal("with a 400 ms round trip: want 1.4 s served, 1.8 s refused")
	}
	if got := testutil.ToFloat64(d.metrics.nacksTooOld); got != 3 {
		t.Fatalf("%v refusals counted, want 3", got)
	}
}

// TestRetransmitBudgetServesOneNACKInFull: at the least rate, one NACK's worth of full packets
// (a packet id and its 16-bit mask: the losses of a keyframe on a lossy link) is served at once.
func TestRetransmitBudgetServesOneNACKInFull(t *testing.T) {
	_, d, w := sendVideo(t, 40)
	d.rtx.setEstimate(60_000) // the floor
	if got := d.rtx.rate.Load(); got != retransmitMinRate {
		t.Fatalf("rate %d, want the floor", got)
	}
	before := len(w.headers)
	d.handleRTCP([]rtcp.Packet{&rtcp.TransportLayerNack{MediaSSRC: 4242, Nacks: []rtcp.NackPair{{PacketID: 10, LostPackets: 0xffff}}}})
	if got := len(w.headers) - before; got != 17 {
		t.Fatalf("%d of 17 NACKed packets retransmitted at the least rate (%v refused over budget)", got,
			testutil.ToFloat64(d.metrics.nacksOverBudget))
	}
}

// TestRetransmitBudgetFollowsEstimate: the budget is a share of the subscriber's estimate, and it
// refills at that rate.
func TestRetransmitBudgetFollowsEstimate(t *testing.T) {
	b := newRetransmitBudget()
	b.setEstimate(3_000_000)
	if got := b.rate.Load(); got != 1_000_000 {
		t.Fatalf("rate %d for a 3 Mbit/s link", got)
	}
	at := int64(time.Hour)
	if !b.allow(at) {
		t.Fatal("a full bucket refused")
	}
	b.spend(int(burstBytes(1_000_000)))
	if b.allow(at + int64(time.Microsecond)) {
		t.Fatal("an empty bucket allowed a retransmission")
	}
	if !b.allow(at + int64(10*time.Millisecond)) { // 1,250 bytes refilled
		t.Fatal("the bucket did not refill")
	}
	b.setEstimate(60_000)
	if got := b.rate.Load(); got != retransmitMinRate {
		t.Fatalf("rate %d for a 60 kbit/s link, want the floor", got)
	}
	b.setEstimate(0)
	if got := b.rate.Load(); got != retransmitDefaultRate {
		t.Fatalf("rate %d with no estimate, want the default", got)
	}
}

// TestRetransmitAllocatesNothing holds serving a NACK to no allocation.
func TestRetransmitAllocatesNothing(t *testing.T) {
	_, d, w := sendVideo(t, 200)
	w.keep = false
	e := &d.nack.sent.entries[100]
	allocs := testing.AllocsPerRun(1000, func() {
		e.resent, e.sentMs = 0, uint32(now()/1e6)
		d.rtx.tokens = 1 << 20
		d.retransmit(100)
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per retransmission", allocs)
	}
	if testutil.ToFloat64(d.metrics.retransmits) < 1000 {
		t.Fatal("the retransmissions were not served")
	}
}

package sfu

import (
	"testing"
	"time"
)

func TestRewriterContinuityAcrossSourceChange(t *testing.T) {
	r := rewriter{clockRate: 90000}
	at := int64(0)
	var lastSeq uint16
	var lastTS uint32
	// Source A near the wrap-around of the sequence number.
	for i := range 10 {
		p := packet{ssrc: 1, seq: 65530 + uint16(i), timestamp: 1000 + uint32(i)*3000}
		seq, ts, ok := r.rewrite(&p, at)
		if !ok {
			t.Fatal("packet refused")
		}
		if i > 0 && (seq != lastSeq+1 || ts != lastTS+3000) {
			t.Fatalf("A: seq %d ts %d after %d %d", seq, ts, lastSeq, lastTS)
		}
		lastSeq, lastTS = seq, ts
		at += int64(33 * time.Millisecond)
	}
	// Source B with unrelated numbers, 100 ms later.
	at += int64(100 * time.Millisecond)
	p := packet{ssrc: 2, seq: 7, timestamp: 555}
	seq, ts, ok := r.rewrite(&p, at)
	if !ok || seq != lastSeq+1 {
		t.Fatalf("splice: seq %d want %d", seq, lastSeq+1)
	}
	wantDelta := uint32((133 * time.Millisecond).Seconds() * 90000)
	if d := ts - lastTS; d < wantDelta-100 || d > wantDelta+100 {
		t.Fatalf("splice: timestamp advanced %d, want about %d", d, wantDelta)
	}
	// B continues; a late packet of A is refused.
	p = packet{ssrc: 2, seq: 8, timestamp: 3555}
	if s2, ts2, _ := r.rewrite(&p, at); s2 != seq+1 || ts2 != ts+3000 {
		t.Fatalf("B continue: %d %d", s2, ts2)
	}
}

func TestRewriterResyncSameSource(t *testing.T) {
	r := rewriter{clockRate: 48000}
	p := packet{ssrc: 5, seq: 100, timestamp: 960}
	s0, _, _ := r.rewrite(&p, 0)
	r.resync() // muted; the publisher kept sending
	p = packet{ssrc: 5, seq: 400, timestamp: 960 * 301}
	s1, _, ok := r.rewrite(&p, int64(time.Second))
	if !ok || s1 != s0+1 {
		t.Fatalf("after resync seq %d, want %d", s1, s0+1)
	}
	// A packet from before the resync point is refused: its number was already used.
	p = packet{ssrc: 5, seq: 399, timestamp: 0}
	if _, _, ok := r.rewrite(&p, int64(time.Second)); ok {
		t.Fatal("packet from before the splice forwarded")
	}
	// Reordering inside a splice keeps the mapping.
	p = packet{ssrc: 5, seq: 402}
	s3, _, _ := r.rewrite(&p, int64(time.Second))
	p = packet{ssrc: 5, seq: 401}
	s2, _, _ := r.rewrite(&p, int64(time.Second))
	if s2 != s1+1 || s3 != s1+2 {
		t.Fatalf("reordered: %d %d after %d", s2, s3, s1)
	}
}

func TestSentLog(t *testing.T) {
	var l sentLog
	l.add(sentEntry{valid: true, outSeq: 10, srcSeq: 500, tsOffset: 42, quality: 2})
	if e, ok := l.lookup(10); !ok || e.srcSeq != 500 || e.tsOffset != 42 || e.quality != 2 {
		t.Fatalf("lookup: %+v %v", e, ok)
	}
	l.add(sentEntry{valid: true, outSeq: 10 + 1024, srcSeq: 9})
	if _, ok := l.lookup(10); ok {
		t.Fatal("stale entry served")
	}
}

func TestResendLimits(t *testing.T) {
	var l sentLog
	l.add(sentEntry{valid: true, outSeq: 7})
	at := int64(time.Second)
	if !l.claimResend(7, at) {
		t.Fatal("first retransmission refused")
	}
	if l.claimResend(7, at+int64(10*time.Millisecond)) {
		t.Fatal("a second copy within 10 ms: the first cannot have arrived yet")
	}
	n := 1
	for i := range 10 {
		if l.claimResend(7, at+int64(i+1)*int64(100*time.Millisecond)) {
			n++
		}
	}
	if n != maxResends {
		t.Fatalf("%d retransmissions of one packet, want at most %d", n, maxResends)
	}
	if l.claimResend(8, at) {
		t.Fatal("retransmitted a packet never sent")
	}
}

// TestRewriterLongStream: a stream far longer than the sequence space goes through whole; it
// used to stop after 32,768 packets of one splice for the next 32,768.
func TestRewriterLongStream(t *testing.T) {
	r := rewriter{clockRate: 90000}
	var last uint16
	for i := range 150_000 {
		p := packet{ssrc: 5, seq: uint16(1000 + i), timestamp: uint32(i * 3000)}
		seq, _, ok := r.rewrite(&p, int64(i)*int64(time.Millisecond))
		if !ok || (i > 0 && seq != last+1) {
			t.Fatalf("packet %d: ok %v, seq %d after %d", i, ok, seq, last)
		}
		last = seq
	}
	late := packet{ssrc: 5, seq: last - spliceWindow - 10} // the first splice keeps the source numbers
	if _, _, ok := r.rewrite(&late, 0); ok {
		t.Fatal("a packet further behind than the splice window was forwarded")
	}
}

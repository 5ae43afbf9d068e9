package sfu

import "time"

// rewriter maps the sequence numbers and timestamps of a down track's current source onto one
// continuous outgoing stream. A new source (another SSRC, or the same one after a pause) is
// spliced on so that the receiver sees the next sequence number and a timestamp advanced by the
// wall-clock time that passed: no gap to NACK, no jump in playout.
type rewriter struct {
	clockRate uint32
	started   bool
	rebase    bool // splice at the next packet
	srcSSRC   uint32
	baseSeq   uint16 // first source sequence number of the current splice
	seqOffset uint16
	tsOffset  uint32
	lastSeq   uint16 // highest outgoing sequence number sent
	lastTS    uint32
	lastAt    int64 // monotonic nanoseconds when lastSeq was sent
}

// spliceWindow is how far behind the newest packet a late one is still forwarded.
const spliceWindow = 1 << 14

// resync makes the next packet start a new splice (after a pause, a mute or a source change).
func (r *rewriter) resync() { r.rebase = true }

// rewrite returns the outgoing sequence number and timestamp for p, or ok=false when p belongs to
// a splice that has already been superseded (a late packet from before a switch).
func (r *rewriter) rewrite(p *packet, now int64) (seq uint16, ts uint32, ok bool) {
	if !r.started || r.rebase || p.ssrc != r.srcSSRC {
		if r.started {
			elapsed := uint64(max(now-r.lastAt, 0))
			delta := uint32(elapsed * uint64(r.clockRate) / 1e9)
			r.seqOffset = r.lastSeq + 1 - p.seq
			r.tsOffset = r.lastTS + max(delta, 1) - p.timestamp
		}
		r.started, r.rebase, r.srcSSRC, r.baseSeq = true, false, p.ssrc, p.seq
		r.lastSeq, r.lastTS, r.lastAt = p.seq+r.seqOffset, p.timestamp+r.tsOffset, now
		return r.lastSeq, r.lastTS, true
	}
	if int16(p.seq-r.baseSeq) < 0 {
		return 0, 0, false
	}
	// The splice's start trails the stream: after 32,768 packets (three minutes of video) a
	// fixed start would make every packet look older than the splice, and half of the sequence
	// space was dropped. A packet this far behind is of no use anyway.
	if d := p.seq - r.baseSeq; d > spliceWindow {
		r.baseSeq = p.seq - spliceWindow
	}
	seq, ts = p.seq+r.seqOffset, p.timestamp+r.tsOffset
	if int16(seq-r.lastSeq) > 0 {
		r.lastSeq, r.lastTS, r.lastAt = seq, ts, now
	}
	return seq, ts, true
}

// sentLog remembers, for recent outgoing sequence numbers, which source packet they carried (and
// how it was rewritten), so a subscriber's NACK can be served from the publisher's buffer.
type sentLog struct {
	entries [1024]sentEntry
}

type sentEntry struct {
	valid     bool
	quality   uint8 // the layer the packet came from
	tl0Offset uint8
	outSeq    uint16
	srcSeq    uint16
	picOffset uint16
	tsOffset  uint32
	resent    uint8  // retransmissions so far
	sentMs    uint32 // monotonic ms when first sent (wraps: compare by difference)
	resentAt  int64  // monotonic ns of the last one
}

func (l *sentLog) add(e sentEntry) {
	l.entries[e.outSeq%uint16(len(l.entries))] = e
}

func (l *sentLog) lookup(outSeq uint16) (sentEntry, bool) {
	e := l.entries[outSeq%uint16(len(l.entries))]
	return e, e.valid && e.outSeq == outSeq
}

// Limits on serving NACKs for one packet: a receiver that asks again before a retransmission can
// have arrived, or keeps asking, gets no more copies than these.
const (
	maxResends     = 4
	minResendSpace = 40 * time.Millisecond
)

// mayResend reports whether outSeq may be retransmitted now.
func (l *sentLog) mayResend(outSeq uint16, at int64) bool {
	e := &l.entries[outSeq%uint16(len(l.entries))]
	return e.valid && e.outSeq == outSeq && e.resent < maxResends &&
		(e.resent == 0 || at-e.resentAt >= int64(minResendSpace))
}

// claimResend reports whether outSeq may be retransmitted now, and counts it if so.
func (l *sentLog) claimResend(outSeq uint16, at int64) bool {
	if !l.mayResend(outSeq, at) {
		return false
	}
	e := &l.entries[outSeq%uint16(len(l.entries))]
	e.resent++
	e.resentAt = at
	return true
}

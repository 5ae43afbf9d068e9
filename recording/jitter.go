package recording

import (
	"time"

	"github.com/pion/rtp"
)

// jitterBuffer puts one track's packets back into sequence order before they are depacketized.
// Packets come out of order when the SFU's NACKs to the publisher repair a loss: the repaired
// packet arrives one round trip late. A missing packet is waited for until the packets held
// behind it span latency (in RTP time) or the buffer is full; then it is declared lost and the
// next packet is released with lost set, so the writer leaves a gap rather than closing it up.
type jitterBuffer struct {
	slots   []heldPacket
	latency uint32 // RTP ticks a missing packet is waited for

	started bool
	next    int64 // extended sequence number of the next packet to release
	highest int64 // highest extended sequence number received
	newest  uint32
	held    int
	gap     bool // packets were skipped since the last release

	lost, late, duplicates uint64
	reordered              uint64 // arrived after a later packet, and put back in place
}

// heldPacket is a copy of a packet (the sender reuses its buffers).
type heldPacket struct {
	valid   bool
	ext     int64
	seq     uint16
	ts      uint32
	marker  bool
	at      time.Time // arrival
	payload []byte
}

func newJitterBuffer(slots int, latency uint32) *jitterBuffer {
	return &jitterBuffer{slots: make([]heldPacket, slots), latency: latency}
}

// push takes one packet and releases, in sequence order, every packet that can go.
func (j *jitterBuffer) push(p *rtp.Packet, at time.Time, release func(hp *heldPacket, lost bool)) {
	ext := j.unwrap(p.SequenceNumber)
	if !j.started {
		j.started, j.next, j.highest, j.newest = true, ext, ext, p.Timestamp
	}
	if ext < j.next {
		j.late++ // its place was already given up (or it is a duplicate of a released packet)
		return
	}
	n := int64(len(j.slots))
	for ext-j.next >= n { // no room so far ahead: give up the oldest places
		j.releaseNext(release)
	}
	s := &j.slots[ext%n]
	if s.valid {
		j.duplicates++
		return
	}
	switch {
	case ext > j.highest:
		j.highest, j.newest = ext, p.Timestamp
	case ext < j.highest:
		j.reordered++
	}
	s.valid, s.ext, s.seq, s.ts, s.marker, s.at = true, ext, p.SequenceNumber, p.Timestamp, p.Marker, at
	s.payload = append(s.payload[:0], p.Payload...)
	j.held++
	j.drain(release, false)
}

// flush releases everything held, skipping the holes (the track ended).
func (j *jitterBuffer) flush(release func(*heldPacket, bool)) { j.drain(release, true) }

func (j *jitterBuffer) drain(release func(*heldPacket, bool), force bool) {
	for j.held > 0 {
		s := &j.slots[j.next%int64(len(j.slots))]
		if !(s.valid && s.ext == j.next) && !force && !j.waitedEnough() {
			return
		}
		j.releaseNext(release)
	}
}

// releaseNext releases the packet at next, or declares it lost.
func (j *jitterBuffer) releaseNext(release func(*heldPacket, bool)) {
	s := &j.slots[j.next%int64(len(j.slots))]
	j.next++
	if !s.valid || s.ext != j.next-1 {
		j.lost++
		j.gap = true
		return
	}
	s.valid = false
	j.held--
	gap := j.gap
	j.gap = false
	release(s, gap)
}

// waitedEnough says the hole at next has been waited for long enough: the packets behind it span
// the latency, or they fill half the buffer.
func (j *jitterBuffer) waitedEnough() bool {
	if j.held >= len(j.slots)/2 {
		return true
	}
	n := int64(len(j.slots))
	for e := j.next + 1; e <= j.highest; e++ {
		if s := &j.slots[e%n]; s.valid && s.ext == e {
			return int32(j.newest-s.ts) >= int32(j.latency)
		}
	}
	return false
}

// unwrap extends a 16-bit sequence number to 64 bits around the highest one seen.
func (j *jitterBuffer) unwrap(seq uint16) int64 {
	if !j.started {
		return 1<<20 + int64(seq) // room below for packets that arrive before the first one
	}
	return j.highest + int64(int16(seq-uint16(j.highest)))
}

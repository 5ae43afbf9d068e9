package sfu

import "sync"

// maxPacketSize bounds one RTP packet; larger packets are not forwarded (browsers stay under 1200).
const maxPacketSize = 1500

// packetBuffer keeps the most recent packets of one published track, indexed by sequence number,
// so that every subscriber's NACKs are served from one copy instead of one buffer per subscriber.
// The forwarding goroutine is the only writer; NACK handlers of many subscribers read.
type packetBuffer struct {
	mu    sync.Mutex
	slots []bufferSlot
	mask  uint16
}

type bufferSlot struct {
	valid bool
	seq   uint16
	n     int
	data  [maxPacketSize]byte
}

// newPacketBuffer returns a buffer of size slots, rounded up to a power of two (max 32768).
func newPacketBuffer(size int) *packetBuffer {
	n := 1
	for n < size && n < 1<<15 {
		n <<= 1
	}
	return &packetBuffer{slots: make([]bufferSlot, n), mask: uint16(n - 1)}
}

// put stores a copy of raw under seq. It reports false when that packet is already held (a
// retransmission of something that arrived), so the caller forwards each packet once.
func (b *packetBuffer) put(seq uint16, raw []byte) bool {
	if len(raw) > maxPacketSize {
		return false
	}
	b.mu.Lock()
	s := &b.slots[seq&b.mask]
	if s.valid && s.seq == seq {
		b.mu.Unlock()
		return false
	}
	s.valid, s.seq, s.n = true, seq, copy(s.data[:], raw)
	b.mu.Unlock()
	return true
}

// get copies the packet with sequence number seq into dst and returns its length, or 0 when the
// packet has already been overwritten or never arrived.
func (b *packetBuffer) get(seq uint16, dst []byte) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := &b.slots[seq&b.mask]
	if !s.valid || s.seq != seq {
		return 0
	}
	return copy(dst, s.data[:s.n])
}

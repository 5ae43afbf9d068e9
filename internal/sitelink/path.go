package sitelink

import (
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"
)

// maxDatagram is the largest UDP packet forwarded; a larger one is dropped (it would be
// fragmented on a real path, and WebRTC keeps its packets under 1,500 bytes).
const maxDatagram = 8 << 10

// packet is one UDP datagram on its way, with its buffer, from a pool.
type packet struct {
	buf  []byte
	n    int
	due  int64  // Link clock, ns
	seq  uint64 // arrival order: equal due times leave in it
	flow *flow
}

var packets = sync.Pool{New: func() any { return &packet{buf: make([]byte, maxDatagram)} }}

func getPacket() *packet { return packets.Get().(*packet) }

func putPacket(p *packet) {
	p.flow = nil
	packets.Put(p)
}

// path is one direction of a Link's UDP: loss and rate limit on entry, then a delay line that one
// goroutine serves with one timer.
type path struct {
	l    *Link
	up   bool          // peer → node
	wake chan struct{} // a packet became the earliest

	mu      sync.Mutex
	heap    []*packet // min-heap on (due, seq)
	seq     uint64
	rng     *rand.Rand
	lastDue int64 // without jitter no packet leaves before the one ahead of it
	busy    int64 // the rate limit's link is busy sending until then (Link clock)

	packets, bytes, dropped, droppedBytes atomic.Int64
}

func newPath(l *Link, seed uint64, up bool) *path {
	return &path{l: l, up: up, wake: make(chan struct{}, 1), rng: rand.New(rand.NewPCG(seed, seed>>1|1))}
}

func (p *path) stats() Direction {
	return Direction{Packets: p.packets.Load(), Bytes: p.bytes.Load(),
		DroppedPackets: p.dropped.Load(), DroppedBytes: p.droppedBytes.Load()}
}

func (p *path) drop(pk *packet) {
	p.dropped.Add(1)
	p.droppedBytes.Add(int64(pk.n))
	putPacket(pk)
}

// send takes a packet into the path: it is lost, dropped, or queued for its due time.
func (p *path) send(pk *packet) {
	prm := p.l.prm.Load()
	if prm.cut {
		p.drop(pk)
		return
	}
	now := p.l.now()
	p.mu.Lock()
	if prm.loss > 0 && p.rng.Float64() < prm.loss {
		p.mu.Unlock()
		p.drop(pk)
		return
	}
	depart := now
	if prm.rate > 0 {
		// A bottleneck of rate bytes/s with a queue in front (what tbf does): the packet leaves
		// when the ones before it have, unless the bytes waiting would overflow the queue.
		start := max(now, p.busy)
		if backlog := (start - now) * prm.rate / int64(time.Second); backlog+int64(pk.n) > prm.queue {
			p.mu.Unlock()
			p.drop(pk)
			return
		}
		p.busy = start + int64(pk.n)*int64(time.Second)/prm.rate
		depart = p.busy
	}
	pk.due = depart + int64(prm.delay)
	if prm.jitter > 0 {
		pk.due += p.rng.Int64N(int64(prm.jitter))
	} else {
		pk.due = max(pk.due, p.lastDue)
	}
	p.lastDue = max(p.lastDue, pk.due)
	p.seq++
	pk.seq = p.seq
	p.push(pk)
	first := p.heap[0] == pk
	p.mu.Unlock()
	if first {
		select {
		case p.wake <- struct{}{}:
		default:
		}
	}
}

// run delivers packets when they are due, until the Link closes.
func (p *path) run() {
	defer p.l.wg.Done()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	var batch []*packet
	for {
		p.mu.Lock()
		now := p.l.now()
		for len(p.heap) > 0 && p.heap[0].due <= now {
			batch = append(batch, p.pop())
		}
		next := int64(-1)
		if len(p.heap) > 0 {
			next = p.heap[0].due - now
		}
		p.mu.Unlock()

		cut := p.l.prm.Load().cut
		for i, pk := range batch {
			p.deliver(pk, cut)
			batch[i] = nil
		}
		batch = batch[:0]

		if next >= 0 {
			timer.Reset(time.Duration(next))
		} else {
			timer.Stop()
		}
		select {
		case <-p.wake:
		case <-timer.C:
		case <-p.l.done:
			p.mu.Lock()
			for _, pk := range p.heap {
				putPacket(pk)
			}
			p.heap = nil
			p.mu.Unlock()
			return
		}
	}
}

// deliver writes a due packet to its flow's far side.
func (p *path) deliver(pk *packet, cut bool) {
	if cut {
		p.drop(pk)
		return
	}
	var err error
	if p.up {
		_, err = pk.flow.upstream.Write(pk.buf[:pk.n])
	} else {
		_, err = pk.flow.port.conn.WriteToUDPAddrPort(pk.buf[:pk.n], pk.flow.peer)
	}
	if err != nil {
		p.drop(pk)
		return
	}
	p.packets.Add(1)
	p.bytes.Add(int64(pk.n))
	putPacket(pk)
}

func less(a, b *packet) bool { return a.due < b.due || a.due == b.due && a.seq < b.seq }

func (p *path) push(pk *packet) {
	h := append(p.heap, pk)
	for i := len(h) - 1; i > 0; {
		parent := (i - 1) / 2
		if !less(h[i], h[parent]) {
			break
		}
		h[i], h[parent] = h[parent], h[i]
		i = parent
	}
	p.heap = h
}

func (p *path) pop() *packet {
	h := p.heap
	top := h[0]
	last := len(h) - 1
	h[0] = h[last]
	h[last] = nil
	h = h[:last]
	for i := 0; ; {
		small, l, r := i, 2*i+1, 2*i+2
		if l < len(h) && less(h[l], h[small]) {
			small = l
		}
		if r < len(h) && less(h[r], h[small]) {
			small = r
		}
		if small == i {
			break
		}
		h[i], h[small] = h[small], h[i]
		i = small
	}
	p.heap = h
	return top
}

// queued is the number of packets waiting in the delay line.
func (p *path) queued() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.heap)
}

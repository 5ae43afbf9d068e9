package bench

import (
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/transport/v5"
)

// Impairment is what the publishers' uplink (the hall's township link) does to their packets
// while it is on: random loss, a one-way delay each way, and a rate cap. The bench turns it on
// at the start of the measured window, after ICE and DTLS have finished on a clean link, and
// off after For, so the rest of the window measures the recovery.
type Impairment struct {
	// LossPercent of the RTP and RTCP packets the publisher sends is dropped at random.
	LossPercent float64
	// Delay is added to every packet the publisher sends and receives: RTT + 2 × Delay.
	Delay time.Duration
	// RateBits caps what the publisher sends, in bit/s (0 = no cap): a drop-tail queue of
	// RateQueue in front of a link of that rate.
	RateBits int64
	// For is how long the impairment lasts from the window's start.
	For time.Duration
}

// On says whether anything is impaired.
func (m Impairment) On() bool { return m.LossPercent > 0 || m.Delay > 0 || m.RateBits > 0 }

// RateQueue is the rate-capped link's queue, in time at its rate: a small home router's buffer.
// A packet that would wait longer is dropped.
const RateQueue = 150 * time.Millisecond

// inboxSize bounds the packets a conn holds for its reader while delaying them; past it they are
// dropped, as a full socket buffer drops them.
const inboxSize = 2048

// impairer is one impairment shared by the conns of one or more peers: its settings, whether it
// is on, and the random source of its losses.
type impairer struct {
	m      Impairment
	active atomic.Bool

	mu  sync.Mutex
	rng *rand.Rand

	sent, dropped atomic.Uint64 // RTP/RTCP packets offered while on, and those dropped
}

func newImpairer(m Impairment, seed uint64) *impairer {
	return &impairer{m: m, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
}

// lose draws whether the next packet is lost.
func (im *impairer) lose() bool {
	if im.m.LossPercent <= 0 {
		return false
	}
	im.mu.Lock()
	defer im.mu.Unlock()
	return im.rng.Float64()*100 < im.m.LossPercent
}

// impairedNet is the standard network with every UDP socket impaired: pion's ICE opens its host
// candidates' sockets through ListenUDP (and others through ListenPacket), so wrapping those two
// puts every packet of the peer through the impairment.
type impairedNet struct {
	transport.Net
	im *impairer
}

func (n *impairedNet) ListenUDP(network string, laddr *net.UDPAddr) (transport.UDPConn, error) {
	c, err := n.Net.ListenUDP(network, laddr)
	if err != nil {
		return nil, err
	}
	return newImpairedConn(c, n.im), nil
}

func (n *impairedNet) ListenPacket(network, address string) (net.PacketConn, error) {
	c, err := n.Net.ListenPacket(network, address)
	if err != nil {
		return nil, err
	}
	if uc, ok := c.(transport.UDPConn); ok {
		return newImpairedConn(uc, n.im), nil
	}
	return c, nil
}

// isMedia says whether a datagram is RTP or RTCP (first byte 128–191, RFC 7983). Loss and the
// rate cap apply only to those: STUN consent checks and DTLS keep their way through, so ICE stays
// up and the run measures the media path, not a reconnection. The delay applies to everything,
// so every round trip on the link is the same.
func isMedia(b []byte) bool { return len(b) > 0 && b[0] >= 128 && b[0] <= 191 }

// impairedConn is a UDP socket behind the impairment. Its WriteTo never blocks: a packet is
// dropped or queued with its due time, and one writer goroutine sends the queue in order; a
// reader goroutine stamps what arrives so that ReadFrom can hand it over Delay later. Both end
// when the conn is closed, and Close waits for them. Only ReadFrom and WriteTo are impaired,
// the two pion's ICE uses; the embedded socket's other methods are untouched.
type impairedConn struct {
	transport.UDPConn
	im *impairer

	mu       sync.Mutex
	queue    []datagram // outgoing, due times non-decreasing
	lastDue  time.Time
	linkFree time.Time // when the rate-capped link has sent what it holds
	closing  bool

	wake    chan struct{} // a packet was queued
	closed  chan struct{} // Close was called
	inbox   chan datagram // incoming, for ReadFrom
	readErr error         // the socket's read error, once inbox is closed
	ends    sync.WaitGroup
	once    sync.Once
}

type datagram struct {
	b    []byte
	addr net.Addr
	due  time.Time
}

func newImpairedConn(c transport.UDPConn, im *impairer) *impairedConn {
	ic := &impairedConn{UDPConn: c, im: im, wake: make(chan struct{}, 1), closed: make(chan struct{}),
		inbox: make(chan datagram, inboxSize)}
	ic.ends.Add(2)
	go ic.writer()
	go ic.reader()
	return ic
}

// WriteTo drops, or queues for the writer, a copy of p. It reports p written either way, as a
// UDP socket does for a packet the network loses.
func (c *impairedConn) WriteTo(p []byte, addr net.Addr) (int, error) {
	now := time.Now()
	on := c.im.active.Load()
	c.mu.Lock()
	if c.closing {
		c.mu.Unlock()
		return 0, net.ErrClosed
	}
	if !on && len(c.queue) == 0 {
		c.mu.Unlock()
		return c.UDPConn.WriteTo(p, addr) // the clean link, with nothing queued to overtake
	}
	due := now
	if on {
		if isMedia(p) {
			c.im.sent.Add(1)
			if c.im.lose() {
				c.im.dropped.Add(1)
				c.mu.Unlock()
				return len(p), nil
			}
			if r := c.im.m.RateBits; r > 0 {
				// A drop-tail queue in front of a link of rate r: the packet leaves once the link
				// has sent what is ahead of it, or is dropped if that is more than the queue holds.
				start := c.linkFree
				if start.Before(now) {
					start = now
				}
				if start.Sub(now) > RateQueue {
					c.im.dropped.Add(1)
					c.mu.Unlock()
					return len(p), nil
				}
				c.linkFree = start.Add(time.Duration(int64(len(p)) * 8 * int64(time.Second) / r))
				due = c.linkFree
			}
		}
		due = due.Add(c.im.m.Delay)
	}
	if due.Before(c.lastDue) {
		due = c.lastDue // a link does not reorder
	}
	c.lastDue = due
	c.queue = append(c.queue, datagram{b: append([]byte(nil), p...), addr: addr, due: due})
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
	return len(p), nil
}

// writer sends the queued packets at their due times until the conn is closed.
func (c *impairedConn) writer() {
	defer c.ends.Done()
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	for {
		c.mu.Lock()
		var next datagram
		wait := time.Duration(-1)
		if len(c.queue) > 0 {
			next = c.queue[0]
			if wait = time.Until(next.due); wait <= 0 {
				c.queue[0] = datagram{}
				c.queue = c.queue[1:]
			}
		}
		c.mu.Unlock()
		switch {
		case wait <= 0 && next.b != nil:
			_, _ = c.UDPConn.WriteTo(next.b, next.addr) // a send error is a lost packet
			continue
		case wait > 0:
			t.Reset(wait)
			select {
			case <-t.C:
			case <-c.wake:
				if !t.Stop() {
					<-t.C
				}
			case <-c.closed:
				return
			}
		default:
			select {
			case <-c.wake:
			case <-c.closed:
				return
			}
		}
	}
}

// reader reads the socket until it fails (closed), stamping each packet with the time it may be
// handed to ReadFrom.
func (c *impairedConn) reader() {
	defer c.ends.Done()
	defer close(c.inbox)
	buf := make([]byte, 1500)
	for {
		n, addr, err := c.UDPConn.ReadFrom(buf)
		if err != nil {
			c.readErr = err // read by ReadFrom only after inbox is closed
			return
		}
		due := time.Now()
		if c.im.active.Load() {
			due = due.Add(c.im.m.Delay)
		}
		select {
		case c.inbox <- datagram{b: append([]byte(nil), buf[:n]...), addr: addr, due: due}:
		default: // the reader is that far behind: the buffer is full
		}
	}
}

// ReadFrom returns the next packet once its delay has passed.
func (c *impairedConn) ReadFrom(p []byte) (int, net.Addr, error) {
	d, ok := <-c.inbox
	if !ok {
		return 0, nil, c.readErr
	}
	if wait := time.Until(d.due); wait > 0 {
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-c.closed:
			t.Stop()
			return 0, nil, net.ErrClosed
		}
	}
	return copy(p, d.b), d.addr, nil
}

// Close closes the socket and waits for the writer and reader; what is still queued is lost.
func (c *impairedConn) Close() error {
	err := net.ErrClosed
	c.once.Do(func() {
		c.mu.Lock()
		c.closing = true
		c.queue = nil
		c.mu.Unlock()
		close(c.closed)
		err = c.UDPConn.Close()
		c.ends.Wait()
	})
	return err
}

// Package sitelink puts a slow, lossy network between a node and its peers inside one machine,
// for tests of several nodes at different "sites". This kernel has no sch_netem, so the delay,
// loss and rate limit are done here, in userspace.
//
// A Link fronts a node listening on Node:P with a proxy on Site:P — the same port on another
// loopback address (Linux routes all of 127.0.0.0/8 to lo). The node advertises Site as its
// 1:1-NAT address (sfu.Config.PublicIPs, `rtc.public_ips`), so its ICE candidates point at the
// proxy and every packet of a peer crosses the Link both ways:
//
//	peer ──▶ Site:P ─[delay, loss, rate]─▶ upstream socket (Node:eph) ──▶ Node:P
//	peer ◀── Site:P ◀─[delay, loss, rate]─ upstream socket (Node:eph) ◀── Node:P
//
// UDP is forwarded like a NAT: one upstream socket per distinct peer address (a flow), so the
// node sees each peer as its own address and its answers find their way back. Packets wait in a
// delay line, one per direction for the whole Link (a heap served by one goroutine and one
// timer), so the cost per packet is a heap push and pop, not a goroutine or a timer.
//
// TCP (the node's HTTP port, ICE-TCP) is accepted, dialled upstream and copied both ways, each
// chunk held for the one-way delay in order. Loss does not apply: a real network's TCP would
// retransmit, and a test wanting a dead TCP link cuts it.
//
// The node must listen on its own address (Node:P), not on the wildcard: a socket on 0.0.0.0:P
// would hold the port on Site too.
package sitelink

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// Config sets up a Link. Delay, Jitter, Loss and Rate apply to each direction alike.
type Config struct {
	// Node is the address the node listens on (e.g. 127.0.0.1).
	Node netip.Addr
	// Site is the proxy's address (e.g. 127.0.0.2); the node advertises it.
	Site netip.Addr
	// UDPPorts and TCPPorts are the node's ports the Link fronts, each on the same port of Site.
	UDPPorts []uint16
	TCPPorts []uint16
	// Delay is the one-way delay of every UDP packet and TCP chunk.
	Delay time.Duration
	// Jitter adds a uniform random [0, Jitter) to each UDP packet's delay; packets may then
	// overtake each other, as on a real path. Zero keeps every flow in order.
	Jitter time.Duration
	// Loss is the share of UDP packets dropped, each way, in [0, 1].
	Loss float64
	// Rate limits UDP to this many bytes per second each way (0: no limit), shared by every
	// flow as a site's access link is.
	Rate int64
	// Queue is how many bytes may wait behind Rate before packets are dropped (tail drop);
	// 0 means DefaultQueue.
	Queue int64
	// Seed makes the losses and the jitter repeatable; 0 picks one at random.
	Seed uint64
}

// DefaultQueue is the bytes that may wait behind a rate limit: 64 KiB, some 350 ms at
// 1.5 Mbit/s, about what a township's router buffers.
const DefaultQueue = 64 << 10

// maxFlows bounds the UDP flows of a Link: flows live until Close, and an ICE agent that keeps
// restarting makes a new one each time.
const maxFlows = 4096

// params are what may change at run time, swapped whole so the packet path reads them with one
// atomic load.
type params struct {
	delay, jitter time.Duration
	loss          float64
	rate, queue   int64
	cut           bool
}

// Link is the proxy of one node's ports. Its methods are safe for concurrent use.
type Link struct {
	cfg   Config
	start time.Time // the delay lines count nanoseconds from here (monotonic)
	prm   atomic.Pointer[params]

	up, down *path // peer → node, node → peer
	udp      []*udpPort

	mu      sync.Mutex // guards what follows, and the setters
	closed  bool
	tcp     []*tcpPort
	tcpConn map[*tcpPair]struct{}

	tcpBytesUp, tcpBytesDown atomic.Int64

	done chan struct{}
	wg   sync.WaitGroup
}

// New opens the Link's sockets on Site and starts forwarding.
func New(cfg Config) (*Link, error) {
	if !cfg.Node.IsValid() || !cfg.Site.IsValid() {
		return nil, errors.New("sitelink: Node and Site addresses are required")
	}
	if cfg.Node == cfg.Site {
		return nil, fmt.Errorf("sitelink: Site %s is the Node's own address", cfg.Site)
	}
	if cfg.Loss < 0 || cfg.Loss > 1 {
		return nil, fmt.Errorf("sitelink: loss %v is not in [0, 1]", cfg.Loss)
	}
	if cfg.Queue <= 0 {
		cfg.Queue = DefaultQueue
	}
	seed := cfg.Seed
	if seed == 0 {
		seed = rand.Uint64()
	}
	l := &Link{cfg: cfg, start: time.Now(), tcpConn: map[*tcpPair]struct{}{}, done: make(chan struct{})}
	l.prm.Store(&params{delay: cfg.Delay, jitter: cfg.Jitter, loss: cfg.Loss, rate: cfg.Rate, queue: cfg.Queue})
	l.up = newPath(l, seed, true)
	l.down = newPath(l, seed^0x9e3779b97f4a7c15, false)

	for _, p := range cfg.UDPPorts {
		u, err := l.openUDP(p)
		if err != nil {
			l.Close()
			return nil, err
		}
		l.udp = append(l.udp, u)
	}
	for _, p := range cfg.TCPPorts {
		t := &tcpPort{port: p}
		if err := l.listenTCP(t); err != nil {
			l.Close()
			return nil, err
		}
		l.tcp = append(l.tcp, t)
	}
	l.wg.Add(2)
	go l.up.run()
	go l.down.run()
	for _, u := range l.udp {
		l.wg.Add(1)
		go u.readPeers()
	}
	return l, nil
}

// Site is the proxy's address: what the node advertises.
func (l *Link) Site() netip.Addr { return l.cfg.Site }

// now is the delay lines' clock.
func (l *Link) now() int64 { return int64(time.Since(l.start)) }

// update applies f to a copy of the parameters and publishes it.
func (l *Link) update(f func(p *params)) {
	l.mu.Lock()
	defer l.mu.Unlock()
	p := *l.prm.Load()
	f(&p)
	l.prm.Store(&p)
}

// SetDelay changes the one-way delay and jitter of what arrives from now on; packets already
// waiting keep theirs (and, without jitter, nothing overtakes them).
func (l *Link) SetDelay(delay, jitter time.Duration) {
	l.update(func(p *params) { p.delay, p.jitter = delay, jitter })
}

// SetLoss changes the share of UDP packets dropped each way.
func (l *Link) SetLoss(loss float64) {
	loss = min(max(loss, 0), 1)
	l.update(func(p *params) { p.loss = loss })
}

// SetRate changes the UDP rate limit (bytes/s each way, 0 = none) and its queue (0 = DefaultQueue).
func (l *Link) SetRate(rate, queue int64) {
	if queue <= 0 {
		queue = DefaultQueue
	}
	l.update(func(p *params) { p.rate, p.queue = rate, queue })
}

// Cut takes the link down: every UDP packet is dropped (those in flight too), TCP connections
// are reset and new ones refused (the TCP ports stop listening). UDP flows are kept, as a NAT
// keeps its mappings through a short outage.
func (l *Link) Cut() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.setCut(true)
	l.endTCP()
}

// setCut publishes cut; called with l.mu held.
func (l *Link) setCut(cut bool) {
	p := *l.prm.Load()
	p.cut = cut
	l.prm.Store(&p)
}

// endTCP stops the TCP listeners and resets the connections; called with l.mu held.
func (l *Link) endTCP() {
	for _, t := range l.tcp {
		if t.ln != nil {
			_ = t.ln.Close()
			t.ln = nil
		}
	}
	for c := range l.tcpConn {
		c.reset()
	}
}

// Restore brings a cut link back; its TCP ports listen again.
func (l *Link) Restore() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return net.ErrClosed
	}
	var errs []error
	for _, t := range l.tcp {
		if t.ln == nil {
			errs = append(errs, l.listenTCP(t))
		}
	}
	l.setCut(false)
	return errors.Join(errs...)
}

// Close ends every socket and goroutine of the Link; what is in flight is dropped.
func (l *Link) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	l.endTCP()
	l.mu.Unlock()
	for _, u := range l.udp {
		u.close()
	}
	close(l.done)
	l.wg.Wait()
	return nil
}

// Direction counts one way of the Link's UDP.
type Direction struct {
	Packets, Bytes               int64 // forwarded
	DroppedPackets, DroppedBytes int64 // lost, over the queue, cut, or unwritable
}

// Stats are the Link's counters since New. Up is peer → node, Down node → peer.
type Stats struct {
	Up, Down Direction
	// Flows is the number of UDP flows (distinct peer addresses) seen.
	Flows int
	// TCPBytesUp and TCPBytesDown are the TCP bytes delivered each way.
	TCPBytesUp, TCPBytesDown int64
}

// Stats reads the counters.
func (l *Link) Stats() Stats {
	s := Stats{Up: l.up.stats(), Down: l.down.stats(),
		TCPBytesUp: l.tcpBytesUp.Load(), TCPBytesDown: l.tcpBytesDown.Load()}
	for _, u := range l.udp {
		u.mu.Lock()
		s.Flows += len(u.flows)
		u.mu.Unlock()
	}
	return s
}

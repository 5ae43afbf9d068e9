package sitelink

import (
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// chunkSize is the most one read of a TCP connection takes into one delayed chunk.
const chunkSize = 32 << 10

// chunksInFlight bounds the chunks waiting in one direction of a connection; a full line stops
// the reader, and TCP's flow control then slows the sender, as a real path's window would.
const chunksInFlight = 32

// dialTimeout bounds the dial to the node for an accepted connection.
const dialTimeout = 5 * time.Second

var chunks = sync.Pool{New: func() any { b := make([]byte, chunkSize); return &b }}

// tcpPort is one fronted TCP port; ln is nil while the Link is cut.
type tcpPort struct {
	port uint16
	ln   *net.TCPListener
}

// listenTCP opens t's listener on Site and starts its accept loop. Called with l.mu held (or
// before the Link is shared).
func (l *Link) listenTCP(t *tcpPort) error {
	ln, err := net.ListenTCP("tcp", net.TCPAddrFromAddrPort(netip.AddrPortFrom(l.cfg.Site, t.port)))
	if err != nil {
		return fmt.Errorf("sitelink: listen TCP on %s port %d: %w", l.cfg.Site, t.port, err)
	}
	t.ln = ln
	l.wg.Add(1)
	go l.accept(ln, t.port)
	return nil
}

// accept serves one listener until it closes (Cut or Close).
func (l *Link) accept(ln *net.TCPListener, port uint16) {
	defer l.wg.Done()
	for {
		c, err := ln.AcceptTCP()
		if err != nil {
			return
		}
		pr := &tcpPair{l: l, peer: c, dead: make(chan struct{})}
		l.mu.Lock()
		if l.closed || l.prm.Load().cut {
			l.mu.Unlock()
			_ = c.SetLinger(0)
			_ = c.Close()
			continue
		}
		l.tcpConn[pr] = struct{}{}
		l.wg.Add(1)
		l.mu.Unlock()
		go pr.serve(netip.AddrPortFrom(l.cfg.Node, port))
	}
}

// tcpPair is one proxied connection: the peer's and the one to the node.
type tcpPair struct {
	l          *Link
	peer, node *net.TCPConn
	mu         sync.Mutex // guards node while it is dialled
	once       sync.Once
	dead       chan struct{} // closed on reset: the pair's goroutines stop waiting
}

// serve dials the node and copies both ways, each direction through its own delay line.
func (pr *tcpPair) serve(node netip.AddrPort) {
	defer pr.l.wg.Done()
	defer pr.forget()
	d := net.Dialer{Timeout: dialTimeout, LocalAddr: net.TCPAddrFromAddrPort(netip.AddrPortFrom(pr.l.cfg.Node, 0))}
	c, err := d.Dial("tcp", node.String())
	if err != nil {
		pr.reset()
		return
	}
	pr.mu.Lock()
	pr.node = c.(*net.TCPConn)
	pr.mu.Unlock()
	select {
	case <-pr.dead: // reset while dialling, before node was there to close
		_ = pr.node.SetLinger(0)
		_ = pr.node.Close()
		return
	default:
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); pr.copy(pr.node, pr.peer, &pr.l.tcpBytesUp) }()
	pr.copy(pr.peer, pr.node, &pr.l.tcpBytesDown)
	wg.Wait()
	_ = pr.peer.Close()
	_ = pr.node.Close()
}

type chunk struct {
	buf *[]byte
	n   int
	due time.Time
}

// copy moves src's bytes to dst, each chunk held for the Link's delay at the time it was read;
// at src's end it half-closes dst, as the peer did.
func (pr *tcpPair) copy(dst, src *net.TCPConn, delivered *atomic.Int64) {
	line := make(chan chunk, chunksInFlight)
	go func() { // the reader, ended by src's end or error (reset closes src)
		defer close(line)
		var last time.Time
		for {
			b := chunks.Get().(*[]byte)
			n, err := src.Read(*b)
			if n > 0 {
				due := time.Now().Add(pr.l.prm.Load().delay)
				if due.Before(last) { // the delay shrank: nothing overtakes what is waiting
					due = last
				}
				last = due
				select {
				case line <- chunk{buf: b, n: n, due: due}:
				case <-pr.dead:
					chunks.Put(b)
					return
				}
			} else {
				chunks.Put(b)
			}
			if err != nil {
				return
			}
		}
	}()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	ok := true
	for c := range line {
		if ok {
			if wait := time.Until(c.due); wait > 0 {
				timer.Reset(wait)
				select {
				case <-timer.C:
				case <-pr.dead:
					ok = false
				}
			}
		}
		if ok {
			if _, err := dst.Write((*c.buf)[:c.n]); err != nil {
				ok = false
				pr.reset()
			} else {
				delivered.Add(int64(c.n))
			}
		}
		chunks.Put(c.buf)
	}
	if ok {
		_ = dst.CloseWrite()
	}
}

// reset ends the pair with a TCP reset on both sides (SO_LINGER 0), as a broken path does to
// the next packet, and releases its goroutines.
func (pr *tcpPair) reset() {
	pr.once.Do(func() {
		close(pr.dead)
		_ = pr.peer.SetLinger(0)
		_ = pr.peer.Close()
		pr.mu.Lock()
		if pr.node != nil {
			_ = pr.node.SetLinger(0)
			_ = pr.node.Close()
		}
		pr.mu.Unlock()
	})
}

func (pr *tcpPair) forget() {
	pr.l.mu.Lock()
	delete(pr.l.tcpConn, pr)
	pr.l.mu.Unlock()
}

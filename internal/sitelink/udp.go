package sitelink

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
)

// udpPort is one fronted UDP port: the socket on Site and the flows of the peers that wrote to it.
type udpPort struct {
	l    *Link
	conn *net.UDPConn
	node netip.AddrPort // where the node listens

	mu     sync.Mutex
	closed bool
	flows  map[netip.AddrPort]*flow
}

// flow is one peer address and the upstream socket that stands for it at the node.
type flow struct {
	port     *udpPort
	peer     netip.AddrPort
	upstream *net.UDPConn // connected to the node
}

func (l *Link) openUDP(port uint16) (*udpPort, error) {
	c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(l.cfg.Site, port)))
	if err != nil {
		return nil, fmt.Errorf("sitelink: listen UDP on %s port %d: %w", l.cfg.Site, port, err)
	}
	setBuffers(c)
	return &udpPort{l: l, conn: c, node: netip.AddrPortFrom(l.cfg.Node, port), flows: map[netip.AddrPort]*flow{}}, nil
}

// readPeers takes what peers send to Site into the up path, until the socket closes.
func (u *udpPort) readPeers() {
	defer u.l.wg.Done()
	for {
		pk := getPacket()
		n, from, err := u.conn.ReadFromUDPAddrPort(pk.buf)
		if err != nil {
			putPacket(pk)
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue // an ICMP error of an earlier write, say
		}
		pk.n = n
		f := u.flow(from)
		if f == nil || n == len(pk.buf) { // no flow left, or too large to be whole
			u.l.up.drop(pk)
			continue
		}
		pk.flow = f
		u.l.up.send(pk)
	}
}

// flow finds the peer's flow or makes one: a socket on Node, connected to the node's port, and
// its reader. nil when the port is closed or full.
func (u *udpPort) flow(peer netip.AddrPort) *flow {
	u.mu.Lock()
	defer u.mu.Unlock()
	if f, ok := u.flows[peer]; ok {
		return f
	}
	if u.closed || len(u.flows) >= maxFlows {
		return nil
	}
	c, err := net.DialUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(u.l.cfg.Node, 0)), net.UDPAddrFromAddrPort(u.node))
	if err != nil {
		return nil
	}
	setBuffers(c)
	f := &flow{port: u, peer: peer, upstream: c}
	u.flows[peer] = f
	u.l.wg.Add(1)
	go f.readNode()
	return f
}

// readNode takes what the node answers into the down path, until the flow's socket closes.
func (f *flow) readNode() {
	defer f.port.l.wg.Done()
	for {
		pk := getPacket()
		n, err := f.upstream.Read(pk.buf)
		if err != nil {
			putPacket(pk)
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue // ECONNREFUSED: the node's port is not (yet) open
		}
		pk.n = n
		if n == len(pk.buf) {
			f.port.l.down.drop(pk)
			continue
		}
		pk.flow = f
		f.port.l.down.send(pk)
	}
}

// socketBuffer is the send and receive buffer of the Link's UDP sockets: a burst (a keyframe,
// a test's blast) must wait in the Link's delay line, not be dropped unseen by the kernel. The
// kernel caps it at net.core.rmem_max / wmem_max.
const socketBuffer = 1 << 20

func setBuffers(c *net.UDPConn) {
	_ = c.SetReadBuffer(socketBuffer)
	_ = c.SetWriteBuffer(socketBuffer)
}

func (u *udpPort) close() {
	u.mu.Lock()
	u.closed = true
	for _, f := range u.flows {
		_ = f.upstream.Close()
	}
	u.mu.Unlock()
	_ = u.conn.Close()
}

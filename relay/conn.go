package relay

import (
	"errors"
	"net"
	"sync"
	"sync/atomic"

	"github.com/pion/logging"
	"go.uber.org/zap"
)

// errNotMedia refuses a relayed packet for any address but the SFU's media port. Permissions are
// per IP (RFC 8656 §9), so a client allowed to the server's IP could otherwise reach its other
// ports; the relay socket itself says no.
var errNotMedia = errors.New("relay: peer is not this server's media port")

// generator makes the relay sockets of one client transport: UDP sockets on the listen IP that
// talk to the media port only. TCP allocations (RFC 6062) are refused: the SFU takes media over
// UDP.
type generator struct {
	s *Server
	t Transport
}

func (s *Server) generator(t Transport) *generator { return &generator{s: s, t: t} }

func (g *generator) Validate() error { return nil }

func (g *generator) AllocatePacketConn(c turnAllocateConfig) (net.PacketConn, net.Addr, error) {
	network := c.Network
	if network == "" {
		network = "udp4"
	}
	pc, err := net.ListenUDP(network, &net.UDPAddr{IP: g.s.cfg.ListenIP})
	if err != nil {
		return nil, nil, err
	}
	relayed := &net.UDPAddr{IP: g.s.cfg.RelayIP, Port: pc.LocalAddr().(*net.UDPAddr).Port}
	m := g.s.metrics
	m.allocations.WithLabelValues(string(g.t)).Inc()
	return &mediaOnlyConn{UDPConn: pc, s: g.s,
		bytesIn:  m.relayedBytes.WithLabelValues(string(g.t), "to_media"),
		bytesOut: m.relayedBytes.WithLabelValues(string(g.t), "to_client"),
		closed:   func() { m.allocations.WithLabelValues(string(g.t)).Dec() },
	}, relayed, nil
}

func (g *generator) AllocateListener(turnAllocateConfig) (net.Listener, net.Addr, error) {
	return nil, nil, errors.New("relay: TCP allocations are not offered")
}

func (g *generator) AllocateConn(turnConnConfig) (net.Conn, error) {
	return nil, errors.New("relay: TCP allocations are not offered")
}

// mediaOnlyConn is an allocation's relay socket. It writes only to the SFU's media port (a
// packet addressed to one of the SFU's announced IPs at that port goes to the media socket's own
// address, so that a server behind 1:1 NAT needs no hairpin) and reads only what comes from
// there, reporting it as from the address the client wrote to.
type mediaOnlyConn struct {
	*net.UDPConn
	s                 *Server
	bytesIn, bytesOut counter
	closed            func()
	once              sync.Once
	apparent          atomic.Pointer[net.UDPAddr] // the media address as the client named it
}

type counter interface{ Add(float64) }

// target maps a peer address to the socket address it is sent to, or nil when refused.
func (c *mediaOnlyConn) target(addr net.Addr) *net.UDPAddr {
	u, ok := addr.(*net.UDPAddr)
	if !ok || u.Port != c.s.cfg.Media.Port || !c.s.peerAllowed(u.IP) {
		return nil
	}
	media := *c.s.cfg.Media
	if media.IP == nil || media.IP.IsUnspecified() {
		media.IP = net.IPv4(127, 0, 0, 1)
	}
	return &media
}

func (c *mediaOnlyConn) WriteTo(p []byte, addr net.Addr) (int, error) {
	dst := c.target(addr)
	if dst == nil {
		c.s.metrics.refused.Inc()
		return 0, errNotMedia
	}
	if a := c.apparent.Load(); a == nil || !a.IP.Equal(addr.(*net.UDPAddr).IP) {
		c.apparent.Store(addr.(*net.UDPAddr))
	}
	// Counted before the write, so that an answer relayed back is never seen before its question.
	c.bytesIn.Add(float64(len(p)))
	return c.UDPConn.WriteTo(p, dst)
}

// ReadFrom returns the next packet from the media port; anything else is dropped.
func (c *mediaOnlyConn) ReadFrom(p []byte) (int, net.Addr, error) {
	for {
		n, from, err := c.UDPConn.ReadFromUDP(p)
		if err != nil {
			return n, from, err
		}
		if from.Port != c.s.cfg.Media.Port || !c.fromServer(from.IP) {
			c.s.metrics.refused.Inc()
			continue
		}
		c.bytesOut.Add(float64(n))
		if c.s.peerAllowed(from.IP) {
			return n, from, nil
		}
		if a := c.apparent.Load(); a != nil {
			return n, a, nil
		}
		return n, from, nil
	}
}

// fromServer says whether ip is one the media socket may send from: an announced IP, the
// socket's own, or (for a wildcard socket) loopback.
func (c *mediaOnlyConn) fromServer(ip net.IP) bool {
	m := c.s.cfg.Media.IP
	return c.s.peerAllowed(ip) || ip.Equal(m) || ((m == nil || m.IsUnspecified()) && ip.IsLoopback())
}

func (c *mediaOnlyConn) Close() error {
	c.once.Do(c.closed)
	return c.UDPConn.Close()
}

// pionLogs routes pion's logs to zap at debug level: the relay's refusals are counted in the
// metrics, and pion's messages carry clients' addresses.
type pionLogs struct{ log *zap.Logger }

func (f pionLogs) NewLogger(scope string) logging.LeveledLogger {
	return pionLogger{s: f.log.With(zap.String("pion", scope)).Sugar()}
}

type pionLogger struct{ s *zap.SugaredLogger }

func (l pionLogger) Trace(string)                   {}
func (l pionLogger) Tracef(string, ...any)          {}
func (l pionLogger) Debug(msg string)               { l.s.Debug(msg) }
func (l pionLogger) Debugf(format string, a ...any) { l.s.Debugf(format, a...) }
func (l pionLogger) Info(msg string)                { l.s.Debug(msg) }
func (l pionLogger) Infof(format string, a ...any)  { l.s.Debugf(format, a...) }
func (l pionLogger) Warn(msg string)                { l.s.Debug(msg) }
func (l pionLogger) Warnf(format string, a ...any)  { l.s.Debugf(format, a...) }
func (l pionLogger) Error(msg string)               { l.s.Debug(msg) }
func (l pionLogger) Errorf(format string, a ...any) { l.s.Debugf(format, a...) }

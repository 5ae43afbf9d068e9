// Package portmux serves everything a hall needs on one TCP port, for networks whose firewall
// passes TCP 443 and nothing else. It tells the protocols apart by their first bytes:
//
//   - 0x16, a TLS handshake record: TLS. The ALPN protocol the client asked for then decides:
//     "stun.turn" (RFC 7443) is TURN over TLS; "http/1.1" or none is HTTPS and WebSocket.
//   - a STUN header after a 2-byte length (RFC 4571 framing, what ICE-TCP sends first): ICE-TCP
//     to the SFU.
//   - a STUN header at the start (RFC 8656 TURN over TCP, no framing): TURN over TCP.
//
// Anything else is closed: plain HTTP on the TLS port would carry sessions and tokens in clear.
package portmux

import (
	"bytes"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
)

// ALPNTURN is the ALPN protocol of TURN over TLS (RFC 7443).
const ALPNTURN = "stun.turn"

// sniffTimeout bounds how long a new connection may take to send its first bytes and finish its
// TLS handshake; a silent one holds no goroutine longer.
const sniffTimeout = 10 * time.Second

// stunMagicCookie is in every STUN message at offset 4 (RFC 5389).
var stunMagicCookie = []byte{0x21, 0x12, 0xa4, 0x42}

// Kind is what a connection turned out to be.
type Kind int

const (
	Unknown Kind = iota
	HTTPS
	ICETCP
	TURNTCP
	TURNTLS
)

// Config sets up a Mux.
type Config struct {
	// Listener is the one port.
	Listener net.Listener
	// TLS is the HTTPS (and TURN over TLS) configuration; its NextProtos should offer
	// "http/1.1" and, when TURN is on, ALPNTURN.
	TLS *tls.Config
	// TURN takes TURN connections (kind TURNTCP with a raw connection, TURNTLS with a *tls.Conn
	// after its handshake); nil closes them.
	TURN func(c net.Conn, k Kind)
	// Logger logs what is not a client's ordinary failure (nil = none).
	Logger *zap.Logger
}

// Mux splits one listener into an HTTPS listener and an ICE-TCP listener, and hands TURN on.
type Mux struct {
	cfg       Config
	log       *zap.Logger
	https     *Listener
	ice       *Listener
	wg        sync.WaitGroup
	closeOnce sync.Once
	counts    [TURNTLS + 1]atomic.Int64 // connections handed on, by kind
}

// New starts serving cfg.Listener; Close ends it.
func New(cfg Config) *Mux {
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	m := &Mux{cfg: cfg, log: cfg.Logger, https: NewListener(cfg.Listener.Addr()), ice: NewListener(cfg.Listener.Addr())}
	m.wg.Add(1)
	go m.accept()
	return m
}

// HTTPS is the listener for the HTTP server: its connections are *tls.Conn, handshake done.
func (m *Mux) HTTPS() net.Listener { return m.https }

// ICE is the listener for the SFU's ICE-TCP mux: its connections start with an RFC 4571 frame.
func (m *Mux) ICE() net.Listener { return m.ice }

// Close closes the port and the listeners it feeds, and waits for the connections being sniffed.
func (m *Mux) Close() error {
	var err error
	m.closeOnce.Do(func() {
		err = m.cfg.Listener.Close()
		_ = m.https.Close()
		_ = m.ice.Close()
	})
	m.wg.Wait()
	return err
}

func (m *Mux) accept() {
	defer m.wg.Done()
	for {
		c, err := m.cfg.Listener.Accept()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			if !errors.Is(err, net.ErrClosed) {
				m.log.Warn("one-port accept", zap.Error(err))
			}
			_ = m.https.Close()
			_ = m.ice.Close()
			return
		}
		m.wg.Add(1)
		go func() {
			defer m.wg.Done()
			m.route(c)
		}()
	}
}

// route sniffs c and hands it on, or closes it.
func (m *Mux) route(c net.Conn) {
	_ = c.SetDeadline(time.Now().Add(sniffTimeout))
	head := make([]byte, 10)
	n, err := io.ReadFull(c, head)
	if err != nil {
		_ = c.Close()
		return
	}
	pc := &prefixConn{Conn: c, prefix: head[:n]}
	kind := Classify(head)
	switch kind {
	case HTTPS:
		m.routeTLS(pc)
	case ICETCP:
		_ = c.SetDeadline(time.Time{})
		m.hand(m.ice, pc, kind)
	case TURNTCP:
		_ = c.SetDeadline(time.Time{})
		m.toTURN(pc, kind)
	default:
		_ = c.Close()
	}
}

func (m *Mux) routeTLS(c net.Conn) {
	tc := tls.Server(c, m.cfg.TLS)
	if err := tc.Handshake(); err != nil {
		_ = c.Close()
		return
	}
	switch tc.ConnectionState().NegotiatedProtocol {
	case ALPNTURN:
		_ = c.SetDeadline(time.Time{})
		m.toTURN(tc, TURNTLS)
	case "":
		// No ALPN (libwebrtc's TURN over TLS offers none, nor do some WebSocket clients): the
		// first bytes inside tell a STUN message from an HTTP request line.
		head := make([]byte, 8)
		if _, err := io.ReadFull(tc, head); err != nil {
			_ = tc.Close()
			return
		}
		_ = c.SetDeadline(time.Time{})
		pc := &prefixConn{Conn: tc, prefix: head}
		if head[0]&0xc0 == 0 && bytes.Equal(head[4:8], stunMagicCookie) {
			m.toTURN(pc, TURNTLS)
			return
		}
		m.hand(m.https, pc, HTTPS)
	default:
		_ = c.SetDeadline(time.Time{})
		m.hand(m.https, tc, HTTPS)
	}
}

func (m *Mux) toTURN(c net.Conn, k Kind) {
	if m.cfg.TURN == nil {
		_ = c.Close()
		return
	}
	m.count(k)
	m.cfg.TURN(c, k)
}

func (m *Mux) hand(l *Listener, c net.Conn, k Kind) {
	if !l.Hand(c) {
		_ = c.Close()
		return
	}
	m.count(k)
}

func (m *Mux) count(k Kind) { m.counts[k].Add(1) }

// Count is how many connections of kind k were handed on.
func (m *Mux) Count(k Kind) int64 { return m.counts[k].Load() }

// Classify tells from a connection's first 10 bytes what it carries.
func Classify(head []byte) Kind {
	if len(head) < 10 {
		return Unknown
	}
	switch {
	case head[0] == 0x16 && head[1] == 0x03: // TLS handshake record, version 3.x
		return HTTPS
	case head[2]&0xc0 == 0 && bytes.Equal(head[6:10], stunMagicCookie) &&
		binary.BigEndian.Uint16(head[0:2]) >= 20: // RFC 4571 length, then a STUN header
		return ICETCP
	case head[0]&0xc0 == 0 && bytes.Equal(head[4:8], stunMagicCookie):
		return TURNTCP
	}
	return Unknown
}

// prefixConn replays the sniffed bytes before reading on.
type prefixConn struct {
	net.Conn
	prefix []byte
}

func (c *prefixConn) Read(p []byte) (int, error) {
	if len(c.prefix) > 0 {
		n := copy(p, c.prefix)
		c.prefix = c.prefix[n:]
		return n, nil
	}
	return c.Conn.Read(p)
}

// Listener is a net.Listener fed by hand (Hand): the mux feeds one per kind of connection, and
// the TURN server one per transport it takes connections from elsewhere.
type Listener struct {
	addr  net.Addr
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

// NewListener is a Listener that reports addr as its address.
func NewListener(addr net.Addr) *Listener {
	return &Listener{addr: addr, conns: make(chan net.Conn), done: make(chan struct{})}
}

// Hand gives c to Accept; false once the listener is closed.
func (l *Listener) Hand(c net.Conn) bool {
	select {
	case l.conns <- c:
		return true
	case <-l.done:
		return false
	}
}

func (l *Listener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *Listener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *Listener) Addr() net.Addr { return l.addr }

// Package relay is Sanji's embedded TURN server (RFC 8656, on pion/turn): for halls whose firewall
// lets no UDP and no ICE-TCP reach the media port, it takes TURN over UDP, TCP and TLS and relays
// to the SFU's own ICE UDP port, and to nothing else. Credentials follow the TURN REST API
// convention (coturn's use-auth-secret): the username is "<expiry unix seconds>:<participant>",
// the password the base64 HMAC-SHA1 of the username under a secret shared with the signaling
// server, which hands them out in `joined`.
package relay

import (
	"crypto/hmac"
	"crypto/sha1" //nolint:gosec // the TURN REST convention is HMAC-SHA1; browsers and coturn expect it
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"sanji/internal/portmux"

	"github.com/pion/stun/v4"
	"github.com/pion/turn/v5"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
)

// Transport names how a client reaches the relay; it labels the metrics.
type Transport string

const (
	UDP Transport = "udp"
	TCP Transport = "tcp"
	TLS Transport = "tls"
)

// Config sets up the relay.
type Config struct {
	// Realm is the TURN realm (part of the long-term credential key).
	Realm string
	// Secret signs the credentials (at least 32 bytes).
	Secret []byte
	// Media is the SFU's ICE UDP address: the one peer every allocation may reach.
	Media *net.UDPAddr
	// PeerIPs are the addresses clients know the media port by (the SFU's host candidates:
	// its public IPs, or its listen IP). Permissions are granted to these IPs only, and a packet
	// for one of them at the media port goes to Media. Empty: Media's IP (loopback when Media
	// is a wildcard).
	PeerIPs []net.IP
	// ListenIP is where the TURN sockets and the relay sockets bind.
	ListenIP net.IP
	// RelayIP is the relayed address written into allocations (the address the SFU could reach
	// the relay at). Nil: ListenIP, or loopback when ListenIP is a wildcard.
	RelayIP net.IP
	// UDPPort, TCPPort and TLSPort are the TURN listeners: -1 off, 0 any free port.
	UDPPort, TCPPort, TLSPort int
	// TLS serves TURN over TLS (its certificate); required when TLSPort ≥ 0 or when the one-port
	// listener hands TLS connections over.
	TLS *tls.Config
	// Logger receives pion's and the relay's logs (nil = none).
	Logger *zap.Logger
	// Registerer receives the metrics (nil = not registered).
	Registerer prometheus.Registerer
}

// Server is a running relay. Close ends it.
type Server struct {
	cfg     Config
	log     *zap.Logger
	metrics *metrics
	turn    *turn.Server
	udp     net.PacketConn
	tcp     net.Listener // the TCP port, nil when off
	tls     net.Listener // the TLS port, nil when off
	// handed are the listeners pion reads; the ports' accept loops and Accept feed them.
	handed map[Transport]*portmux.Listener
	wg     sync.WaitGroup // the accept loops
}

// New opens the relay's ports and starts serving.
func New(cfg Config) (*Server, error) {
	if len(cfg.Secret) < 32 {
		return nil, errors.New("relay: the credential secret must have at least 32 bytes")
	}
	if cfg.Media == nil {
		return nil, errors.New("relay: no media address to relay to")
	}
	if cfg.Realm == "" {
		return nil, errors.New("relay: no realm")
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	if cfg.ListenIP == nil {
		cfg.ListenIP = net.IPv4(127, 0, 0, 1)
	}
	if cfg.RelayIP == nil {
		cfg.RelayIP = cfg.ListenIP
		if cfg.RelayIP.IsUnspecified() {
			cfg.RelayIP = net.IPv4(127, 0, 0, 1)
		}
	}
	if len(cfg.PeerIPs) == 0 {
		ip := cfg.Media.IP
		if ip == nil || ip.IsUnspecified() {
			ip = net.IPv4(127, 0, 0, 1)
		}
		cfg.PeerIPs = []net.IP{ip}
	}
	if cfg.TLSPort >= 0 && cfg.TLS == nil {
		return nil, errors.New("relay: TURN over TLS needs a certificate")
	}
	s := &Server{cfg: cfg, log: cfg.Logger, metrics: newMetrics(cfg.Registerer), handed: map[Transport]*portmux.Listener{}}
	if err := s.open(); err != nil {
		s.closeSockets()
		return nil, err
	}
	lf := pionLogs{log: cfg.Logger.Named("turn")}
	perm := func(_ net.Addr, peer net.IP) bool { return s.peerAllowed(peer) }
	sc := turn.ServerConfig{
		Realm:         cfg.Realm,
		AuthHandler:   s.authenticate,
		LoggerFactory: lf,
		PacketConnConfigs: []turn.PacketConnConfig{{
			PacketConn: s.udp, RelayAddressGenerator: s.generator(UDP), PermissionHandler: perm,
		}},
	}
	for _, t := range []Transport{TCP, TLS} {
		sc.ListenerConfigs = append(sc.ListenerConfigs, turn.ListenerConfig{
			Listener: s.handed[t], RelayAddressGenerator: s.generator(t), PermissionHandler: perm,
		})
	}
	srv, err := turn.NewServer(sc)
	if err != nil {
		s.closeSockets()
		return nil, fmt.Errorf("relay: start TURN: %w", err)
	}
	s.turn = srv
	if s.tcp != nil {
		s.acceptLoop(s.tcp, TCP)
	}
	if s.tls != nil {
		s.acceptLoop(s.tls, TLS)
	}
	return s, nil
}

// open binds the configured ports. The UDP socket always exists (pion needs one packet conn); it
// is on a free port when UDPPort is -1 and then not announced.
func (s *Server) open() error {
	c := s.cfg
	port := c.UDPPort
	if port < 0 {
		port = 0
	}
	udp, err := net.ListenUDP("udp", &net.UDPAddr{IP: c.ListenIP, Port: port})
	if err != nil {
		return fmt.Errorf("relay: open TURN UDP port %d: %w", c.UDPPort, err)
	}
	s.udp = udp
	for _, t := range []Transport{TCP, TLS} {
		s.handed[t] = portmux.NewListener(udp.LocalAddr())
	}
	if c.TCPPort >= 0 {
		ln, err := net.ListenTCP("tcp", &net.TCPAddr{IP: c.ListenIP, Port: c.TCPPort})
		if err != nil {
			return fmt.Errorf("relay: open TURN TCP port %d: %w", c.TCPPort, err)
		}
		s.tcp = ln
	}
	if c.TLSPort >= 0 {
		ln, err := net.ListenTCP("tcp", &net.TCPAddr{IP: c.ListenIP, Port: c.TLSPort})
		if err != nil {
			return fmt.Errorf("relay: open TURN TLS port %d: %w", c.TLSPort, err)
		}
		s.tls = tls.NewListener(ln, s.cfg.TLS)
	}
	return nil
}

// acceptLoop hands the connections of a TURN port to pion; it ends when Close closes ln.
func (s *Server) acceptLoop(ln net.Listener, t Transport) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				if !errors.Is(err, net.ErrClosed) {
					s.log.Warn("turn accept", zap.String("transport", string(t)), zap.Error(err))
				}
				return
			}
			if !s.handed[t].Hand(c) {
				_ = c.Close()
				return
			}
		}
	}()
}

// Accept takes a connection the one-port listener recognised as TURN: t is TCP for a raw STUN
// stream, TLS for a *tls.Conn whose ALPN chose "stun.turn". It reports false (and closes c) once
// the relay is closed.
func (s *Server) Accept(c net.Conn, t Transport) bool {
	l := s.handed[t]
	if l == nil || !l.Hand(c) {
		_ = c.Close()
		return false
	}
	return true
}

// UDPAddr, TCPAddr and TLSAddr are the TURN ports actually bound; nil when off.
func (s *Server) UDPAddr() *net.UDPAddr {
	if s.cfg.UDPPort < 0 {
		return nil
	}
	return s.udp.LocalAddr().(*net.UDPAddr)
}

func (s *Server) TCPAddr() *net.TCPAddr {
	if s.tcp == nil {
		return nil
	}
	return s.tcp.Addr().(*net.TCPAddr)
}

func (s *Server) TLSAddr() *net.TCPAddr {
	if s.tls == nil {
		return nil
	}
	return s.tls.Addr().(*net.TCPAddr)
}

// Allocations is the number of live allocations.
func (s *Server) Allocations() int { return s.turn.AllocationCount() }

// Close ends every allocation and closes the ports.
func (s *Server) Close() error {
	err := s.turn.Close() // closes the UDP socket and the handed listeners
	for _, l := range []net.Listener{s.tcp, s.tls} {
		if l != nil {
			_ = l.Close()
		}
	}
	s.wg.Wait()
	if err != nil {
		return fmt.Errorf("relay: close: %w", err)
	}
	return nil
}

// closeSockets undoes open when New fails.
func (s *Server) closeSockets() {
	if s.udp != nil {
		_ = s.udp.Close()
	}
	if s.tcp != nil {
		_ = s.tcp.Close()
	}
	if s.tls != nil {
		_ = s.tls.Close()
	}
	for _, l := range s.handed {
		_ = l.Close()
	}
}

// peerAllowed says whether an allocation may reach peer: only the addresses the SFU's media port
// is known by. Every other address, in this network or beyond, is refused (403 to
// CreatePermission, an error to ChannelBind): the relay is no open proxy.
func (s *Server) peerAllowed(peer net.IP) bool {
	for _, ip := range s.cfg.PeerIPs {
		if ip.Equal(peer) {
			return true
		}
	}
	return false
}

// Credentials returns the TURN username and password of participant, valid until expiry, under
// secret (the TURN REST API convention).
func Credentials(secret []byte, participant string, expiry time.Time) (username, password string) {
	username = strconv.FormatInt(expiry.Unix(), 10) + ":" + participant
	return username, sign(secret, username)
}

func sign(secret []byte, username string) string {
	mac := hmac.New(sha1.New, secret)
	mac.Write([]byte(username))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// now is the clock; tests move it.
var now = time.Now

// authenticate gives pion the key of a credential. An expired credential opens no new
// allocation; the requests that keep an allocation alive (Refresh, CreatePermission,
// ChannelBind) still pass with it, as that allocation was granted while it was valid: a hearing
// longer than the credential's life keeps its relay. A wrong password fails pion's
// MESSAGE-INTEGRITY check with the key returned here.
func (s *Server) authenticate(ra *turn.RequestAttributes) (string, []byte, bool) {
	exp, participant, ok := strings.Cut(ra.Username, ":")
	if !ok || participant == "" || ra.Realm != s.cfg.Realm {
		s.metrics.authFailures.Inc()
		return "", nil, false
	}
	t, err := strconv.ParseInt(exp, 10, 64)
	if err != nil {
		s.metrics.authFailures.Inc()
		return "", nil, false
	}
	if ra.Method == stun.MethodAllocate && now().Unix() > t {
		s.metrics.authFailures.Inc()
		s.log.Debug("expired turn credential", zap.Int64("expiry", t))
		return "", nil, false
	}
	return participant, turn.GenerateAuthKey(ra.Username, ra.Realm, sign(s.cfg.Secret, ra.Username)), true
}

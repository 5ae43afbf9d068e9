package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/pion/webrtc/v4"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"sanji/i18n"
	"sanji/internal/certs"
	"sanji/internal/portmux"
	"sanji/relay"
	"sanji/sfu"
)

// tlsConfig is the certificate the binary serves HTTPS and WSS with; both empty: plain HTTP (for
// loopback development, or behind a TLS-terminating proxy).
type tlsConfig struct {
	// CertFile is the PEM certificate chain; KeyFile its private key. Both are reloaded when the
	// files change.
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
}

func (t tlsConfig) on() bool { return t.CertFile != "" || t.KeyFile != "" }

// turnConfig configures the embedded TURN server and the external TURN servers handed to clients.
type turnConfig struct {
	// Enabled starts the embedded TURN server.
	Enabled bool `yaml:"enabled"`
	// UDPPort, TCPPort and TLSPort are its listeners (-1 off, 0 any free port). TLS needs tls.
	UDPPort int `yaml:"udp_port"`
	TCPPort int `yaml:"tcp_port"`
	TLSPort int `yaml:"tls_port"`
	// Realm is the TURN realm.
	Realm string `yaml:"realm"`
	// PublicIPs: the first is the relayed address written into allocations. Empty:
	// rtc.public_ips, else rtc.listen_ip.
	PublicIPs []string `yaml:"public_ips"`
	// Domain is the host name in the TURN URLs handed to clients (the certificate's name for
	// turns:). Empty: the host the client reached the server by.
	Domain string `yaml:"domain"`
	// CredentialTTL is how long a handed-out credential may open allocations.
	CredentialTTL time.Duration `yaml:"credential_ttl"`
	// ExternalURLs are other TURN servers (coturn) handed to clients too, as turn:/turns: URLs.
	ExternalURLs []string `yaml:"external_urls"`
	// ExternalSecret is their use-auth-secret (TURN REST credentials per participant); else
	// ExternalUsername and ExternalCredential are handed out as they are.
	ExternalSecret     string `yaml:"external_secret"`
	ExternalUsername   string `yaml:"external_username"`
	ExternalCredential string `yaml:"external_credential"`
}

const (
	defaultTURNUDPPort = 3478
	defaultTURNTCPPort = 3478
	defaultTURNTLSPort = 5349
	defaultTURNTTL     = 2 * time.Hour
)

func defaultTURN() turnConfig {
	return turnConfig{UDPPort: defaultTURNUDPPort, TCPPort: defaultTURNTCPPort, TLSPort: -1,
		Realm: "sanji", CredentialTTL: defaultTURNTTL}
}

func init() {
	settings = append(settings, firewallSettings...)
}

// firewallSettings are the keys of TLS, the one port and TURN.
var firewallSettings = []setting{
	{key: "tls.cert_file", usage: "PEM certificate for HTTPS/WSS (and TURN over TLS), reloaded when it changes", set: func(c *config, v string) error {
		c.TLS.CertFile = v
		return nil
	}},
	{key: "tls.key_file", usage: "its private key", set: func(c *config, v string) error {
		c.TLS.KeyFile = v
		return nil
	}},
	{key: "one_port", usage: "ICE-TCP and TURN (TCP, TLS) on the HTTPS port too (needs tls)", isBool: true, set: func(c *config, v string) error {
		return parseBool(v, &c.OnePort)
	}},
	{key: "turn.enabled", usage: "run the embedded TURN server", isBool: true, set: func(c *config, v string) error {
		return parseBool(v, &c.TURN.Enabled)
	}},
	{key: "turn.udp_port", usage: "TURN over UDP port (-1 = off)", set: func(c *config, v string) error {
		return parseInt(v, &c.TURN.UDPPort)
	}},
	{key: "turn.tcp_port", usage: "TURN over TCP port (-1 = off)", set: func(c *config, v string) error {
		return parseInt(v, &c.TURN.TCPPort)
	}},
	{key: "turn.tls_port", usage: "TURN over TLS port (-1 = off; needs tls), e.g. 5349", set: func(c *config, v string) error {
		return parseInt(v, &c.TURN.TLSPort)
	}},
	{key: "turn.realm", usage: "TURN realm", set: func(c *config, v string) error {
		c.TURN.Realm = v
		return nil
	}},
	{key: "turn.public_ips", usage: "relayed address announced by TURN (default: rtc.public_ips)", set: func(c *config, v string) error {
		c.TURN.PublicIPs = splitList(v)
		return nil
	}},
	{key: "turn.domain", usage: "host name in the TURN URLs (default: the host the client used)", set: func(c *config, v string) error {
		c.TURN.Domain = v
		return nil
	}},
	{key: "turn.credential_ttl", usage: "how long a TURN credential opens allocations, e.g. 2h", set: func(c *config, v string) error {
		d, err := time.ParseDuration(v)
		if err != nil {
			return errMsg("cmd.config.not_duration", "value", strconv.Quote(v), "example", "2h")
		}
		c.TURN.CredentialTTL = d
		return nil
	}},
	{key: "turn.external_urls", usage: "comma-separated turn:/turns: URLs of external TURN servers (coturn)", set: func(c *config, v string) error {
		c.TURN.ExternalURLs = splitList(v)
		return nil
	}},
	{key: "turn.external_secret", usage: "external TURN servers' shared secret (use-auth-secret)", noFlag: true, set: func(c *config, v string) error {
		c.TURN.ExternalSecret = v
		return nil
	}},
	{key: "turn.external_username", usage: "external TURN servers' fixed username", set: func(c *config, v string) error {
		c.TURN.ExternalUsername = v
		return nil
	}},
	{key: "turn.external_credential", usage: "external TURN servers' fixed password", noFlag: true, set: func(c *config, v string) error {
		c.TURN.ExternalCredential = v
		return nil
	}},
}

// validateFirewall checks TLS, the one port and TURN.
func (c config) validateFirewall() []error {
	var errs []error
	bad := func(k i18n.Key, args ...any) { errs = append(errs, errMsg(k, args...)) }
	if c.TLS.on() && (c.TLS.CertFile == "" || c.TLS.KeyFile == "") {
		bad("cmd.firewall.tls_pair")
	}
	if c.OnePort && !c.TLS.on() {
		bad("cmd.firewall.one_port_tls")
	}
	t := c.TURN
	for _, p := range []struct {
		key  string
		port int
	}{{"turn.udp_port", t.UDPPort}, {"turn.tcp_port", t.TCPPort}, {"turn.tls_port", t.TLSPort}} {
		if p.port < -1 || p.port > 65535 {
			bad("cmd.firewall.turn_port", "key", p.key, "port", p.port)
		}
	}
	if t.Enabled {
		if t.TLSPort >= 0 && !c.TLS.on() {
			bad("cmd.firewall.turn_tls_cert")
		}
		if t.Realm == "" {
			bad("cmd.firewall.turn_realm")
		}
		if t.CredentialTTL <= 0 {
			bad("cmd.firewall.turn_ttl")
		}
		if t.UDPPort < 0 && t.TCPPort < 0 && t.TLSPort < 0 && !c.OnePort {
			bad("cmd.firewall.turn_no_port")
		}
	}
	for _, s := range t.PublicIPs {
		if ip := net.ParseIP(s); ip == nil || ip.IsUnspecified() {
			bad("cmd.firewall.turn_public_ip", "ip", strconv.Quote(s))
		}
	}
	for _, u := range t.ExternalURLs {
		if !strings.HasPrefix(u, "turn:") && !strings.HasPrefix(u, "turns:") && !strings.HasPrefix(u, "stun:") {
			bad("cmd.firewall.external_url", "url", strconv.Quote(u))
		}
	}
	if len(t.ExternalURLs) > 0 && t.ExternalSecret == "" && (t.ExternalUsername == "") != (t.ExternalCredential == "") {
		bad("cmd.firewall.external_credentials")
	}
	return errs
}

// turnSecret keys the embedded TURN server's credentials. It is derived from the token secret,
// so it needs no file of its own and is the same for every start that signs the same tokens.
func turnSecret(tokenSecret []byte) []byte {
	mac := hmac.New(sha256.New, tokenSecret)
	mac.Write([]byte("sanji turn credentials"))
	return mac.Sum(nil)
}

// iceServers makes the ICE servers of one participant for `joined`: the embedded TURN server at
// each port it listens on, with credentials of the participant's own, then the external ones.
type iceServers struct {
	cfg    config
	secret []byte        // the embedded server's; nil when it is off
	relay  *relay.Server // nil when off
	port   int           // the one port, 0 when off
}

func (s iceServers) For(participant, host string) []webrtc.ICEServer {
	t := s.cfg.TURN
	var out []webrtc.ICEServer
	if s.relay != nil {
		name := t.Domain
		if name == "" {
			name = host
			if h, _, err := net.SplitHostPort(host); err == nil {
				name = h
			}
		}
		name = hostForURL(name)
		var urls []string
		if a := s.relay.UDPAddr(); a != nil {
			urls = append(urls, "turn:"+name+":"+strconv.Itoa(a.Port)+"?transport=udp")
		}
		if a := s.relay.TCPAddr(); a != nil {
			urls = append(urls, "turn:"+name+":"+strconv.Itoa(a.Port)+"?transport=tcp")
		}
		if a := s.relay.TLSAddr(); a != nil {
			urls = append(urls, "turns:"+name+":"+strconv.Itoa(a.Port)+"?transport=tcp")
		}
		if s.port > 0 {
			urls = append(urls, "turns:"+name+":"+strconv.Itoa(s.port)+"?transport=tcp")
		}
		user, pass := relay.Credentials(s.secret, participant, time.Now().Add(t.CredentialTTL))
		out = append(out, webrtc.ICEServer{URLs: urls, Username: user, Credential: pass})
	}
	if len(t.ExternalURLs) > 0 {
		ext := webrtc.ICEServer{URLs: t.ExternalURLs, Username: t.ExternalUsername, Credential: t.ExternalCredential}
		if t.ExternalSecret != "" {
			ext.Username, ext.Credential = relay.Credentials([]byte(t.ExternalSecret), participant, time.Now().Add(t.CredentialTTL))
		}
		out = append(out, ext)
	}
	return out
}

// hostForURL brackets an IPv6 address.
func hostForURL(h string) string {
	if ip := net.ParseIP(h); ip != nil && ip.To4() == nil {
		return "[" + h + "]"
	}
	return h
}

// firewall is what the app runs for halls behind firewalls: the certificate, the one-port
// listener and the TURN relay. Each part is nil when not configured.
type firewall struct {
	log   *zap.Logger
	certs *certs.Reloader
	port  net.Listener  // the one port, opened early: the SFU takes its ICE-TCP side
	mux   *portmux.Mux  // on port
	relay *relay.Server // the embedded TURN server
	ice   iceServers
}

// openFirewall loads the certificate and, for one_port, opens the listen address.
func openFirewall(cfg config, log *zap.Logger) (*firewall, error) {
	fw := &firewall{log: log, ice: iceServers{cfg: cfg}}
	if cfg.TLS.on() {
		r, err := certs.New(cfg.TLS.CertFile, cfg.TLS.KeyFile, log.Named("tls"))
		if err != nil {
			return nil, wrapMsg(err, "cmd.firewall.cert_failed")
		}
		fw.certs = r
	}
	if cfg.OnePort {
		ln, err := net.Listen("tcp", cfg.Listen)
		if err != nil {
			return nil, wrapMsg(err, "cmd.app.listen_failed", "addr", cfg.Listen)
		}
		fw.port = ln
		fw.ice.port = ln.Addr().(*net.TCPAddr).Port
		fw.mux = portmux.New(portmux.Config{Listener: ln, TLS: fw.certs.Config("http/1.1", portmux.ALPNTURN),
			TURN: fw.toRelay, Logger: log.Named("oneport")})
	}
	return fw, nil
}

// iceListener is the one port's ICE-TCP side for the SFU; nil without one_port.
func (fw *firewall) iceListener() net.Listener {
	if fw.mux == nil {
		return nil
	}
	return fw.mux.ICE()
}

// toRelay hands a TURN connection from the one port to the relay (closed when TURN is off).
func (fw *firewall) toRelay(c net.Conn, k portmux.Kind) {
	if fw.relay == nil {
		_ = c.Close()
		return
	}
	t := relay.TCP
	if k == portmux.TURNTLS {
		t = relay.TLS
	}
	fw.relay.Accept(c, t)
}

// startRelay starts the embedded TURN server, relaying to media's UDP port.
func (fw *firewall) startRelay(cfg config, tokenSecret []byte, media *sfu.SFU, log *zap.Logger, reg prometheus.Registerer) error {
	t := cfg.TURN
	if !t.Enabled {
		return nil
	}
	listenIP := net.ParseIP(cfg.RTC.ListenIP)
	var peers []net.IP
	for _, s := range cfg.RTC.PublicIPs {
		peers = append(peers, net.ParseIP(s))
	}
	if len(peers) == 0 {
		peers = localIPs(listenIP, cfg.RTC.LoopbackOnly)
	}
	var relayIP net.IP
	switch {
	case len(t.PublicIPs) > 0:
		relayIP = net.ParseIP(t.PublicIPs[0])
	case len(cfg.RTC.PublicIPs) > 0:
		relayIP = net.ParseIP(cfg.RTC.PublicIPs[0])
	case listenIP.IsUnspecified() && len(peers) > 0:
		relayIP = peers[0]
	}
	rc := relay.Config{Realm: t.Realm, Secret: turnSecret(tokenSecret), Media: media.UDPAddr(), PeerIPs: peers,
		ListenIP: listenIP, RelayIP: relayIP, UDPPort: t.UDPPort, TCPPort: t.TCPPort, TLSPort: t.TLSPort,
		Logger: log.Named("turn"), Registerer: reg}
	if fw.certs != nil {
		rc.TLS = fw.certs.Config(portmux.ALPNTURN)
	}
	if t.TLSPort >= 0 && fw.certs == nil {
		rc.TLSPort = -1
	}
	r, err := relay.New(rc)
	if err != nil {
		return wrapMsg(err, "cmd.firewall.relay_failed", "udp", t.UDPPort, "tcp", t.TCPPort, "tls", t.TLSPort)
	}
	fw.relay, fw.ice.relay, fw.ice.secret = r, r, rc.Secret
	return nil
}

// localIPs are the addresses the SFU's host candidates can carry when it binds ip: ip itself,
// or every interface address for a wildcard (loopback ones only when loopbackOnly).
func localIPs(ip net.IP, loopbackOnly bool) []net.IP {
	if !ip.IsUnspecified() {
		return []net.IP{ip}
	}
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return []net.IP{net.IPv4(127, 0, 0, 1)}
	}
	var out []net.IP
	for _, a := range addrs {
		n, ok := a.(*net.IPNet)
		if !ok || n.IP.IsLinkLocalUnicast() || (loopbackOnly && !n.IP.IsLoopback()) {
			continue
		}
		if !n.IP.IsLoopback() {
			out = append([]net.IP{n.IP}, out...) // a routable address first: the relayed one
		} else {
			out = append(out, n.IP)
		}
	}
	return out
}

// listen opens the HTTP listener: the one port's HTTPS side, a TLS listener, or plain TCP.
func (fw *firewall) listen(addr string) (net.Listener, error) {
	if fw.mux != nil {
		return fw.mux.HTTPS(), nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, wrapMsg(err, "cmd.app.listen_failed", "addr", addr)
	}
	if fw.certs != nil {
		return tls.NewListener(ln, fw.certs.Config("http/1.1")), nil
	}
	return ln, nil
}

func (fw *firewall) logFields() []zap.Field {
	var f []zap.Field
	f = append(f, zap.Bool("tls", fw.certs != nil), zap.Bool("one_port", fw.mux != nil))
	if r := fw.relay; r != nil {
		if a := r.UDPAddr(); a != nil {
			f = append(f, zap.String("turn_udp", a.String()))
		}
		if a := r.TCPAddr(); a != nil {
			f = append(f, zap.String("turn_tcp", a.String()))
		}
		if a := r.TLSAddr(); a != nil {
			f = append(f, zap.String("turn_tls", a.String()))
		}
	}
	return f
}

// closeRelay ends the one port and the relay; idempotent.
func (fw *firewall) closeRelay() {
	if fw.mux != nil {
		_ = fw.mux.Close()
	}
	if fw.relay != nil {
		if err := fw.relay.Close(); err != nil {
			fw.log.Warn("turn close", zap.Error(err))
		}
		fw.relay = nil
	}
}

// close ends what closeRelay has not (the one port when the app never started).
func (fw *firewall) close() { fw.closeRelay() }

package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/rtp"
	"github.com/pion/turn/v5"
	"github.com/pion/webrtc/v4"

	"sanji/client"
	"sanji/internal/certs/certstest"
	"sanji/internal/portmux"
)

// devToken asks the app for a join token into room.
func devToken(t testing.TB, c *http.Client, base, room, name string) string {
	t.Helper()
	resp, err := c.Post(base+"/dev/token", "application/json",
		strings.NewReader(`{"room":"`+room+`","name":"`+name+`","role":"observer"}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tok struct {
		Token string `json:"token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || tok.Token == "" {
		t.Fatalf("dev token: status %d, %v", resp.StatusCode, err)
	}
	return tok.Token
}

// mediaFlows joins a subscriber and a publisher with opt and waits until RTP the publisher sends
// reaches the subscriber through the SFU.
func mediaFlows(t *testing.T, a *app, hc *http.Client, room string, opt client.Options) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ws := "ws" + strings.TrimPrefix(a.URL(), "http") + "/ws"
	var got atomic.Int64
	subOpt := opt
	subOpt.AutoSubscribe = true
	subOpt.OnTrack = func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		for {
			if _, _, err := tr.ReadRTP(); err != nil {
				return
			}
			got.Add(1)
		}
	}
	sub, err := client.Dial(ctx, ws, devToken(t, hc, a.URL(), room, "sub"), subOpt)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	pub, err := client.Dial(ctx, ws, devToken(t, hc, a.URL(), room, "pub"), opt)
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	track, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "audio", "pub")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pub.Publish(track); err != nil {
		t.Fatal(err)
	}
	// One packet per 20 ms, as audio is sent, until five have arrived.
	clock := time.NewTicker(20 * time.Millisecond)
	defer clock.Stop()
	for seq := uint16(0); got.Load() < 5; seq++ {
		select {
		case <-ctx.Done():
			t.Fatal("no media reached the subscriber")
		case <-clock.C:
		}
		_ = track.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 111, SequenceNumber: seq,
			Timestamp: uint32(seq) * 960, SSRC: 1}, Payload: []byte{0xf8, 0xff, 0xfe}})
	}
}

// metric reads one sample of the app's registry, 0 when absent.
func metric(t testing.TB, a *app, name string, labels map[string]string) float64 {
	t.Helper()
	fams, err := a.registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
	next:
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if v, ok := labels[l.GetName()]; ok && v != l.GetValue() {
					continue next
				}
			}
			if m.Counter != nil {
				return m.GetCounter().GetValue()
			}
			return m.GetGauge().GetValue()
		}
	}
	return 0
}

// onlyURL keeps, of the joined ICE servers, the URLs that contain part.
func onlyURL(part string) func([]webrtc.ICEServer) []webrtc.ICEServer {
	return func(in []webrtc.ICEServer) []webrtc.ICEServer {
		var out []webrtc.ICEServer
		for _, s := range in {
			var urls []string
			for _, u := range s.URLs {
				if strings.Contains(u, part) {
					urls = append(urls, u)
				}
			}
			if len(urls) > 0 {
				s.URLs = urls
				out = append(out, s)
			}
		}
		return out
	}
}

// TestTURNCarriesMediaRelayOnly: with the relay-only policy, media between two pion peers goes
// through the embedded TURN server over UDP and over TCP, and the relay counts it.
func TestTURNCarriesMediaRelayOnly(t *testing.T) {
	cfg := testConfig(t)
	cfg.TURN.Enabled = true
	cfg.TURN.UDPPort, cfg.TURN.TCPPort, cfg.TURN.TLSPort = 0, 0, -1
	a := startTestApp(t, cfg)
	hc := testHTTPClient(t)
	for _, tr := range []string{"udp", "tcp"} {
		t.Run(tr, func(t *testing.T) {
			se := client.LoopbackSettingEngine()
			se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4, webrtc.NetworkTypeTCP4})
			mediaFlows(t, a, hc, "turn-"+tr, client.Options{SettingEngine: se, RelayOnly: onlyURL("transport=" + tr)})
			if v := metric(t, a, "sanji_turn_relayed_bytes_total", map[string]string{"transport": tr, "direction": "to_client"}); v == 0 {
				t.Fatalf("nothing relayed to clients over %s", tr)
			}
		})
	}
}

// TestOnePort: on one TLS port the app serves HTTPS, WebSocket signaling, ICE-TCP media and TURN
// over TLS (with ALPN stun.turn, and without ALPN as libwebrtc connects), and a renewed
// certificate is served without a restart.
func TestOnePort(t *testing.T) {
	pair := certstest.New(t, 1)
	certFile, keyFile := pair.Write(t, t.TempDir())
	cfg := testConfig(t)
	cfg.TLS = tlsConfig{CertFile: certFile, KeyFile: keyFile}
	cfg.OnePort = true
	cfg.TURN.Enabled = true
	cfg.TURN.UDPPort, cfg.TURN.TCPPort, cfg.TURN.TLSPort = -1, -1, -1
	a := startTestApp(t, cfg)
	if !strings.HasPrefix(a.URL(), "https://") {
		t.Fatalf("URL %s, want https", a.URL())
	}
	tc := &tls.Config{RootCAs: pair.Pool(), MinVersion: tls.VersionTLS12}
	hc := testHTTPClient(t)
	hc.Transport.(*http.Transport).TLSClientConfig = tc
	if code, body := get(t, hc, a.URL()+"/healthz"); code != 200 || body != "ok\n" {
		t.Fatalf("healthz over the one port: %d %q", code, body)
	}

	// Signaling over WSS and media over ICE-TCP, all on that port.
	se := client.LoopbackSettingEngine()
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeTCP4})
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	mediaFlows(t, a, hc, "one-port", client.Options{SettingEngine: se, TLS: tc})
	if a.fw.mux.Count(portmux.ICETCP) == 0 || a.fw.mux.Count(portmux.HTTPS) == 0 {
		t.Fatalf("one port handed on %d ICE-TCP and %d HTTPS connections", a.fw.mux.Count(portmux.ICETCP), a.fw.mux.Count(portmux.HTTPS))
	}

	// TURN over TLS on the same port, with the credentials and URL `joined` hands out.
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, "wss"+strings.TrimPrefix(a.URL(), "https")+"/ws", devToken(t, hc, a.URL(), "turn", "hall"), client.Options{TLS: tc})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	servers := onlyURL("turns:")(c.Joined().ICEServers)
	port := strings.TrimPrefix(a.URL(), "https://127.0.0.1:")
	if len(servers) != 1 || servers[0].URLs[0] != "turns:127.0.0.1:"+port+"?transport=tcp" {
		t.Fatalf("joined ice servers %+v, want turns: on the one port %s", c.Joined().ICEServers, port)
	}
	for _, protos := range [][]string{{portmux.ALPNTURN}, nil} {
		tcfg := tc.Clone()
		tcfg.NextProtos = protos
		conn, err := tls.Dial("tcp", "127.0.0.1:"+port, tcfg)
		if err != nil {
			t.Fatal(err)
		}
		stun := turn.NewSTUNConn(conn)
		cl, err := turn.NewClient(&turn.ClientConfig{TURNServerAddr: "127.0.0.1:" + port, STUNServerAddr: "127.0.0.1:" + port,
			Conn: stun, Username: servers[0].Username, Password: servers[0].Credential.(string), Realm: cfg.TURN.Realm})
		if err != nil {
			t.Fatal(err)
		}
		if err := cl.Listen(); err != nil {
			t.Fatal(err)
		}
		relayed, err := cl.Allocate()
		if err != nil {
			t.Fatalf("TURN over TLS on the one port (ALPN %v): %v", protos, err)
		}
		_ = relayed.Close()
		cl.Close()
		_ = stun.Close()
	}
	if n := a.fw.mux.Count(portmux.TURNTLS); n != 2 {
		t.Fatalf("one port handed %d TURN/TLS connections on, want 2", n)
	}

	// A renewed certificate is served on the next handshake.
	certstest.New(t, 2).Write(t, strings.TrimSuffix(certFile, "/tls.crt"))
	later := time.Now().Add(time.Second)
	for _, f := range []string{certFile, keyFile} {
		if err := os.Chtimes(f, later, later); err != nil {
			t.Fatal(err)
		}
	}
	conn, err := tls.Dial("tcp", "127.0.0.1:"+port, &tls.Config{InsecureSkipVerify: true}) //nolint:gosec // the serial is what is checked
	if err != nil {
		t.Fatal(err)
	}
	serial := conn.ConnectionState().PeerCertificates[0].SerialNumber.Int64()
	_ = conn.Close()
	if serial != 2 {
		t.Fatalf("certificate serial %d after renewal, want 2", serial)
	}
}

// TestFirewallConfig: the turn block reads from YAML, and what cannot work is refused saying
// what to set.
func TestFirewallConfig(t *testing.T) {
	dir := t.TempDir()
	path := dir + "/sanji.yaml"
	yaml := "tls:\n  cert_file: /etc/sanji/tls.crt\n  key_file: /etc/sanji/tls.key\none_port: true\nturn:\n  enabled: true\n  tls_port: 5349\n  realm: hz\n  external_urls: [turn:coturn.example:3478]\n  external_secret: s\n"
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := loadConfig([]string{"--config", path}, func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.OnePort || !cfg.TURN.Enabled || cfg.TURN.TLSPort != 5349 || cfg.TURN.Realm != "hz" || cfg.TURN.UDPPort != defaultTURNUDPPort ||
		cfg.TLS.KeyFile != "/etc/sanji/tls.key" || cfg.TURN.ExternalSecret != "s" {
		t.Fatalf("config %+v", cfg)
	}
	for args, want := range map[string]string{
		"--one-port":                              "one_port needs TLS",
		"--turn-enabled --turn-tls-port=5349":     "turn.tls_port needs a certificate",
		"--turn-external-urls=http://x":           "must start with turn:",
		"--turn-udp-port=70000":                   "turn.udp_port 70000 is out of range",
		"--tls-cert-file=/etc/sanji/tls.crt":      "set both tls.cert_file and tls.key_file",
		"--turn-enabled --turn-credential-ttl=0s": "turn.credential_ttl must be greater than 0",
	} {
		_, err := loadConfig(strings.Fields(args), func(string) string { return "" }, io.Discard)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", args, err, want)
		}
	}
}

// TestTURNTLSCarriesMediaRelayOnly: with the relay-only policy and only the turns: URL, two pion
// peers' media goes through the embedded TURN server over TLS — on its own TLS port and on the
// one port — and the relay counts it. The peers are hall processes trusting the test's CA as
// their system roots, which is what pion checks a turns: server against.
func TestTURNTLSCarriesMediaRelayOnly(t *testing.T) {
	for _, onePort := range []bool{false, true} {
		name := "tls_port"
		if onePort {
			name = "one_port"
		}
		t.Run(name, func(t *testing.T) {
			pair := certstest.New(t, 1)
			certFile, keyFile := pair.Write(t, t.TempDir())
			cfg := testConfig(t)
			cfg.TLS = tlsConfig{CertFile: certFile, KeyFile: keyFile}
			cfg.TURN.Enabled = true
			cfg.TURN.UDPPort, cfg.TURN.TCPPort, cfg.TURN.TLSPort = -1, -1, 0
			cfg.RTC.TCPPort = -1
			if onePort {
				cfg.OnePort = true
				cfg.TURN.TLSPort = -1
			}
			a := startTestApp(t, cfg)
			hc := testHTTPClient(t)
			hc.Transport.(*http.Transport).TLSClientConfig = &tls.Config{RootCAs: pair.Pool(), MinVersion: tls.VersionTLS12}
			ws := "wss" + strings.TrimPrefix(a.URL(), "https") + "/ws"
			var halls []*hallProc
			for _, who := range []string{"a", "b"} {
				halls = append(halls, startHall(t, who, hallSpec{WS: ws, Token: devToken(t, hc, a.URL(), "turns", who),
					CAFile: certFile, RelayOnly: "turns:"}, ""))
			}
			for _, h := range halls {
				h.waitEvent(t, hallMediaIn, time.Time{}, 30*time.Second)
			}
			for _, dir := range []string{"to_client", "to_media"} {
				if v := metric(t, a, "sanji_turn_relayed_bytes_total", map[string]string{"transport": "tls", "direction": dir}); v == 0 {
					t.Errorf("nothing relayed %s over TLS", dir)
				}
			}
			// Nothing but TURN/TLS: no ICE-TCP reached the server (pion gathers active ICE-TCP
			// candidates even under the relay-only policy, so the peers gather UDP only, and UDP
			// host candidates the policy does keep out).
			if onePort && (a.fw.mux.Count(portmux.TURNTLS) < 2 || a.fw.mux.Count(portmux.ICETCP) != 0) {
				t.Errorf("the one port handed on %d TURN/TLS and %d ICE-TCP connections, want one TURN/TLS per peer at least and no ICE-TCP",
					a.fw.mux.Count(portmux.TURNTLS), a.fw.mux.Count(portmux.ICETCP))
			}
		})
	}
}

package relay

import (
	"bytes"
	"crypto/tls"
	"net"
	"testing"
	"time"

	"github.com/pion/turn/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"sanji/internal/certs/certstest"
)

var testSecret = []byte("0123456789abcdef0123456789abcdef")

// echo is a stand-in for the SFU's media port: it answers every datagram with itself.
func echo(t testing.TB) *net.UDPConn {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	go func() { // ends when the cleanup closes c
		buf := make([]byte, 1500)
		for {
			n, from, err := c.ReadFromUDP(buf)
			if err != nil {
				return
			}
			_, _ = c.WriteToUDP(buf[:n], from)
		}
	}()
	return c
}

type fixture struct {
	srv   *Server
	media *net.UDPAddr
	pair  certstest.Pair
	reg   *prometheus.Registry
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	f := &fixture{media: echo(t).LocalAddr().(*net.UDPAddr), pair: certstest.New(t, 1), reg: prometheus.NewRegistry()}
	srv, err := New(Config{Realm: "sanji", Secret: testSecret, Media: f.media, ListenIP: net.IPv4(127, 0, 0, 1),
		TLS: f.pair.ServerConfig("stun.turn"), Registerer: f.reg})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Error(err)
		}
	})
	f.srv = srv
	return f
}

// dial opens a TURN client over transport t with the given credentials.
func (f *fixture) dial(t testing.TB, tr Transport, user, pass string) *turn.Client {
	t.Helper()
	var conn net.PacketConn
	var addr string
	switch tr {
	case UDP:
		c, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		conn, addr = c, f.srv.UDPAddr().String()
	case TCP:
		addr = f.srv.TCPAddr().String()
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		conn = turn.NewSTUNConn(c)
	case TLS:
		addr = f.srv.TLSAddr().String()
		c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: f.pair.Pool(), NextProtos: []string{"stun.turn"}, ServerName: "localhost"})
		if err != nil {
			t.Fatal(err)
		}
		conn = turn.NewSTUNConn(c)
	}
	cl, err := turn.NewClient(&turn.ClientConfig{TURNServerAddr: addr, STUNServerAddr: addr, Conn: conn,
		Username: user, Password: pass, Realm: "sanji", RTO: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := cl.Listen(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cl.Close(); _ = conn.Close() })
	return cl
}

func valid(participant string) (string, string) {
	return Credentials(testSecret, participant, time.Now().Add(time.Hour))
}

// TestRelayToMedia: over each transport an allocation carries packets to the media port and
// back, and the metrics count the allocation and the bytes under that transport.
func TestRelayToMedia(t *testing.T) {
	f := newFixture(t)
	for _, tr := range []Transport{UDP, TCP, TLS} {
		t.Run(string(tr), func(t *testing.T) {
			user, pass := valid("hall-1")
			cl := f.dial(t, tr, user, pass)
			relayConn, err := cl.Allocate()
			if err != nil {
				t.Fatalf("allocate: %v", err)
			}
			defer relayConn.Close()
			if got := testutil.ToFloat64(f.srv.metrics.allocations.WithLabelValues(string(tr))); got != 1 {
				t.Fatalf("allocations{%s} = %v, want 1", tr, got)
			}
			msg := []byte("media over " + string(tr))
			if _, err := relayConn.WriteTo(msg, f.media); err != nil {
				t.Fatal(err)
			}
			buf := make([]byte, 1500)
			_ = relayConn.SetReadDeadline(time.Now().Add(5 * time.Second))
			n, from, err := relayConn.ReadFrom(buf)
			if err != nil {
				t.Fatalf("no echo through the relay: %v", err)
			}
			if !bytes.Equal(buf[:n], msg) || from.String() != f.media.String() {
				t.Fatalf("got %q from %v, want %q from %v", buf[:n], from, msg, f.media)
			}
			for _, dir := range []string{"to_media", "to_client"} {
				if got := testutil.ToFloat64(f.srv.metrics.relayedBytes.WithLabelValues(string(tr), dir)); got < float64(len(msg)) {
					t.Errorf("relayed_bytes{%s,%s} = %v, want ≥ %d", tr, dir, got, len(msg))
				}
			}
		})
	}
}

// TestNoOpenRelay: an allocation reaches nothing but the media port. A permission or channel to
// another IP is refused by the server; a packet to another port of the server's own IP is dropped
// by the relay socket (permissions are per IP, RFC 8656 §9) and never arrives.
func TestNoOpenRelay(t *testing.T) {
	f := newFixture(t)
	user, pass := valid("hall-1")
	cl := f.dial(t, UDP, user, pass)
	relayConn, err := cl.Allocate()
	if err != nil {
		t.Fatal(err)
	}
	defer relayConn.Close()

	// A canary on another address of this host, and one on another port of the media IP.
	other, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 2)})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	samePort, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer samePort.Close()

	if err := cl.CreatePermission(other.LocalAddr()); err == nil {
		t.Fatal("CreatePermission to another IP was granted")
	}
	// WriteTo asks for a permission and then binds a channel: both refused for another IP.
	if _, err := relayConn.WriteTo([]byte("x"), other.LocalAddr()); err == nil {
		t.Fatal("Send to another IP was accepted")
	}

	refused := func() float64 { return testutil.ToFloat64(f.srv.metrics.refused) }
	before := refused()
	// The media IP's permission is granted, the packet to its other port is not relayed.
	for i := 0; refused() == before; i++ {
		if i == 100 {
			t.Fatal("a packet to another port of the media IP was not refused")
		}
		if _, err := relayConn.WriteTo([]byte("to another port"), samePort.LocalAddr()); err != nil {
			t.Fatalf("the client's own send failed, so the test sees nothing: %v", err)
		}
		waitUntil(t, func() bool { return refused() > before }, 200*time.Millisecond)
	}
	// The media port still works, and neither canary heard anything.
	if _, err := relayConn.WriteTo([]byte("ok"), f.media); err != nil {
		t.Fatal(err)
	}
	_ = relayConn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, _, err := relayConn.ReadFrom(make([]byte, 100)); err != nil {
		t.Fatalf("no echo from the media port: %v", err)
	}
	for _, c := range []*net.UDPConn{other, samePort} {
		_ = c.SetReadDeadline(time.Now()) // already past: reads only what has arrived
		if n, _, err := c.ReadFrom(make([]byte, 100)); err == nil {
			t.Fatalf("%v received %d relayed bytes", c.LocalAddr(), n)
		}
	}
}

// tamper changes the first character of a password (a fixed replacement would, one time in
// sixteen, be what was there already).
func tamper(pass string) string {
	c := byte('A')
	if pass[0] == 'A' {
		c = 'B'
	}
	return string(c) + pass[1:]
}

// waitUntil polls cond until it holds or for at most d.
func waitUntil(t *testing.T, cond func() bool, d time.Duration) {
	t.Helper()
	for end := time.Now().Add(d); !cond() && time.Now().Before(end); {
		time.Sleep(5 * time.Millisecond)
	}
}

// TestCredentialsRefused: an expired credential, a tampered password, a username naming another
// participant than the one signed, and a foreign realm open no allocation.
func TestCredentialsRefused(t *testing.T) {
	f := newFixture(t)
	expiredUser, expiredPass := Credentials(testSecret, "hall-1", time.Now().Add(-time.Minute))
	user, pass := valid("hall-1")
	otherUser, _ := valid("hall-2")
	wrongSecretUser, wrongSecretPass := Credentials([]byte("another secret, 32 bytes long!!!"), "hall-1", time.Now().Add(time.Hour))
	for name, c := range map[string][2]string{
		"expired":             {expiredUser, expiredPass},
		"tampered password":   {user, tamper(pass)},
		"another participant": {otherUser, pass},
		"other secret":        {wrongSecretUser, wrongSecretPass},
		"no participant":      {"9999999999", pass},
	} {
		t.Run(name, func(t *testing.T) {
			cl := f.dial(t, UDP, c[0], c[1])
			if conn, err := cl.Allocate(); err == nil {
				_ = conn.Close()
				t.Fatal("allocation granted")
			}
		})
	}
	if testutil.ToFloat64(f.srv.metrics.allocations.WithLabelValues("udp")) != 0 {
		t.Fatal("an allocation is counted")
	}
}

package signaling_test

import (
	"context"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/logging"
	"github.com/pion/transport/v5/vnet"
	"github.com/pion/webrtc/v4"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"sanji/auth"
	"sanji/client"
	"sanji/sfu"
	"sanji/signaling"
)

// The peer's network path goes away and comes back (pion's virtual network drops everything
// to and from it, then nothing): the server sees consent fail, restarts the subscriber's ICE
// and asks the client to restart the publisher's, and media flows again — with the same
// tracks, no renegotiation of them, the signaling socket never lost.
func TestICERestartAfterThePathChanges(t *testing.T) {
	router, err := vnet.NewRouter(&vnet.RouterConfig{CIDR: "10.9.0.0/24", LoggerFactory: logging.NewDefaultLoggerFactory()})
	if err != nil {
		t.Fatal(err)
	}
	const sfuIP, aIP, bIP = "10.9.0.1", "10.9.0.2", "10.9.0.3"
	var cut atomic.Bool
	var dropped atomic.Int64
	router.AddChunkFilter(func(c vnet.Chunk) bool {
		if cut.Load() && (strings.HasPrefix(c.SourceAddr().String(), aIP+":") || strings.HasPrefix(c.DestinationAddr().String(), aIP+":")) {
			dropped.Add(1)
			return false
		}
		return true
	})
	nets := map[string]*vnet.Net{}
	for _, ip := range []string{sfuIP, aIP, bIP} {
		n, err := vnet.NewNet(&vnet.NetConfig{StaticIPs: []string{ip}})
		if err != nil {
			t.Fatal(err)
		}
		if err := router.AddNet(n); err != nil {
			t.Fatal(err)
		}
		nets[ip] = n
	}
	if err := router.Start(); err != nil {
		t.Fatal(err)
	}

	log := zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel))
	media, err := sfu.New(sfu.Config{ListenIP: sfuIP, Net: nets[sfuIP], Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, sfu: media, signer: auth.NewSigner(testSecret), reg: prometheus.NewRegistry()}
	e.srv = signaling.New(signaling.Config{SFU: media, Tokens: e.signer, Logger: log, Registerer: e.reg})
	e.http = httptest.NewServer(e.srv)
	e.wsURL = "ws" + strings.TrimPrefix(e.http.URL, "http")
	t.Cleanup(func() { _ = router.Stop() }) // last: after the env's cleanup has closed the SFU
	t.Cleanup(e.close)

	dial := func(id, ip string) *peer {
		se := &webrtc.SettingEngine{}
		se.SetNet(nets[ip])
		se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
		se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
		p := &peer{t: t, id: id, tracks: map[string]*received{}, rrs: map[webrtc.SSRC]int{}}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c, err := client.Dial(ctx, e.wsURL, e.token("path", id, "leader", time.Hour), client.Options{AutoSubscribe: true,
			SettingEngine: se, Logger: log, OnTrack: p.onTrack, OnMessage: p.inbox.add})
		if err != nil {
			t.Fatalf("%s: dial: %v", id, err)
		}
		p.c = c
		t.Cleanup(p.close)
		return p
	}
	a := dial("a", aIP)
	b := dial("b", bIP)
	a.publish()
	b.publish()
	flowing(t, "b <- a", b, a, 20)
	flowing(t, "a <- b", a, b, 20)

	// a's path goes away: the server's consent checks fail (disconnected after 5 s), so it
	// restarts the subscriber and asks a to restart the publisher; b hears a is reconnecting.
	mark := b.inbox.len()
	cut.Store(true)
	b.waitReconnecting(t, mark, "a", true)
	a.inbox.waitFor(t, "the server asks a to restart the publisher's ICE", func(m signaling.Message) bool {
		return m.Type == signaling.TypeICERestart
	})
	eventually(t, "the server restarts both connections", func() bool {
		return e.metric("sanji_signaling_ice_restarts_total", "by=server", "target=publisher") >= 1 &&
			e.metric("sanji_signaling_ice_restarts_total", "by=server", "target=subscriber") >= 1
	})
	atCut := b.packetsFrom("a")

	// The path is back: ICE finds it again on the restarted credentials.
	cut.Store(false)
	eventually(t, "b gets a's media again", func() bool { return b.packetsFrom("a") > atCut+30 })
	flowing(t, "a <- b after the restart", a, b, 30)
	b.waitReconnecting(t, mark, "a", false)
	if dropped.Load() == 0 {
		t.Fatal("the path was never cut")
	}
	if left(b, "a") {
		t.Error("b was told a left")
	}
	// The tracks are the same: no track was unpublished and published again.
	if b.inbox.find(func(m signaling.Message) bool { return m.Type == signaling.TypeTrackUnpublished }) {
		t.Error("a track was unpublished by the ICE restart")
	}
}

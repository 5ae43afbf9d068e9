package bench

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/logging"
	"github.com/pion/rtp"
	"github.com/pion/transport/v5/vnet"
	"github.com/pion/webrtc/v4"
)

// vnetPeer is a PeerConnection on a virtual network, with no NACK generator on the receiving
// side: whatever the network drops stays lost, so the Stream's loss must equal what was dropped.
func vnetPeer(t *testing.T, router *vnet.Router, ip string) *webrtc.PeerConnection {
	t.Helper()
	nw, err := vnet.NewNet(&vnet.NetConfig{StaticIPs: []string{ip}})
	if err != nil {
		t.Fatal(err)
	}
	if err := router.AddNet(nw); err != nil {
		t.Fatal(err)
	}
	se := webrtc.SettingEngine{}
	se.SetNet(nw)
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	m := &webrtc.MediaEngine{}
	if err := m.RegisterDefaultCodecs(); err != nil {
		t.Fatal(err)
	}
	api := webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithInterceptorRegistry(&interceptor.Registry{}),
		webrtc.WithSettingEngine(se))
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pc.Close() })
	return pc
}

// TestVNetKnownLossAndDelay sends stamped VP8 through a virtual network that delays every packet
// by 30 ms and drops every 10th media packet, and checks the bench's reader and accounting see
// exactly that loss, a latency of at least the delay, and the keyframe.
func TestVNetKnownLossAndDelay(t *testing.T) {
	const delay = 30 * time.Millisecond
	router, err := vnet.NewRouter(&vnet.RouterConfig{CIDR: "10.9.0.0/24", MinDelay: delay,
		LoggerFactory: logging.NewDefaultLoggerFactory()})
	if err != nil {
		t.Fatal(err)
	}
	var dropping atomic.Bool
	var media, dropped atomic.Int64
	router.AddChunkFilter(func(c vnet.Chunk) bool {
		// Only media (large packets) once connected; DTLS and RTCP pass.
		if !dropping.Load() || c.Network() != "udp" || len(c.UserData()) < 500 {
			return true
		}
		if media.Add(1)%10 == 0 {
			dropped.Add(1)
			return false
		}
		return true
	})
	if err := router.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = router.Stop() }()

	send := vnetPeer(t, router, "10.9.0.2")
	recv := vnetPeer(t, router, "10.9.0.3")
	track, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8}, "v", "s")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := send.AddTrack(track); err != nil {
		t.Fatal(err)
	}
	stream := NewStream("video", 90000)
	readDone := make(chan struct{})
	recv.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		defer close(readDone)
		readTrack(tr, stream, nil)
	})
	connected := make(chan struct{})
	var once atomic.Bool
	send.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		if s == webrtc.PeerConnectionStateConnected && once.CompareAndSwap(false, true) {
			close(connected)
		}
	})

	offer, err := send.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	gathered := webrtc.GatheringCompletePromise(send)
	if err := send.SetLocalDescription(offer); err != nil {
		t.Fatal(err)
	}
	<-gathered
	if err := recv.SetRemoteDescription(*send.LocalDescription()); err != nil {
		t.Fatal(err)
	}
	answer, err := recv.CreateAnswer(nil)
	if err != nil {
		t.Fatal(err)
	}
	gathered = webrtc.GatheringCompletePromise(recv)
	if err := recv.SetLocalDescription(answer); err != nil {
		t.Fatal(err)
	}
	<-gathered
	if err := send.SetRemoteDescription(*recv.LocalDescription()); err != nil {
		t.Fatal(err)
	}
	select {
	case <-connected:
	case <-time.After(20 * time.Second):
		t.Fatal("virtual peers did not connect")
	}

	// 60 frames of 5 packets; the first is a keyframe, sent before any drop so it arrives. The
	// last frame is sent with dropping off, so the stream's end is known to the receiver.
	pkt := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: 60000, SSRC: 1}}
	var frames [][]byte
	sent := 0
	for f := range 60 {
		dropping.Store(f > 0 && f < 59)
		frames = vp8Frame(frames, 5*1000, f == 0, plainVP8)
		for i, pl := range frames {
			pkt.Payload, pkt.Marker = pl, i == len(frames)-1
			putStamp(pl, Now())
			if err := track.WriteRTP(&pkt); err != nil {
				t.Fatal(err)
			}
			pkt.SequenceNumber++ // wraps through 65535 on the way
			sent++
		}
		pkt.Timestamp += 3000
		time.Sleep(5 * time.Millisecond) // pacing only; nothing waits on it
	}
	want := uint64(sent) - uint64(dropped.Load())
	deadline := time.Now().Add(20 * time.Second)
	for stream.Stats().Received < want && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	st := stream.Stats()
	if st.Expected != uint64(sent) || st.Received != want || st.Lost != uint64(dropped.Load()) {
		t.Fatalf("sent %d, dropped %d; stream saw expected %d received %d lost %d", sent, dropped.Load(),
			st.Expected, st.Received, st.Lost)
	}
	if dropped.Load() < 20 {
		t.Fatalf("only %d packets dropped; the filter did not see the media", dropped.Load())
	}
	if p50 := st.Latency.Quantile(0.5); p50 < delay || p50 > delay+2*time.Second {
		t.Fatalf("latency p50 %v, want at least the network's %v", p50, delay)
	}
	if st.FirstKeyframe < 0 {
		t.Fatal("keyframe not detected")
	}
	_ = send.Close()
	_ = recv.Close()
	select {
	case <-readDone:
	case <-time.After(10 * time.Second):
		t.Fatal("track reader did not end after close")
	}
}

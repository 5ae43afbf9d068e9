package sitelink

import (
	"net"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// TestWebRTCThroughLink is the approach end to end with pion on both sides: the server's ICE
// port is on the node's address, its candidates name the site's (the 1:1-NAT rewrite Sanji's
// SFU makes of rtc.public_ips), and media and ICE's round trip cross the Link.
func TestWebRTCThroughLink(t *testing.T) {
	const delay = 30 * time.Millisecond
	l, port := newLink(t, Config{Delay: delay}, true, false)

	// The server, as the SFU sets itself up: one UDP socket, a mux on it, the public address.
	udp, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(node, port)))
	if err != nil {
		t.Fatal(err)
	}
	se := webrtc.SettingEngine{}
	mux := webrtc.NewICEUDPMux(nil, udp)
	t.Cleanup(func() { _ = mux.Close() })
	se.SetICEUDPMux(mux)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetIncludeLoopbackCandidate(true)
	if err := se.SetICEAddressRewriteRules(webrtc.ICEAddressRewriteRule{
		External: []string{site.String()}, AsCandidateType: webrtc.ICECandidateTypeHost, Mode: webrtc.ICEAddressRewriteReplace,
	}); err != nil {
		t.Fatal(err)
	}
	server := newPC(t, se)

	ce := webrtc.SettingEngine{}
	ce.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	ce.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	ce.SetIncludeLoopbackCandidate(true)
	ce.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	client := newPC(t, ce)

	track, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "audio", "site")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.AddTrack(track); err != nil {
		t.Fatal(err)
	}
	var received atomic.Int64
	server.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		for {
			if _, _, err := tr.ReadRTP(); err != nil {
				return
			}
			received.Add(1)
		}
	})

	// Offer and answer, whole (no trickle). The client's own candidates stay out of the offer:
	// on loopback the server could reach them directly, around the Link; it learns the client's
	// address from the checks that come through the Link, as a server behind a NAT does.
	offer := gathered(t, client, nil)
	offer.SDP = withoutCandidates(offer.SDP)
	answer := gathered(t, server, offer)
	if !strings.Contains(answer.SDP, site.String()+" ") {
		t.Fatalf("the server's answer does not name the site %s:\n%s", site, answer.SDP)
	}
	if err := client.SetRemoteDescription(*answer); err != nil {
		t.Fatal(err)
	}

	// Media: 50 packets a second, as audio, until the test ends.
	stop := make(chan struct{})
	sent := make(chan struct{})
	go func() {
		defer close(sent)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		pkt := &rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 111}, Payload: make([]byte, 80)}
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				pkt.SequenceNumber++
				pkt.Timestamp += 960
				_ = track.WriteRTP(pkt)
			}
		}
	}()
	t.Cleanup(func() { close(stop); <-sent })

	eventually(t, 10*time.Second, "50 packets of media at the server", func() bool { return received.Load() >= 50 })
	var rtt float64
	eventually(t, 15*time.Second, "a round trip measured on the client's nominated pair", func() bool {
		rtt = nominatedRTT(client)
		return rtt > 0
	})
	t.Logf("pion's ICE round trip through 2 × %v: %.1f ms; link %+v", delay, rtt*1000, l.Stats())
	if got := time.Duration(rtt * float64(time.Second)); got < 2*delay-2*time.Millisecond || got > 2*delay+20*time.Millisecond {
		t.Errorf("pion's round trip %v, want ≈ %v", got, 2*delay)
	}
	if s := l.Stats(); s.Up.Packets < received.Load() || s.Flows != 1 {
		t.Errorf("the media did not cross the Link: %d packets at the server, link %+v", received.Load(), s)
	}
}

func newPC(t *testing.T, se webrtc.SettingEngine) *webrtc.PeerConnection {
	t.Helper()
	m := &webrtc.MediaEngine{}
	if err := m.RegisterDefaultCodecs(); err != nil {
		t.Fatal(err)
	}
	pc, err := webrtc.NewAPI(webrtc.WithSettingEngine(se), webrtc.WithMediaEngine(m)).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pc.Close() })
	return pc
}

// gathered makes pc's offer (remote nil) or answer to remote, and returns it with every candidate.
func gathered(t *testing.T, pc *webrtc.PeerConnection, remote *webrtc.SessionDescription) *webrtc.SessionDescription {
	t.Helper()
	var sd webrtc.SessionDescription
	var err error
	if remote == nil {
		sd, err = pc.CreateOffer(nil)
	} else {
		if err = pc.SetRemoteDescription(*remote); err != nil {
			t.Fatal(err)
		}
		sd, err = pc.CreateAnswer(nil)
	}
	if err != nil {
		t.Fatal(err)
	}
	done := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(sd); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("ICE gathering did not complete within 10 s")
	}
	return pc.LocalDescription()
}

func withoutCandidates(sdp string) string {
	var out []string
	for _, line := range strings.SplitAfter(sdp, "\n") {
		if !strings.HasPrefix(line, "a=candidate:") {
			out = append(out, line)
		}
	}
	return strings.Join(out, "")
}

// nominatedRTT is the current round trip (s) of pc's nominated candidate pair, 0 before one.
func nominatedRTT(pc *webrtc.PeerConnection) float64 {
	for _, s := range pc.GetStats() {
		if p, ok := s.(webrtc.ICECandidatePairStats); ok && p.Nominated && p.CurrentRoundTripTime > 0 {
			return p.CurrentRoundTripTime
		}
	}
	return 0
}

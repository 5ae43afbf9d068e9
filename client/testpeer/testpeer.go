// Package testpeer runs real media into the SFU for the recorder's tests: a pion client
// publishing numbered VP8 frames and Opus packets on loopback, wired to an SFU participant
// without signaling, that remembers when it sent each frame; or publishing media a browser
// encoded, for a recording that plays back (PublishSamples).
//
// It lives next to client, whose codecs and interceptors it publishes with (client.NewAPI): under
// recording it made the recorder's package tree import the client, a layer above it. Only tests
// import it (recording's, the scheduler API's, web's and cmd/sanji's).
package testpeer

import (
	"encoding/binary"
	"sync"
	"testing"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/transport/v5"
	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"

	"sanji/client"
	"sanji/sfu"
)

// FrameInterval is how often each source sends a frame (video) or packet (audio).
const FrameInterval = 20 * time.Millisecond

// VP8 picture size of the keyframes.
const (
	Width  = 320
	Height = 180
)

// NewSFU starts an SFU on loopback, closed when the test ends.
func NewSFU(t testing.TB) *sfu.SFU {
	t.Helper()
	s, err := sfu.New(sfu.Config{ListenIP: "127.0.0.1", LoopbackOnly: true, TCPPort: -1, PLIThrottle: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// Publisher is one participant publishing a video and an audio source.
type Publisher struct {
	P            *sfu.Participant
	Video, Audio *Source
	pc           *webrtc.PeerConnection

	mu      sync.Mutex
	remote  bool
	pending []webrtc.ICECandidateInit
	stop    chan struct{}
	wg      sync.WaitGroup
	once    sync.Once
}

// Source sends numbered frames: frame n's payload ends with n (two bytes, big endian). Video is
// one packet per frame, a keyframe every 50 frames and whenever the SFU asks.
type Source struct {
	Track *webrtc.TrackLocalStaticRTP
	video bool
	key   chan struct{}

	mu   sync.Mutex
	sent []time.Time // when frame n was sent
}

// SentAt is when frame n was sent.
func (s *Source) SentAt(n int) time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sent[n]
}

// Sent is how many frames were sent.
func (s *Source) Sent() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sent)
}

// Publish joins room as id and publishes a VP8 and an Opus source on loopback. Close (or the
// test's end) stops it.
func Publish(t testing.TB, s *sfu.SFU, room, id string) *Publisher {
	t.Helper()
	return PublishOn(t, s, room, id, nil)
}

// PublishOn is Publish over a network of its own (pion's virtual network), nil = loopback.
func PublishOn(t testing.TB, s *sfu.SFU, room, id string, network transport.Net) *Publisher {
	t.Helper()
	video := newSource(t, webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}, "video")
	audio := newSource(t, webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "audio")
	pub, senders := connect(t, s, room, id, network, video.Track, audio.Track)
	pub.Video, pub.Audio = video, audio
	pub.wg.Add(3)
	go func() { defer pub.wg.Done(); pub.Video.run(pub.stop) }()
	go func() { defer pub.wg.Done(); pub.Audio.run(pub.stop) }()
	go func() { defer pub.wg.Done(); pub.Video.answerPLI(senders[0]) }()
	return pub
}

// PublishSamples joins room as id and publishes real media, already encoded: VP8 frames and Opus
// packets, each sent once in real time (a sample's Duration after the one before) through pion's
// packetizers. A decoder can play what is recorded of them, which the numbered stand-ins of
// Publish are not. Keyframes come where the samples have them: a PLI is not answered.
func PublishSamples(t testing.TB, s *sfu.SFU, room, id string, video, audio []media.Sample) *Publisher {
	t.Helper()
	vt, err := webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}, "video", "stream")
	if err != nil {
		t.Fatal(err)
	}
	at, err := webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "audio", "stream")
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := connect(t, s, room, id, nil, vt, at)
	send := func(tr *webrtc.TrackLocalStaticSample, samples []media.Sample) {
		defer pub.wg.Done()
		next := time.Now()
		for _, smp := range samples {
			select {
			case <-pub.stop:
				return
			case <-time.After(time.Until(next)):
			}
			_ = tr.WriteSample(smp)
			next = next.Add(smp.Duration)
		}
	}
	pub.wg.Add(2)
	go send(vt, video)
	go send(at, audio)
	return pub
}

// connect joins room as id and negotiates the publisher's tracks with the SFU.
func connect(t testing.TB, s *sfu.SFU, room, id string, network transport.Net, tracks ...webrtc.TrackLocal) (*Publisher, []*webrtc.RTPSender) {
	t.Helper()
	pub := &Publisher{stop: make(chan struct{})}
	var se *webrtc.SettingEngine
	if network != nil {
		se = &webrtc.SettingEngine{}
		se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
		se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
		se.SetNet(network)
	}
	api, err := client.NewAPI(se)
	if err != nil {
		t.Fatal(err)
	}
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	pub.pc = pc
	t.Cleanup(pub.Close)
	p, err := s.Join(room, id, sfu.EventSinkFunc(func(e sfu.Event) {
		if c, ok := e.(sfu.EventICECandidate); ok && c.Target == sfu.TargetPublisher && c.Candidate != nil {
			pub.addCandidate(*c.Candidate)
		}
	}))
	if err != nil {
		t.Fatal(err)
	}
	pub.P = p
	pc.OnICECandidate(func(c *webrtc.ICECandidate) {
		if c != nil {
			_ = p.AddICECandidate(sfu.TargetPublisher, c.ToJSON())
		}
	})
	var senders []*webrtc.RTPSender
	for _, tr := range tracks {
		sender, err := pc.AddTrack(tr)
		if err != nil {
			t.Fatal(err)
		}
		senders = append(senders, sender)
	}
	offer, err := pc.CreateOffer(nil)
	if err == nil {
		err = pc.SetLocalDescription(offer)
	}
	if err != nil {
		t.Fatal(err)
	}
	answer, err := p.Publish(offer.SDP)
	if err != nil {
		t.Fatal(err)
	}
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: answer}); err != nil {
		t.Fatal(err)
	}
	pub.flushCandidates()
	return pub, senders
}

// Tracks waits until the SFU has the publisher's two tracks and returns them (video first).
func (pub *Publisher) Tracks(t testing.TB, room *sfu.Room) (video, audio sfu.TrackInfo) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		for _, info := range room.Tracks() {
			if info.ParticipantID != pub.P.ID() {
				continue
			}
			if info.Kind == sfu.KindVideo {
				video = info
			} else {
				audio = info
			}
		}
		if video.ID != "" && audio.ID != "" {
			return video, audio
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("the publisher's tracks never appeared in the room")
	return
}

// Close stops sending and leaves the room.
func (pub *Publisher) Close() {
	pub.once.Do(func() {
		close(pub.stop)
		_ = pub.pc.Close() // ends the RTCP reader
		pub.wg.Wait()
		if pub.P != nil {
			pub.P.Close("left")
		}
	})
}

func (pub *Publisher) addCandidate(c webrtc.ICECandidateInit) {
	pub.mu.Lock()
	if !pub.remote {
		pub.pending = append(pub.pending, c)
		pub.mu.Unlock()
		return
	}
	pub.mu.Unlock()
	_ = pub.pc.AddICECandidate(c)
}

func (pub *Publisher) flushCandidates() {
	pub.mu.Lock()
	pub.remote = true
	pending := pub.pending
	pub.pending = nil
	pub.mu.Unlock()
	for _, c := range pending {
		_ = pub.pc.AddICECandidate(c)
	}
}

func newSource(t testing.TB, codec webrtc.RTPCodecCapability, id string) *Source {
	t.Helper()
	tr, err := webrtc.NewTrackLocalStaticRTP(codec, id, "stream")
	if err != nil {
		t.Fatal(err)
	}
	return &Source{Track: tr, video: codec.MimeType == webrtc.MimeTypeVP8, key: make(chan struct{}, 1)}
}

func (s *Source) run(stop chan struct{}) {
	tick := time.NewTicker(FrameInterval)
	defer tick.Stop()
	for n := 0; ; n++ {
		select {
		case <-stop:
			return
		case <-tick.C:
		}
		var payload []byte
		var ts uint32
		if s.video {
			key := n%50 == 0
			select {
			case <-s.key:
				key = true
			default:
			}
			payload = []byte{0x10, 0x01, 0x00, 0x00} // descriptor, delta frame tag
			if key {
				payload = []byte{0x10, 0x00, 0x00, 0x00, 0x9d, 0x01, 0x2a}
				payload = binary.LittleEndian.AppendUint16(payload, Width)
				payload = binary.LittleEndian.AppendUint16(payload, Height)
			}
			ts = uint32(n) * 1800
		} else {
			payload = []byte{0xfc}
			ts = uint32(n) * 960
		}
		payload = binary.BigEndian.AppendUint16(payload, uint16(n))
		s.mu.Lock()
		s.sent = append(s.sent, time.Now())
		s.mu.Unlock()
		_ = s.Track.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: uint16(n), Timestamp: ts, Marker: s.video},
			Payload: payload})
	}
}

// answerPLI makes the next video frame a keyframe when the SFU asks, as a browser does.
func (s *Source) answerPLI(sender *webrtc.RTPSender) {
	for {
		pkts, _, err := sender.ReadRTCP()
		if err != nil {
			return
		}
		for _, p := range pkts {
			if _, ok := p.(*rtcp.PictureLossIndication); ok {
				select {
				case s.key <- struct{}{}:
				default:
				}
			}
		}
	}
}

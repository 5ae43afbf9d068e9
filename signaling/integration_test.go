package signaling_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"sanji/client"
	"sanji/signaling"
)

// The in-process call: real WebSocket, real SFU, pion clients, all on 127.0.0.1.

// received is what a subscriber saw of one remote track.
type received struct {
	kind, publisher string
	ssrc            webrtc.SSRC
	packets, gaps   int
	lastSeq         uint16
	firstTS, lastTS uint32
	senderReports   int
}

// peer is one pion client with what it has received.
type peer struct {
	t     *testing.T
	id    string
	c     *client.Client
	inbox inbox

	mu      sync.Mutex
	closed  bool
	tracks  map[string]*received // by track id
	rrs     map[webrtc.SSRC]int  // receiver reports about our own senders
	readers sync.WaitGroup       // the test's readers of received tracks

	senders map[string]*webrtc.RTPSender // by kind
	feed    chan struct{}                // closed to stop the feeder
	feeding sync.WaitGroup
}

func (e *env) connect(t *testing.T, room, id string) *peer {
	t.Helper()
	return e.connectWith(t, room, id, true)
}

func (e *env) connectWith(t *testing.T, room, id string, autoSubscribe bool) *peer {
	t.Helper()
	p := &peer{t: t, id: id, tracks: map[string]*received{}, rrs: map[webrtc.SSRC]int{}}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, e.wsURL, e.token(room, id, "leader", time.Hour), client.Options{
		AutoSubscribe: autoSubscribe,
		Logger:        zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)),
		OnTrack:       p.onTrack,
		OnMessage:     p.inbox.add,
		OnSenderRTCP:  p.onSenderRTCP,
	})
	if err != nil {
		t.Fatalf("%s: dial: %v", id, err)
	}
	p.c = c
	t.Cleanup(p.close)
	return p
}

func (p *peer) close() {
	p.stopFeeding()
	if err := p.c.Close(); err != nil {
		p.t.Errorf("%s: close: %v", p.id, err)
	}
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	p.readers.Wait()
}

func (p *peer) onTrack(tr *webrtc.TrackRemote, r *webrtc.RTPReceiver) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	rec := &received{kind: tr.Kind().String(), publisher: tr.StreamID(), ssrc: tr.SSRC()}
	p.tracks[tr.ID()] = rec
	p.readers.Add(2)
	go func() {
		defer p.readers.Done()
		for {
			pkt, _, err := tr.ReadRTP()
			if err != nil {
				return
			}
			p.mu.Lock()
			if rec.packets == 0 {
				rec.firstTS = pkt.Timestamp
			} else if pkt.SequenceNumber != rec.lastSeq+1 {
				rec.gaps++
			}
			rec.packets++
			rec.lastSeq, rec.lastTS = pkt.SequenceNumber, pkt.Timestamp
			p.mu.Unlock()
		}
	}()
	go func() {
		defer p.readers.Done()
		for {
			pkts, _, err := r.ReadRTCP()
			if err != nil {
				return
			}
			for _, pkt := range pkts {
				if sr, ok := pkt.(*rtcp.SenderReport); ok && webrtc.SSRC(sr.SSRC) == rec.ssrc {
					p.mu.Lock()
					rec.senderReports++
					p.mu.Unlock()
				}
			}
		}
	}()
}

func (p *peer) onSenderRTCP(_ *webrtc.RTPSender, pkts []rtcp.Packet) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, pkt := range pkts {
		if rr, ok := pkt.(*rtcp.ReceiverReport); ok {
			for _, r := range rr.Reports {
				p.rrs[webrtc.SSRC(r.SSRC)]++
			}
		}
	}
}

// snapshot copies what p received from one track.
func (p *peer) snapshot(trackID string) received {
	p.mu.Lock()
	defer p.mu.Unlock()
	if r := p.tracks[trackID]; r != nil {
		return *r
	}
	return received{}
}

// publish sends an Opus and a VP8 track, fed by a goroutine the peer stops on close.
func (p *peer) publish() {
	p.t.Helper()
	audio, err := webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus,
		ClockRate: 48000, Channels: 2}, "mic", "local-"+p.id)
	if err != nil {
		p.t.Fatal(err)
	}
	video, err := webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8,
		ClockRate: 90000}, "cam", "local-"+p.id)
	if err != nil {
		p.t.Fatal(err)
	}
	senders, err := p.c.Publish(audio, video)
	if err != nil {
		p.t.Fatalf("%s: publish: %v", p.id, err)
	}
	p.senders = map[string]*webrtc.RTPSender{"audio": senders[0], "video": senders[1]}
	stop := make(chan struct{})
	p.feed = stop
	p.feeding.Add(1)
	go func() {
		defer p.feeding.Done()
		opus := append([]byte{0xfc}, make([]byte, 40)...) // TOC: CELT FB 20 ms, then silence-ish bytes
		// A VP8 key frame header (P bit clear, start code 9d 01 2a, 320x240) and filler.
		vp8 := append([]byte{0x50, 0x02, 0x00, 0x9d, 0x01, 0x2a, 0x40, 0x01, 0xf0, 0x00}, make([]byte, 300)...)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for n := 0; ; n++ {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			_ = audio.WriteSample(media.Sample{Data: opus, Duration: 20 * time.Millisecond})
			if n%2 == 0 {
				_ = video.WriteSample(media.Sample{Data: vp8, Duration: 40 * time.Millisecond})
			}
		}
	}()
}

func (p *peer) stopFeeding() {
	if p.feed != nil {
		close(p.feed)
		p.feed = nil
		p.feeding.Wait()
	}
}

func (p *peer) senderSSRC(kind string) webrtc.SSRC {
	return p.senders[kind].GetParameters().Encodings[0].SSRC
}

// ownTrack is the id the server gave p's track of kind, from p's own track_published.
func (p *peer) ownTrack(kind string) string {
	p.t.Helper()
	var d signaling.TrackPublishedData
	p.inbox.waitFor(p.t, "own "+kind+" track_published", func(m signaling.Message) bool {
		return m.Type == signaling.TypeTrackPublished && json.Unmarshal(m.Data, &d) == nil &&
			d.Track.ParticipantID == p.id && d.Track.Kind == kind
	})
	return d.Track.ID
}

// inbox keeps every message a client got.
type inbox struct {
	mu   sync.Mutex
	msgs []signaling.Message
}

func (in *inbox) add(m signaling.Message) {
	in.mu.Lock()
	in.msgs = append(in.msgs, m)
	in.mu.Unlock()
}

func (in *inbox) find(match func(signaling.Message) bool) bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	for _, m := range in.msgs {
		if match(m) {
			return true
		}
	}
	return false
}

func (in *inbox) waitFor(t *testing.T, what string, match func(signaling.Message) bool) {
	t.Helper()
	eventually(t, what, func() bool { return in.find(match) })
}

func TestThreeParticipantsExchangeMedia(t *testing.T) {
	e := newEnv(t, nil)
	var peers []*peer
	for _, id := range []string{"p0", "p1", "p2"} {
		p := e.connect(t, "hall", id)
		p.publish()
		peers = append(peers, p)
	}
	if j := peers[2].c.Joined(); len(j.Participants) != 2 {
		t.Fatalf("p2 joined and saw %d others, want 2", len(j.Participants))
	}
	byID := map[string]*peer{}
	ownTracks := map[string]string{} // track id -> kind
	for _, p := range peers {
		byID[p.id] = p
		for _, kind := range []string{"audio", "video"} {
			ownTracks[p.ownTrack(kind)] = kind
		}
	}

	// Every subscriber gets both tracks of both others, with sender reports on each, and every
	// publisher gets receiver reports about both of its tracks.
	const minAudio, minVideo = 50, 25
	for _, p := range peers {
		eventually(t, p.id+" receiving 4 tracks with sender reports", func() bool {
			p.mu.Lock()
			defer p.mu.Unlock()
			if len(p.tracks) != 4 {
				return false
			}
			for _, r := range p.tracks {
				min := minVideo
				if r.kind == "audio" {
					min = minAudio
				}
				if r.packets < min || r.senderReports == 0 {
					return false
				}
			}
			return true
		})
		eventually(t, p.id+" getting receiver reports", func() bool {
			p.mu.Lock()
			defer p.mu.Unlock()
			return p.rrs[p.senderSSRC("audio")] > 0 && p.rrs[p.senderSSRC("video")] > 0
		})
	}
	for _, p := range peers {
		p.mu.Lock()
		for id, r := range p.tracks {
			pub := byID[r.publisher]
			t.Logf("%s <- %s %s %s: %d packets, ssrc %d, %d gaps, ts %d..%d, %d SRs",
				p.id, r.publisher, r.kind, id, r.packets, r.ssrc, r.gaps, r.firstTS, r.lastTS, r.senderReports)
			switch {
			case pub == nil || pub == p:
				t.Errorf("%s got track %s with stream id %q, want another participant's id", p.id, id, r.publisher)
			case ownTracks[id] != r.kind:
				t.Errorf("%s got %s track %s, which the room announced as %q", p.id, r.kind, id, ownTracks[id])
			case r.ssrc == pub.senderSSRC(r.kind):
				t.Errorf("%s got %s's %s with the publisher's SSRC %d: not rewritten", p.id, pub.id, r.kind, r.ssrc)
			case r.gaps != 0:
				t.Errorf("%s: %s's %s has %d sequence gaps in %d packets", p.id, pub.id, r.kind, r.gaps, r.packets)
			case int32(r.lastTS-r.firstTS) <= 0:
				t.Errorf("%s: %s's %s timestamps did not advance (%d..%d)", p.id, pub.id, r.kind, r.firstTS, r.lastTS)
			}
		}
		p.mu.Unlock()
	}

	// Unpublish: the others hear track_unpublished. Leave: they hear participant_left.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	video := peers[0].ownTrack("video")
	if err := peers[0].c.Unpublish(ctx, video); err != nil {
		t.Fatalf("unpublish: %v", err)
	}
	for _, p := range peers[1:] {
		p.inbox.waitFor(t, p.id+" hearing track_unpublished", func(m signaling.Message) bool {
			var d signaling.TrackUnpublishedData
			return m.Type == signaling.TypeTrackUnpublished && json.Unmarshal(m.Data, &d) == nil &&
				d.TrackID == video && d.ParticipantID == "p0"
		})
	}
	peers[0].close()
	for _, p := range peers[1:] {
		p.inbox.waitFor(t, p.id+" hearing participant_left", func(m signaling.Message) bool {
			var d signaling.ParticipantLeftData
			return m.Type == signaling.TypeParticipantLeft && json.Unmarshal(m.Data, &d) == nil && d.ParticipantID == "p0"
		})
	}
}

func TestMuteStopsAndUnmuteResumes(t *testing.T) {
	e := newEnv(t, nil)
	pub := e.connect(t, "hall", "speaker")
	pub.publish()
	sub := e.connect(t, "hall", "listener")
	audio, video := pub.ownTrack("audio"), pub.ownTrack("video")
	eventually(t, "media at the listener", func() bool {
		return sub.snapshot(audio).packets >= 20 && sub.snapshot(video).packets >= 10
	})

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	mutedIs := func(want bool) func(signaling.Message) bool {
		return func(m signaling.Message) bool {
			var d signaling.TrackMutedData
			return m.Type == signaling.TypeTrackMuted && json.Unmarshal(m.Data, &d) == nil &&
				d.TrackID == audio && d.ParticipantID == "speaker" && d.Muted == want
		}
	}
	if err := pub.c.Mute(ctx, audio, true); err != nil {
		t.Fatalf("mute: %v", err)
	}
	sub.inbox.waitFor(t, "track_muted true", mutedIs(true))

	// The video track, still flowing, is the clock: 50 more video packets is about 2 s.
	atMute, v0 := sub.snapshot(audio), sub.snapshot(video).packets
	eventually(t, "video to go on", func() bool { return sub.snapshot(video).packets >= v0+50 })
	if got := sub.snapshot(audio).packets; got > atMute.packets+3 { // a few may have been in flight
		t.Fatalf("muted audio: %d packets arrived after mute (had %d)", got-atMute.packets, atMute.packets)
	}

	if err := pub.c.Mute(ctx, audio, false); err != nil {
		t.Fatalf("unmute: %v", err)
	}
	sub.inbox.waitFor(t, "track_muted false", mutedIs(false))
	eventually(t, "audio to resume", func() bool { return sub.snapshot(audio).packets >= atMute.packets+25 })
	if r := sub.snapshot(audio); int32(r.lastTS-atMute.lastTS) <= 0 {
		t.Fatalf("audio timestamps did not advance across mute: %d then %d", atMute.lastTS, r.lastTS)
	}
}

func TestManualSubscribeAndUnsubscribe(t *testing.T) {
	e := newEnv(t, nil)
	pub := e.connect(t, "hall", "speaker")
	pub.publish()
	audio, video := pub.ownTrack("audio"), pub.ownTrack("video")
	sub := e.connectWith(t, "hall", "picky", false)
	if j := sub.c.Joined(); len(j.Participants) != 1 || len(j.Participants[0].Tracks) != 2 {
		t.Fatalf("joined lists %+v, want the speaker with two tracks", j.Participants)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := sub.c.Subscribe(ctx, audio); err != nil {
		t.Fatalf("subscribe: %v", err)
	}
	eventually(t, "subscribed audio", func() bool { return sub.snapshot(audio).packets >= 25 })
	if n := sub.snapshot(video).packets; n != 0 {
		t.Fatalf("got %d video packets without subscribing to video", n)
	}

	if err := sub.c.Unsubscribe(ctx, audio); err != nil {
		t.Fatalf("unsubscribe: %v", err)
	}
	atUnsub := sub.snapshot(audio).packets
	if err := sub.c.Subscribe(ctx, video); err != nil {
		t.Fatalf("subscribe video: %v", err)
	}
	// Video is the clock: by its 50th packet (2 s) audio has long stopped.
	eventually(t, "subscribed video", func() bool { return sub.snapshot(video).packets >= 50 })
	if n := sub.snapshot(audio).packets; n > atUnsub+3 {
		t.Fatalf("%d audio packets after unsubscribe", n-atUnsub)
	}
	var e2 *client.Error
	if err := sub.c.Unsubscribe(ctx, audio); !errors.As(err, &e2) || e2.Code != signaling.CodeNotFound {
		t.Fatalf("second unsubscribe: %v, want not_found", err)
	}
	// The tile size of a received track is accepted; of one not received, refused.
	reply, err := sub.c.Request(ctx, signaling.TypeTrackSettings, signaling.TrackSettingsData{TrackID: video, Width: 320, Height: 180, Priority: 1})
	if err != nil || reply.Type != signaling.TypeTrackSettingsOK {
		t.Fatalf("track_settings: %+v, %v", reply, err)
	}
	if _, err := sub.c.Request(ctx, signaling.TypeTrackSettings, signaling.TrackSettingsData{TrackID: audio, Width: 320}); !errors.As(err, &e2) || e2.Code != signaling.CodeNotFound {
		t.Fatalf("track_settings for a track not received: %v, want not_found", err)
	}
}

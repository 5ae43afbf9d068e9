package client_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
	"go.uber.org/goleak"
	"go.uber.org/zap/zaptest"

	"sanji/auth"
	"sanji/client"
	"sanji/sfu"
	"sanji/signaling"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var secret = []byte("client test secret, 32 bytes or more")

// serve runs a signaling server on a real SFU and returns its WebSocket URL and a token maker.
func serve(t *testing.T) (string, func(sub string, ttl time.Duration) string) {
	t.Helper()
	log := zaptest.NewLogger(t)
	media, err := sfu.New(sfu.Config{LoopbackOnly: true, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	signer := auth.NewSigner(secret)
	srv := signaling.New(signaling.Config{SFU: media, Tokens: signer, Logger: log})
	h := httptest.NewServer(srv)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Error(err)
		}
		h.Close()
		_ = media.Close()
	})
	token := func(sub string, ttl time.Duration) string {
		tok, err := signer.Sign(auth.Claims{Room: "r", Subject: sub, Name: sub, Role: auth.RoleObserver,
			ExpiresAt: time.Now().Add(ttl)})
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	return "ws" + strings.TrimPrefix(h.URL, "http"), token
}

func TestDialRefused(t *testing.T) {
	url, token := serve(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := client.Dial(ctx, url, token("a", -time.Minute), client.Options{})
	var e *client.Error
	if !errors.As(err, &e) || e.Code != signaling.CodeTokenExpired {
		t.Fatalf("err = %v, want a token_expired *client.Error", err)
	}
	if _, err := client.Dial(ctx, "ws://127.0.0.1:1/ws", token("a", time.Hour), client.Options{}); err == nil {
		t.Fatal("dialled a closed port")
	}
}

func TestJoinRequestAndClose(t *testing.T) {
	url, token := serve(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var got []string
	a, err := client.Dial(ctx, url, token("a", time.Hour), client.Options{
		OnMessage: func(m client.Message) { got = append(got, m.Type) },
	})
	if err != nil {
		t.Fatal(err)
	}
	if j := a.Joined(); j.Room != "r" || a.ID() != "a" {
		t.Fatalf("joined %+v", j)
	}
	m, err := a.Request(ctx, signaling.TypePing, struct{}{})
	if err != nil || m.Type != signaling.TypePong {
		t.Fatalf("ping: %v %+v", err, m)
	}
	if err := a.Mute(ctx, "TR_none", true); err == nil {
		t.Fatal("muted a track that does not exist")
	}
	if err := a.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	if err := a.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
	if _, err := a.Request(ctx, signaling.TypePing, struct{}{}); !errors.Is(err, client.ErrClosed) {
		t.Fatalf("request after close: %v, want ErrClosed", err)
	}
	// OnMessage runs on the reader, which Close has waited for: got is safe to read.
	if len(got) < 3 || got[0] != signaling.TypeJoined || got[len(got)-1] != signaling.TypeBye {
		t.Fatalf("messages %v, want joined first and bye last", got)
	}
}

// TestPublishSimulcast publishes three VP8 encodings (RIDs q, h, f) of one track: the server
// announces one simulcast track, a subscriber receives it, and the subscriber's keyframe request for
// the top layer reaches the publisher on that layer's own RTCP stream.
func TestPublishSimulcast(t *testing.T) {
	url, token := serve(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var mu sync.Mutex
	plis := map[webrtc.SSRC]int{}
	pub, err := client.Dial(ctx, url, token("pub", time.Hour), client.Options{
		OnSenderRTCP: func(_ *webrtc.RTPSender, pkts []rtcp.Packet) {
			mu.Lock()
			defer mu.Unlock()
			for _, p := range pkts {
				if pli, ok := p.(*rtcp.PictureLossIndication); ok {
					plis[webrtc.SSRC(pli.MediaSSRC)]++
				}
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	simulcast := make(chan bool, 4)
	sub, err := client.Dial(ctx, url, token("sub", time.Hour), client.Options{AutoSubscribe: true,
		OnMessage: func(m client.Message) {
			var d signaling.TrackPublishedData
			if m.Type == signaling.TypeTrackPublished && m.Decode(&d) == nil {
				simulcast <- d.Track.Simulcast
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()

	codec := webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}
	var layers []*webrtc.TrackLocalStaticRTP
	for _, rid := range []string{"q", "h", "f"} {
		l, err := webrtc.NewTrackLocalStaticRTP(codec, "video", "pub", webrtc.WithRTPStreamID(rid))
		if err != nil {
			t.Fatal(err)
		}
		layers = append(layers, l)
	}
	sc, err := pub.PublishSimulcast(layers...)
	if err != nil {
		t.Fatal(err)
	}
	top := sc.SSRC("f")
	if top == 0 || sc.SSRC("q") == 0 || sc.SSRC("h") == 0 {
		t.Fatalf("encodings without SSRCs: %+v", sc.Transceiver.Sender().GetParameters().Encodings)
	}
	// Send one-packet VP8 keyframes on every layer until the subscriber's SFU side asked a layer
	// for a keyframe.
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for seq := uint16(0); ; seq++ {
			select {
			case <-done:
				return
			case <-tick.C:
			}
			for _, l := range layers {
				pkt := &rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: seq, Timestamp: uint32(seq) * 1800, Marker: true},
					Payload: []byte{0x10, 0x00, 0x00, 0x00, 0x9d, 0x01, 0x2a, 0x80, 0x02, 0xe0, 0x01}}
				if err := sc.Mark(&pkt.Header, l.RID()); err != nil {
					t.Error(err)
					return
				}
				_ = l.WriteRTP(pkt)
			}
		}
	}()
	defer func() { close(done); wg.Wait() }()
	select {
	case sc := <-simulcast:
		if !sc {
			t.Fatal("the server announced the track without simulcast")
		}
	case <-ctx.Done():
		t.Fatal("no track_published")
	}
	for {
		mu.Lock()
		// The subscriber starts on the top layer: its keyframe request comes on f's own stream.
		n := plis[top]
		mu.Unlock()
		if n > 0 {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("no PLI reached the top layer (f, SSRC %d) of the publisher: %v", top, plis)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func TestOwnerWSURL(t *testing.T) {
	for in, want := range map[string]string{
		"http://127.0.0.1:8080":         "ws://127.0.0.1:8080/ws",
		"https://node-2.example.cn/":    "wss://node-2.example.cn/ws",
		"https://node-2.example.cn/x?y": "wss://node-2.example.cn/x/ws",
	} {
		if got, err := client.OwnerWSURL(in); err != nil || got != want {
			t.Errorf("OwnerWSURL(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := client.OwnerWSURL("ftp://x"); err == nil {
		t.Error("ftp accepted")
	}
}

package signaling_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/pion/webrtc/v4"

	"sanji/client"
	"sanji/signaling"
)

// offerWithOnly builds a real pion offer whose one video section carries only the given codec.
func offerWithOnly(t *testing.T, mime string) string {
	t.Helper()
	m := &webrtc.MediaEngine{}
	if err := m.RegisterCodec(webrtc.RTPCodecParameters{
		RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: mime, ClockRate: 90000},
		PayloadType:        98,
	}, webrtc.RTPCodecTypeVideo); err != nil {
		t.Fatal(err)
	}
	api := webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithSettingEngine(*client.LoopbackSettingEngine()))
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	if _, err := pc.AddTransceiverFromKind(webrtc.RTPCodecTypeVideo,
		webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly}); err != nil {
		t.Fatal(err)
	}
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(offer.SDP, strings.TrimPrefix(mime, "video/")) {
		t.Fatalf("offer does not carry %s:\n%s", mime, offer.SDP)
	}
	return offer.SDP
}

func TestBadInputBeforeJoin(t *testing.T) {
	e := newEnv(t, nil)
	r := e.dialRaw()
	for i, c := range []struct{ frame, code, re string }{
		{`not json`, signaling.CodeBadJSON, ""},
		{`[1,2,3]`, signaling.CodeBadJSON, ""},
		{`"a string"`, signaling.CodeBadJSON, ""},
		{`{"v":1,"type":5}`, signaling.CodeBadJSON, ""},
		{`{"v":1,"type":"ping","id":"x"`, signaling.CodeBadJSON, ""},
		{`{"v":2,"type":"ping","id":"a"}`, signaling.CodeBadVersion, "a"},
		{`{"type":"ping","id":"b"}`, signaling.CodeBadVersion, "b"},
		{`{"v":1,"type":"teleport","id":"c"}`, signaling.CodeUnknownType, "c"},
		{`{"v":1,"type":"ping","id":"d","data":5}`, signaling.CodeBadJSON, "d"},
		{`{"v":1,"type":"ping","id":"` + strings.Repeat("x", 65) + `"}`, signaling.CodeInvalid, ""},
		{`{"v":1,"type":"subscribe","id":"e","data":{"track_ids":["t"]}}`, signaling.CodeNotJoined, "e"},
		{`{"v":1,"type":"publish_offer","id":"f","data":{"sdp":"v=0"}}`, signaling.CodeNotJoined, "f"},
		{`{"v":1,"type":"join","id":"g","data":{}}`, signaling.CodeInvalid, "g"},
		{`{"v":1,"type":"join","id":"h","data":{"token":7}}`, signaling.CodeBadJSON, "h"},
		{`{"v":1,"type":"join","id":"i","data":{"token":"abc.def"}}`, signaling.CodeBadToken, "i"},
	} {
		r.sendText(c.frame)
		r.expectError(c.code, c.re)
		r.ping("ok" + string(rune('A'+i))) // the server stays up and answers the next good message
	}

	// An expired token, then a token for another secret, then a good join, then a second join.
	r.send(signaling.TypeJoin, "x1", signaling.JoinData{Token: e.token("room1", "alice", "leader", -time.Minute)})
	r.expectError(signaling.CodeTokenExpired, "x1")
	r.ping("p1")
	j := r.join(e.token("room1", "alice", "leader", time.Hour), true)
	if j.Room != "room1" || j.Participant.ID != "alice" || j.Participant.Role != "leader" || len(j.Participants) != 0 {
		t.Fatalf("joined = %+v", j)
	}
	r.send(signaling.TypeJoin, "x2", signaling.JoinData{Token: e.token("room1", "alice", "leader", time.Hour)})
	r.expectError(signaling.CodeAlreadyJoined, "x2")
	r.ping("p2")
}

func TestBadInputAfterJoin(t *testing.T) {
	e := newEnv(t, nil)
	r := e.dialRaw()
	r.join(e.token("room1", "bob", "hall_operator", time.Hour), true)

	yes := true
	for i, c := range []struct {
		typ  string
		data any
		code string
	}{
		{signaling.TypePublishOffer, map[string]any{}, signaling.CodeInvalid},
		{signaling.TypePublishOffer, map[string]any{"sdp": 12}, signaling.CodeBadJSON},
		{signaling.TypePublishOffer, signaling.SDPData{SDP: "this is not an SDP"}, signaling.CodeBadSDP},
		{signaling.TypePublishOffer, signaling.SDPData{SDP: offerWithOnly(t, "video/AV1")}, signaling.CodeUnsupportedCodec},
		{signaling.TypePublishOffer, signaling.SDPData{SDP: offerWithOnly(t, "video/X-SANJI-MADEUP")}, signaling.CodeUnsupportedCodec},
		{signaling.TypeSubscribeAnswer, signaling.SDPData{SDP: "v=0"}, signaling.CodeWrongState},
		{signaling.TypeTrickle, map[string]any{"target": "sideways", "candidate": nil}, signaling.CodeInvalid},
		{signaling.TypeSubscribe, signaling.TrackIDsData{}, signaling.CodeInvalid},
		{signaling.TypeSubscribe, signaling.TrackIDsData{TrackIDs: []string{""}}, signaling.CodeInvalid},
		{signaling.TypeSubscribe, signaling.TrackIDsData{TrackIDs: []string{"TR_nope"}}, signaling.CodeNotFound},
		{signaling.TypeUnsubscribe, signaling.TrackIDsData{TrackIDs: []string{"TR_nope"}}, signaling.CodeNotFound},
		{signaling.TypeMute, map[string]any{"track_id": "TR_nope"}, signaling.CodeInvalid},
		{signaling.TypeMute, map[string]any{"track_id": "TR_nope", "muted": "yes"}, signaling.CodeBadJSON},
		{signaling.TypeMute, map[string]any{"track_id": "TR_nope", "muted": &yes}, signaling.CodeNotFound},
		{signaling.TypeUnpublish, map[string]any{}, signaling.CodeInvalid},
		{signaling.TypeUnpublish, signaling.TrackIDData{TrackID: "TR_nope"}, signaling.CodeNotFound},
		{signaling.TypeTrackSettings, map[string]any{"width": 100}, signaling.CodeInvalid},
		{signaling.TypeTrackSettings, signaling.TrackSettingsData{TrackID: "TR_x", Width: -1}, signaling.CodeInvalid},
		{signaling.TypeTrackSettings, signaling.TrackSettingsData{TrackID: "TR_x", Height: 99999}, signaling.CodeInvalid},
		{signaling.TypeTrackSettings, signaling.TrackSettingsData{TrackID: "TR_x", Priority: 11}, signaling.CodeInvalid},
		{signaling.TypeTrackSettings, map[string]any{"track_id": "TR_x", "width": "wide"}, signaling.CodeBadJSON},
		{signaling.TypeTrackSettings, signaling.TrackSettingsData{TrackID: "TR_nope", Width: 320, Height: 180}, signaling.CodeNotFound},
	} {
		id := "m" + string(rune('A'+i))
		r.send(c.typ, id, c.data)
		r.expectError(c.code, id)
		r.ping("ok" + id)
	}
}

func TestOversizedFrameCloses1009(t *testing.T) {
	e := newEnv(t, nil)
	r := e.dialRaw()
	r.ping("before")
	r.sendText(`{"v":1,"type":"ping","data":{"pad":"` + strings.Repeat("x", 64<<10) + `"}}`)
	code, seen := r.waitClosed()
	if code != websocket.CloseMessageTooBig {
		t.Fatalf("close code %d, want 1009", code)
	}
	if len(seen) != 1 || seen[0].Type != signaling.TypeError || !strings.Contains(string(seen[0].Data), signaling.CodeTooLarge) {
		t.Fatalf("before closing the server sent %+v, want one too_large error", seen)
	}
	eventually(t, "the session to end", func() bool { return e.srv.Sessions() == 0 })

	// A frame of exactly the limit is fine.
	r = e.dialRaw()
	frame := `{"v":1,"type":"ping","id":"edge","data":{"pad":"`
	frame += strings.Repeat("x", 64<<10-len(frame)-3) + `"}}`
	if len(frame) != 64<<10 {
		t.Fatalf("frame is %d bytes", len(frame))
	}
	r.sendText(frame)
	if m := r.next(); m.Type != signaling.TypePong || m.Re != "edge" {
		t.Fatalf("a frame at the limit got %s", m.Type)
	}
}

func TestRateLimit(t *testing.T) {
	e := newEnv(t, func(c *signaling.Config) { c.RateLimit = 5 })
	r := e.dialRaw()
	for i := range 20 {
		r.send(signaling.TypePing, string(rune('a'+i)), struct{}{})
	}
	var pongs []string
	errs := 0
	for len(pongs) < 5 || errs < 1 {
		m := r.next()
		switch m.Type {
		case signaling.TypePong:
			pongs = append(pongs, m.Re)
		case signaling.TypeError:
			var er signaling.Error
			_ = json.Unmarshal(m.Data, &er)
			if er.Code != signaling.CodeRateLimited {
				t.Fatalf("error %s, want rate_limited", er.Code)
			}
			checkBilingual(t, &er)
			errs++
		}
	}
	if strings.Join(pongs, "") != "abcde" {
		t.Fatalf("answered %v, want the first five", pongs)
	}
	// Keep asking until a new second lets a ping through. Pings in the rest of this second go
	// unanswered and bring no second error: one rate_limited per second.
	msgs := make(chan signaling.Message, 64)
	go func() {
		defer close(msgs)
		for {
			_, b, err := r.c.ReadMessage()
			if err != nil {
				return
			}
			var m signaling.Message
			_ = json.Unmarshal(b, &m)
			msgs <- m
		}
	}()
	_ = r.c.SetReadDeadline(time.Time{})
	deadline := time.Now().Add(5 * time.Second)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	r.send(signaling.TypePing, "later", struct{}{})
	for {
		select {
		case m := <-msgs:
			if m.Type == signaling.TypeError {
				errs++
			}
			if m.Type == signaling.TypePong {
				if errs != 1 {
					t.Fatalf("%d rate_limited errors, want one", errs)
				}
				return
			}
		case <-tick.C:
			if time.Now().After(deadline) {
				t.Fatal("the rate limit never lifted")
			}
			r.send(signaling.TypePing, "later", struct{}{})
		}
	}
}

package signaling

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"sanji/auth"
)

// fuzzConn is one real WebSocket connection that every fuzzed session borrows: a session needs a
// *websocket.Conn for its address and to cut it, but the fuzz targets read the session's outgoing
// queue directly and never write to the socket.
func fuzzConn(f *testing.F) *websocket.Conn {
	f.Helper()
	got := make(chan *websocket.Conn, 1)
	release := make(chan struct{})
	var wg sync.WaitGroup
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		wg.Add(1)
		defer wg.Done()
		c, err := (&websocket.Upgrader{}).Upgrade(w, r, nil)
		if err != nil {
			return
		}
		got <- c
		<-release // hold the handler until the fuzz target is done with the connection
		_ = c.Close()
	}))
	client, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		f.Fatal(err)
	}
	c := <-got
	f.Cleanup(func() {
		close(release)
		_ = client.Close()
		wg.Wait()
		srv.Close()
	})
	return c
}

// sessionState is what a refused message must leave as it was.
type sessionState struct {
	ID, Name, Role, Room string
	AutoSubscribe        bool
	Joined, Closing      bool
	Tracks               int
	Rooms, Resume        int
}

func snapshot(s *session) sessionState {
	s.srv.mu.Lock()
	rooms, resume, tracks := len(s.srv.rooms), len(s.srv.resume), len(s.tracks)
	s.srv.mu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	return sessionState{ID: s.id, Name: s.name, Role: s.role, Room: s.room, AutoSubscribe: s.autoSubscribe,
		Joined: s.joinedSent, Closing: s.closing, Tracks: tracks, Rooms: rooms, Resume: resume}
}

// FuzzHandleFrame drives the reader's whole path for one frame — envelope decode, version, size of
// the id, state checks, then every handler's own validation — on a session that has not joined yet
// and on one that has (without a media participant, so that only the message's checks run).
// Invariants: no panic (handleFrame would recover it and end the session: the log says so); every
// frame the server queues is a v1 envelope; every error is bilingual, with the catalog's Chinese
// and English texts and a protocol code, and answers the request's id; a refused message changes
// nothing in the session or the server.
func FuzzHandleFrame(f *testing.F) {
	conn := fuzzConn(f)
	core, logs := observer.New(zapcore.DebugLevel)
	srv := New(Config{Tokens: auth.NewSigner([]byte("fuzz secret of at least 32 bytes, for signing")),
		Logger: zap.New(core), Registerer: prometheus.NewRegistry()})

	for _, seed := range []string{
		`{"v":1,"type":"ping","id":"1"}`,
		`{"v":1,"type":"join","id":"1","data":{"token":"x.y.z"}}`,
		`{"v":1,"type":"join","id":"1","data":{"token":""}}`,
		`{"v":1,"type":"resume","id":"2","data":{"token":"t","participant_id":"p"}}`,
		`{"v":1,"type":"publish_offer","id":"3","data":{"sdp":"v=0\r\n"}}`,
		`{"v":1,"type":"subscribe_answer","data":{"sdp":""}}`,
		`{"v":1,"type":"trickle","data":{"target":"publisher","candidate":{"candidate":"candidate:1 1 udp 1 1.2.3.4 5 typ host"}}}`,
		`{"v":1,"type":"trickle","data":{"target":"nobody","candidate":null}}`,
		`{"v":1,"type":"subscribe","id":"4","data":{"track_ids":["TR_a","TR_b"]}}`,
		`{"v":1,"type":"unsubscribe","id":"4","data":{"track_ids":[""]}}`,
		`{"v":1,"type":"mute","id":"5","data":{"track_id":"TR_a","muted":true}}`,
		`{"v":1,"type":"mute","id":"5","data":{"track_id":"TR_a"}}`,
		`{"v":1,"type":"track_settings","id":"6","data":{"track_id":"TR_a","width":640,"height":360,"priority":3}}`,
		`{"v":1,"type":"track_settings","id":"6","data":{"track_id":"TR_a","width":-1}}`,
		`{"v":1,"type":"unpublish","id":"7","data":{"track_id":"TR_a"}}`,
		`{"v":1,"type":"ice_restart","id":"8","data":{"target":"subscriber"}}`,
		`{"v":1,"type":"leave"}`,
		`{"v":1,"type":"call_next","id":"9"}`,
		`{"v":1,"type":"call_appointment","id":"9","data":{"appointment_id":3}}`,
		`{"v":1,"type":"end_hearing","id":"9","data":{"outcome":"accepted","note":"好"}}`,
		`{"v":1,"type":"stage_unit","id":"9","data":{"participant_id":"u1","on":true}}`,
		`{"v":1,"type":"set_speakers","id":"9","data":{"participant_ids":["a","b"]}}`,
		`{"v":1,"type":"hearing_record","id":"9","data":{"text":"记录"}}`,
		`{"v":1,"type":"confirm_record","id":"9","data":{"signature":"aGVsbG8="}}`,
		`{"v":2,"type":"ping"}`,
		`{"type":"ping"}`,
		`{"v":1,"type":"nope","id":"` + strings.Repeat("x", 70) + `"}`,
		`{"v":1,"type":"ping","data":[1]}`,
		`[1,2]`,
		`{"v":"1"}`,
		"",
	} {
		f.Add([]byte(seed), false)
		f.Add([]byte(seed), true)
	}

	f.Fuzz(func(t *testing.T, frame []byte, joined bool) {
		s := newSession(srv, conn)
		s.killOnce.Do(func() {}) // the connection is shared: a session here never cuts it
		if joined {
			s.id, s.name, s.role, s.room = "p1", "名字", "hall", "room"
			s.joinedSent = true
		}
		before := snapshot(s)
		logs.TakeAll()

		s.handleFrame(frame)

		if n := logs.FilterMessageSnippet("panic").Len(); n > 0 {
			t.Fatalf("handling %q panicked: %v", frame, logs.FilterMessageSnippet("panic").All()[0].ContextMap())
		}
		var env envelope
		_ = json.Unmarshal(frame, &env)
		sawError := false
		for len(s.out) > 0 {
			out := <-s.out
			if out.closeCode > 0 {
				if out.closeCode != websocket.CloseNormalClosure {
					t.Fatalf("frame %q closed the session with %d %q", frame, out.closeCode, out.closeText)
				}
				continue
			}
			if !json.Valid(out.data) || !utf8.Valid(out.data) {
				t.Fatalf("the server queued invalid JSON: %q", out.data)
			}
			var m Message
			if err := json.Unmarshal(out.data, &m); err != nil || m.V != Version || m.Type == "" {
				t.Fatalf("the server queued a bad envelope %q: %v", out.data, err)
			}
			if m.Type != TypeError {
				continue
			}
			sawError = true
			var e Error
			if err := m.Decode(&e); err != nil {
				t.Fatalf("error body %q: %v", m.Data, err)
			}
			checkBilingual(t, frame, e)
			if m.Re != "" && m.Re != env.ID {
				t.Fatalf("frame %q: error answers %q, not the request's id %q", frame, m.Re, env.ID)
			}
		}
		after := snapshot(s)
		if sawError && after != before {
			t.Fatalf("refused frame %q changed the session: %+v -> %+v", frame, before, after)
		}
		// Nothing a client sends without a valid token may put it into a room.
		if after.Rooms != 0 || after.Resume != 0 || (!joined && after.Joined) {
			t.Fatalf("frame %q without a valid token joined: %+v", frame, after)
		}
	})
}

// checkBilingual holds an error to the protocol: a code, and "zh / en" with both texts filled,
// the Chinese one in Chinese, and no unfilled {parameter}.
func checkBilingual(t *testing.T, frame []byte, e Error) {
	t.Helper()
	if e.Code == "" || e.MessageZH == "" || e.MessageEN == "" {
		t.Fatalf("frame %q: an error without code or text: %+v", frame, e)
	}
	if strings.Trim(e.Code, "abcdefghijklmnopqrstuvwxyz_") != "" {
		t.Fatalf("frame %q: code %q is not a protocol code", frame, e.Code)
	}
	if e.Message != e.MessageZH+" / "+e.MessageEN {
		t.Fatalf("frame %q: message %q is not zh / en", frame, e.Message)
	}
	if !strings.ContainsFunc(e.MessageZH, func(r rune) bool { return r >= 0x4e00 && r <= 0x9fff }) {
		t.Fatalf("frame %q: the Chinese text has no Chinese: %q", frame, e.MessageZH)
	}
	for _, s := range []string{e.MessageZH, e.MessageEN} {
		if i := strings.IndexByte(s, '{'); i >= 0 && strings.IndexByte(s[i:], '}') > 0 && !strings.Contains(s, `{"`) {
			t.Fatalf("frame %q: an unfilled parameter in %q", frame, s)
		}
	}
}

// clientData are the bodies of the client's messages, each decoded as the handlers decode it.
var clientData = []any{
	&JoinData{}, &ResumeData{}, &ICERestartData{}, &SDPData{}, &TrickleData{}, &TrackIDsData{},
	&TrackSettingsData{}, &MuteData{}, &TrackIDData{}, &AppointmentData{}, &EndHearingData{},
	&StageUnitData{}, &OnData{}, &FloorData{}, &SpeakersData{}, &HearingRecordData{}, &ConfirmRecordData{},
	&ParticipantData{},
}

// FuzzMessageRoundTrip: whatever the envelope and body decoders accept, encoding gives back
// bytes that decode to the same value (the Go client and the server speak one format).
func FuzzMessageRoundTrip(f *testing.F) {
	f.Add([]byte(`{"v":1,"type":"join","id":"1","re":"0","data":{"token":"abc","auto_subscribe":false}}`))
	f.Add([]byte(`{"v":1,"type":"trickle","data":{"target":"subscriber","candidate":{"candidate":"c","sdpMid":"0","sdpMLineIndex":0}}}`))
	f.Add([]byte(`{"v":1,"type":"track_settings","data":{"track_id":"TR","width":1,"height":2,"priority":3}}`))
	f.Add([]byte(`{"v":1,"type":"set_speakers","data":{"participant_ids":["甲","乙"]}}`))
	f.Add([]byte(`{"v":1,"type":"x","data":null}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var m Message
		if json.Unmarshal(b, &m) != nil {
			return
		}
		enc, err := json.Marshal(m)
		if err != nil {
			t.Fatalf("encode %+v: %v", m, err)
		}
		var again Message
		if err := json.Unmarshal(enc, &again); err != nil {
			t.Fatalf("re-decode %q: %v", enc, err)
		}
		if m.V != again.V || m.Type != again.Type || m.ID != again.ID || m.Re != again.Re || !sameJSON(m.Data, again.Data) {
			t.Fatalf("round trip changed %+v into %+v", m, again)
		}
		for _, proto := range clientData {
			v := reflect.New(reflect.TypeOf(proto).Elem()).Interface()
			if m.Decode(v) != nil {
				continue
			}
			enc, err := json.Marshal(v)
			if err != nil {
				t.Fatalf("encode %T: %v", v, err)
			}
			w := reflect.New(reflect.TypeOf(proto).Elem()).Interface()
			if err := json.Unmarshal(enc, w); err != nil {
				t.Fatalf("re-decode %T %q: %v", v, enc, err)
			}
			if !reflect.DeepEqual(v, w) {
				t.Fatalf("%T round trip: %+v became %+v", v, v, w)
			}
		}
	})
}

// sameJSON compares two raw JSON values by meaning: the encoder compacts a RawMessage and
// escapes <, > and & in its strings, which changes the bytes but not the value.
func sameJSON(a, b json.RawMessage) bool {
	if len(a) == 0 || len(b) == 0 {
		return len(a) == len(b)
	}
	var va, vb any
	if json.Unmarshal(a, &va) != nil || json.Unmarshal(b, &vb) != nil {
		return false
	}
	return reflect.DeepEqual(va, vb)
}

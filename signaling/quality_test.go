package signaling

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"go.uber.org/zap"

	"sanji/auth"
	"sanji/call"
	"sanji/scheduler/reception"
	"sanji/sfu"
)

// qualityExample is the example of docs/protocol.md (`quality`), as the event below becomes.
const qualityExample = `{"uplink":{"level":"poor","loss":0.12,"rtt_ms":180,"bitrate":240000},` +
	`"downlink":{"level":"good","loss":0,"rtt_ms":180,"bitrate":2500000},` +
	`"tracks":[{"track_id":"TR_5c0e","participant_id":"hall-7","layer":0,"top_layer":2,"lowered":true,"paused":false,"publisher_uplink":"fair"}]}`

func exampleQuality() sfu.EventQuality {
	return sfu.EventQuality{
		Uplink:   sfu.LinkQuality{Level: sfu.QualityPoor, Loss: 0.12, RTT: 180 * time.Millisecond, Bitrate: 240_000},
		Downlink: sfu.LinkQuality{Level: sfu.QualityGood, RTT: 180*time.Millisecond + 400*time.Microsecond, Bitrate: 2_500_000},
		Tracks: []sfu.TrackQuality{{TrackID: "TR_5c0e", ParticipantID: "hall-7", Layer: 0, TopLayer: 2, Lowered: true,
			PublisherUplink: sfu.QualityFair}},
	}
}

// bareSession is a joined session without a socket: what it sends stays in its queue.
func bareSession(t *testing.T, id string) *session {
	t.Helper()
	s := &session{srv: New(Config{}), id: id, out: make(chan outFrame, 16), done: make(chan struct{}), joinedSent: true}
	s.log.Store(zap.NewNop())
	return s
}

// queued returns the messages s has queued so far.
func queued(t *testing.T, s *session) []Message {
	t.Helper()
	var out []Message
	for {
		select {
		case f := <-s.out:
			var m Message
			if err := json.Unmarshal(f.data, &m); err != nil {
				t.Fatalf("queued frame %q: %v", f.data, err)
			}
			out = append(out, m)
		default:
			return out
		}
	}
}

func TestQualityEventReachesTheClientOnceUntilItChanges(t *testing.T) {
	s := bareSession(t, "studio-1")

	s.onEvent(exampleQuality())
	got := queued(t, s)
	if len(got) != 1 || got[0].Type != TypeQuality || got[0].Re != "" {
		t.Fatalf("after one quality event the client got %+v, want one unsolicited quality", got)
	}
	if string(got[0].Data) != qualityExample {
		t.Errorf("quality data\n got %s\nwant %s", got[0].Data, qualityExample)
	}

	// The same grades with other numbers, at once: nothing new to say.
	same := exampleQuality()
	same.Uplink.Loss, same.Downlink.RTT, same.Downlink.Bitrate = 0.14, 210*time.Millisecond, 2_400_000
	s.onEvent(same)
	s.onEvent(exampleQuality())
	if got := queued(t, s); len(got) != 0 {
		t.Fatalf("an unchanged quality was sent again at once: %s", got[0].Data)
	}

	// The video is paused now: that goes out.
	paused := exampleQuality()
	paused.Tracks[0].Paused, paused.Tracks[0].Layer = true, -1
	s.onEvent(paused)
	got = queued(t, s)
	if len(got) != 1 || got[0].Type != TypeQuality {
		t.Fatalf("a paused track was not reported: %+v", got)
	}
	var d QualityData
	if err := got[0].Decode(&d); err != nil {
		t.Fatal(err)
	}
	if len(d.Tracks) != 1 || !d.Tracks[0].Paused || d.Tracks[0].Layer != -1 {
		t.Errorf("reported tracks %+v, want the paused one", d.Tracks)
	}
}

func TestQualityNotBeforeJoined(t *testing.T) {
	s := bareSession(t, "p1")
	s.joinedSent = false
	s.onEvent(exampleQuality())
	if got := queued(t, s); len(got) != 0 {
		t.Fatalf("quality before joined: %+v", got)
	}
	// Dropped, not remembered: the first report after `joined` goes out.
	s.joinedSent = true
	s.onEvent(exampleQuality())
	if got := queued(t, s); len(got) != 1 {
		t.Fatalf("first quality after joined: %+v", got)
	}
}

func TestQualityGate(t *testing.T) {
	var g qualityGate
	t0 := time.Unix(1_700_000_000, 0)
	base := QualityData{
		Uplink:   LinkQuality{Level: "good", Loss: 0.01},
		Downlink: LinkQuality{Level: "good"},
		Tracks:   []TrackQuality{{TrackID: "a", ParticipantID: "p", Layer: 2, TopLayer: 2, PublisherUplink: "good"}},
	}
	with := func(f func(*QualityData)) QualityData {
		d := base
		d.Tracks = append([]TrackQuality(nil), base.Tracks...)
		f(&d)
		return d
	}
	steps := []struct {
		name string
		at   time.Duration
		d    QualityData
		want bool
	}{
		{"first", 0, base, true},
		{"unchanged", 2 * time.Second, base, false},
		{"numbers only", 4 * time.Second, with(func(d *QualityData) { d.Uplink.Loss, d.Uplink.RTTMs, d.Downlink.Bitrate = 0.018, 90, 1e6 }), false},
		{"uplink level", 6 * time.Second, with(func(d *QualityData) { d.Uplink.Level = "fair" }), true},
		{"back to good", 8 * time.Second, base, true},
		{"lowered", 8 * time.Second, with(func(d *QualityData) { d.Tracks[0].Lowered, d.Tracks[0].Layer = true, 0 }), true},
		{"lowered again", 10 * time.Second, with(func(d *QualityData) { d.Tracks[0].Lowered, d.Tracks[0].Layer = true, 0 }), false},
		{"publisher uplink", 12 * time.Second, with(func(d *QualityData) { d.Tracks[0].PublisherUplink = "poor" }), true},
		{"track gone", 14 * time.Second, with(func(d *QualityData) { d.Tracks = nil }), true},
		{"still gone", 16 * time.Second, with(func(d *QualityData) { d.Tracks = []TrackQuality{} }), false},
		{"refresh after 10 s", 24 * time.Second, with(func(d *QualityData) { d.Tracks = nil }), true},
		{"not before the next 10 s", 33 * time.Second, with(func(d *QualityData) { d.Tracks = nil }), false},
	}
	for _, st := range steps {
		if got := g.admit(st.d, t0.Add(st.at)); got != st.want {
			t.Errorf("%s (at %v): admit = %v, want %v", st.name, st.at, got, st.want)
		}
	}
}

func TestQualityTrackOrderIsNoChange(t *testing.T) {
	s := bareSession(t, "p1")
	e := sfu.EventQuality{Tracks: []sfu.TrackQuality{{TrackID: "b", ParticipantID: "x"}, {TrackID: "a", ParticipantID: "y"}}}
	s.onEvent(e)
	e.Tracks[0], e.Tracks[1] = e.Tracks[1], e.Tracks[0]
	s.onEvent(e)
	got := queued(t, s)
	if len(got) != 1 {
		t.Fatalf("the same tracks in another order were sent again: %d messages", len(got))
	}
	var d QualityData
	if err := got[0].Decode(&d); err != nil {
		t.Fatal(err)
	}
	if len(d.Tracks) != 2 || d.Tracks[0].TrackID != "a" || d.Tracks[1].TrackID != "b" {
		t.Errorf("tracks %+v, want sorted by id", d.Tracks)
	}
}

// In a reception call a waiting hall never learns of the hearing's video, even from a report the
// SFU made in the instant before the stage changed.
func TestQualityKeepsToTheCallPolicy(t *testing.T) {
	calls := call.New(call.Config{Backend: stageBackend{hall: 1}})
	seat := func(s *session, st call.Seat) *session {
		s.seat, s.userID = st, 1
		k, err := calls.Enter(1, 1, s)
		if err != nil {
			t.Fatal(err)
		}
		s.call = k
		return s
	}
	studio := seat(bareSession(t, "studio"), call.Seat{Kind: auth.SeatStudio})
	seat(bareSession(t, "hall-1"), call.Seat{Kind: auth.SeatHall, Hall: 1}) // on stage
	waiting := seat(bareSession(t, "hall-2"), call.Seat{Kind: auth.SeatHall, Hall: 2})
	waiting.onEvent(sfu.EventQuality{
		Downlink: sfu.LinkQuality{Level: sfu.QualityGood},
		Tracks: []sfu.TrackQuality{
			{TrackID: "TR_hall1", ParticipantID: "hall-1", Layer: 0, TopLayer: 2, Lowered: true},
			{TrackID: "TR_studio", ParticipantID: "studio", Layer: 0, TopLayer: 2},
		},
	})
	got := queued(t, waiting)
	if len(got) != 1 {
		t.Fatalf("got %d messages, want one quality", len(got))
	}
	var d QualityData
	if err := got[0].Decode(&d); err != nil {
		t.Fatal(err)
	}
	if len(d.Tracks) != 0 {
		t.Errorf("a waiting hall was told of tracks %+v", d.Tracks)
	}

	studio.onEvent(sfu.EventQuality{Tracks: []sfu.TrackQuality{{TrackID: "TR_hall1", ParticipantID: "hall-1", Lowered: true}}})
	got = queued(t, studio)
	if len(got) != 1 {
		t.Fatalf("studio got %d messages, want one quality", len(got))
	}
	if err := got[0].Decode(&d); err != nil {
		t.Fatal(err)
	}
	if len(d.Tracks) != 1 || d.Tracks[0].ParticipantID != "hall-1" {
		t.Errorf("the studio's report lost the stage hall's track: %+v", d.Tracks)
	}
}

// stageBackend is a scheduler whose session 1 has a hearing under way at a hall: a call loaded
// from it resumes that hearing.
type stageBackend struct{ hall int64 }

func (b stageBackend) Roster(context.Context, int64) (reception.CallRoster, error) {
	return reception.CallRoster{}, nil
}

func (b stageBackend) Queue(context.Context, int64) ([]reception.Appointment, error) {
	return []reception.Appointment{{ID: 1, HallID: b.hall, Status: reception.ApptCheckedIn, HeardAt: time.Now()}}, nil
}

func (b stageBackend) UnitName(context.Context, int64) (string, error) { return "", nil }

func (b stageBackend) StartHearing(context.Context, int64, int64, int64) (reception.HearingCase, error) {
	return reception.HearingCase{CaseID: 1}, nil
}

func (b stageBackend) EndHearing(context.Context, int64, string, string, int64) error { return nil }
func (b stageBackend) NoShow(context.Context, int64, int64) error                     { return nil }

func (b stageBackend) CasePanel(context.Context, int64, int64, int64) (json.RawMessage, error) {
	return nil, nil
}

func (b stageBackend) ObserverPanel(context.Context, int64, int64) (json.RawMessage, error) {
	return nil, nil
}

func (b stageBackend) SaveHearingRecord(context.Context, reception.HearingRecord, int64) ([]int64, error) {
	return nil, nil
}

func (b stageBackend) CaseNote(context.Context, int64, string, string, string) error { return nil }

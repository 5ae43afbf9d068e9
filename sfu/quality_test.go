package sfu

import (
	"testing"
	"time"
)

// The uplink's loss is what the link lost, counted when packets first arrive: a repair that
// comes later fills the picture but does not hide the poor link from the people on the call.
func TestUplinkLossCountsWhatTheLinkLost(t *testing.T) {
	tr, _ := testTrack(t, time.Hour)
	p := &Participant{published: map[string]*publishedTrack{"v": tr}}
	key := vp8Frame(0, 0, true, 320, 240)
	feed(t, tr, 1, 0, key)
	if q := p.uplinkRound(); q.Level != QualityNone {
		t.Fatalf("first round %+v, want nothing to grade yet", q)
	}
	for i := uint16(2); i <= 101; i++ {
		if i%10 == 5 {
			continue // lost on the link
		}
		feed(t, tr, i, uint32(i)*3000, vp8Frame(i, 0, false, 0, 0))
	}
	feed(t, tr, 5, 5*3000, vp8Frame(5, 0, false, 0, 0)) // repaired late
	q := p.uplinkRound()
	if q.Loss != 0.1 || q.Level != QualityPoor {
		t.Fatalf("uplink %+v, want 10 %% loss (10 of 100 lost on the link), poor", q)
	}
	for i := uint16(102); i <= 201; i++ {
		feed(t, tr, i, uint32(i)*3000, vp8Frame(i, 0, false, 0, 0))
	}
	if q := p.uplinkRound(); q.Loss != 0 || q.Level != QualityGood {
		t.Fatalf("clean uplink %+v, want good", q)
	}
	if grade(0.03, false, false) != QualityFair || grade(0, true, false) != QualityFair || grade(0, false, true) != QualityPoor {
		t.Fatal("grades: 3 % loss and a lowered picture are fair, a paused one poor")
	}
}

// Each participant is told how each video it receives is delivered, with the publisher's uplink
// grade; a paused video makes its downlink poor, and the round's counts feed the metrics.
func TestQualityReportNamesPausedVideo(t *testing.T) {
	tr, _ := testTrack(t, time.Hour)
	tr.info.ParticipantID = "hall"
	hall := &Participant{id: "hall", published: map[string]*publishedTrack{"v": tr}, subs: map[string]*subscription{}}
	feed(t, tr, 1, 0, vp8Frame(0, 0, true, 320, 240))
	hall.uplinkRound()
	for i := uint16(2); i <= 41; i++ {
		if i%4 != 0 { // a quarter lost on the hall's uplink
			feed(t, tr, i, uint32(i)*3000, vp8Frame(i, 0, false, 0, 0))
		}
	}
	var got []EventQuality
	leader := &Participant{id: "leader", published: map[string]*publishedTrack{}, subs: map[string]*subscription{},
		sink: EventSinkFunc(func(e Event) {
			if q, ok := e.(EventQuality); ok {
				got = append(got, q)
			}
		})}
	d, _ := bindDown(t, tr, false)
	d.streamID = "hall"
	d.paused.Store(true)
	leader.subs[tr.info.ID] = &subscription{down: d}
	hall.sink = EventSinkFunc(func(Event) {})
	c := (&Room{}).reportQuality([]*Participant{hall, leader})
	if c.paused != 1 || c.poor != 2 {
		t.Fatalf("counts %+v, want 1 paused video and 2 poor links (the hall's uplink, the leader's downlink)", c)
	}
	if len(got) != 1 || len(got[0].Tracks) != 1 {
		t.Fatalf("the leader got %+v", got)
	}
	q := got[0]
	if tq := q.Tracks[0]; !tq.Paused || tq.ParticipantID != "hall" || tq.PublisherUplink != QualityPoor || q.Downlink.Level != QualityPoor {
		t.Fatalf("the leader's report %+v, want the hall's video paused, its uplink poor, the downlink poor", q)
	}
}

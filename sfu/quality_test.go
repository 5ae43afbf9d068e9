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

package signaling_test

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"sanji/sfu"
	"sanji/signaling"
)

// The SFU's quality report reaches the client over the socket as docs/protocol.md shows it, and
// an unchanged report is not sent again at once. The events are handed to the session directly:
// the test must not wait for the SFU to grade a link.
func TestQualityOverTheSocket(t *testing.T) {
	e := newEnv(t, nil)
	c := e.dialRaw()
	c.join(e.token("q", "studio-1", "leader", time.Minute), false)

	ev := sfu.EventQuality{
		Uplink:   sfu.LinkQuality{Level: sfu.QualityPoor, Loss: 0.12, RTT: 180 * time.Millisecond, Bitrate: 240_000},
		Downlink: sfu.LinkQuality{Level: sfu.QualityGood, RTT: 180 * time.Millisecond, Bitrate: 2_500_000},
		Tracks: []sfu.TrackQuality{{TrackID: "TR_5c0e", ParticipantID: "hall-7", Layer: 0, TopLayer: 2, Lowered: true,
			PublisherUplink: sfu.QualityFair}},
	}
	const want = `{"uplink":{"level":"poor","loss":0.12,"rtt_ms":180,"bitrate":240000},` +
		`"downlink":{"level":"good","loss":0,"rtt_ms":180,"bitrate":2500000},` +
		`"tracks":[{"track_id":"TR_5c0e","participant_id":"hall-7","layer":0,"top_layer":2,"lowered":true,"paused":false,"publisher_uplink":"fair"}]}`
	for range 3 {
		if !e.srv.DeliverEvent("q", "studio-1", ev) {
			t.Fatal("the joined participant has no session")
		}
	}
	// Everything the server queued before the pong came before it.
	c.send(signaling.TypePing, "after", struct{}{})
	var seen []signaling.Message
	for {
		m := c.next()
		if m.Type == signaling.TypePong && m.Re == "after" {
			break
		}
		seen = append(seen, m)
	}

	// The SFU may grade this link on its own meanwhile (nothing sent, nothing received): its
	// reports may come between ours, but ours never twice in a row.
	var ours, prevOurs int
	prev := false
	for _, m := range seen {
		if m.Type != signaling.TypeQuality {
			continue
		}
		var buf bytes.Buffer
		if err := json.Compact(&buf, m.Data); err != nil {
			t.Fatal(err)
		}
		mine := buf.String() == want
		if mine {
			ours++
			if prev {
				prevOurs++
			}
		}
		prev = mine
	}
	if ours == 0 {
		t.Fatalf("no quality message with data %s", want)
	}
	if prevOurs > 0 {
		t.Errorf("an unchanged quality was sent again at once (%d times)", prevOurs)
	}
}

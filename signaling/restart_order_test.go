package signaling_test

import (
	"encoding/json"
	"testing"

	"github.com/pion/webrtc/v4"

	"sanji/signaling"
)

// TestPublisherRestartAnswerPrecedesItsCandidates: after an ICE restart of the publisher, the
// server's answer reaches the client before the candidates gathered for it, as the first
// answer's always did. Only the first answer's were held back: a restart's went out ahead of
// it, to a client that applied them to the old credentials and dropped them; with the client's
// own early candidate dropped at the server the same way, neither end checked and the
// restarted connection stayed down (the firewall matrix's 60 s outage, about one run in three).
func TestPublisherRestartAnswerPrecedesItsCandidates(t *testing.T) {
	e := newEnv(t, nil)
	p := e.connect(t, "restart", "a")
	p.publish()
	connected := func() bool {
		pub, _ := p.c.ConnectionStates()
		return pub == webrtc.PeerConnectionStateConnected
	}
	eventually(t, "the publisher connected", connected)
	for round := range 3 {
		mark := p.inbox.len()
		if err := p.c.RestartPublisherICE(); err != nil {
			t.Fatalf("restart %d: %v", round+1, err)
		}
		p.inbox.mu.Lock()
		msgs := append([]signaling.Message(nil), p.inbox.msgs[mark:]...)
		p.inbox.mu.Unlock()
		answered := false
		for _, m := range msgs {
			switch m.Type {
			case signaling.TypePublishAnswer:
				answered = true
			case signaling.TypeTrickle:
				var d signaling.TrickleData
				if err := json.Unmarshal(m.Data, &d); err != nil {
					t.Fatal(err)
				}
				if d.Target == signaling.TargetPublisher && d.Candidate != nil && !answered {
					t.Fatalf("restart %d: the publisher candidate %q reached the client before the answer it belongs to", round+1, d.Candidate.Candidate)
				}
			}
		}
		if !answered {
			t.Fatalf("restart %d: no answer", round+1)
		}
		eventually(t, "the restarted publisher connected", connected)
	}
}

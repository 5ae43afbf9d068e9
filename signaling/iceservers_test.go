package signaling_test

import (
	"strings"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"sanji/auth"
	"sanji/signaling"
)

// TestJoinedICEServersPerParticipant: `joined` carries the configured servers and then those made
// for this participant, from the host the client used.
func TestJoinedICEServersPerParticipant(t *testing.T) {
	var gotHost, gotID string
	e := newEnv(t, func(c *signaling.Config) {
		c.ICEServers = []webrtc.ICEServer{{URLs: []string{"turn:coturn.example:3478"}, Username: "u", Credential: "p"}}
		c.ICEServersFor = func(id, host string) []webrtc.ICEServer {
			gotID, gotHost = id, host
			return []webrtc.ICEServer{{URLs: []string{"turns:" + host + "?transport=tcp"}, Username: "exp:" + id, Credential: "c"}}
		}
	})
	r := e.dialRaw()
	j := r.join(e.token("room", "hall-1", auth.RoleObserver, time.Minute), false)
	if len(j.ICEServers) != 2 || j.ICEServers[0].URLs[0] != "turn:coturn.example:3478" {
		t.Fatalf("ice servers %+v", j.ICEServers)
	}
	host := strings.TrimPrefix(e.http.URL, "http://")
	if gotHost != host || gotID != j.Participant.ID || j.ICEServers[1].Username != "exp:"+j.Participant.ID {
		t.Fatalf("made for %q at %q, got %+v; want %q at %q", gotID, gotHost, j.ICEServers[1], j.Participant.ID, host)
	}
}

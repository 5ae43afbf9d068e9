package signaling

import (
	"github.com/pion/webrtc/v4"

	"sanji/auth"
	"sanji/call"
	"sanji/sfu"
)

// Media is a participant's media as a session drives it: an *sfu.Participant of this node's SFU,
// or, in a cascade, the participant's media on the node nearest it (package cascade), whose
// events come back to the session's sink just the same.
type Media interface {
	Publish(offerSDP string) (string, error)
	SetSubscriberAnswer(sdp string) error
	AddICECandidate(t sfu.Target, c webrtc.ICECandidateInit) error
	Subscribe(trackIDs ...string) error
	Unsubscribe(trackIDs ...string) error
	SetTrackSettings(trackID string, s sfu.TrackSettings) error
	SetMuted(trackID string, muted bool) error
	Unpublish(trackID string) error
	RestartICE() bool
	ResendOffer() bool
	Close(reason string)
}

var _ Media = (*sfu.Participant)(nil)

// Cascade puts the media of a call's participants on the nodes nearest them while the call, its
// roster and its rules stay on this node, the owner (package cascade; docs/architecture.md,
// "Cascade").
type Cascade interface {
	// MediaNode names the node that should hold the media of the participant of c; "" (or this
	// node's name) holds it here.
	MediaNode(c auth.Claims) string
	// Join seats the participant's media on node. pol is the call's policy (nil in an ordinary
	// room): the node applies it to its own participants, this node to what it relays there.
	Join(node, room, participantID string, sink sfu.EventSink, pol *call.Policy) (Media, error)
	// Enforce sends a call's newer policy to every node holding media of its room.
	Enforce(room string, snap *call.Snapshot)
}

package cascade

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/pion/webrtc/v4"

	"sanji/sfu"
)

// Remote is the owner's handle of a participant whose media another node holds: the same
// commands as an *sfu.Participant (signaling.Media), sent over the link and answered there.
type Remote struct {
	hub            *Hub
	link           *link
	node, room, id string
	sink           sfu.EventSink
	gone           atomic.Bool // EventClosed went to sink (or the Remote was replaced)
}

// Node is the node holding the media.
func (r *Remote) Node() string { return r.node }

func (r *Remote) do(op string, in, out any) error {
	if r.gone.Load() {
		return sfu.ErrClosed
	}
	l := r.hub.current(r.node)
	if l == nil {
		return ErrLink
	}
	return l.request(r.hub.ctx, r.room, r.id, op, in, out)
}

// Publish implements signaling.Media.
func (r *Remote) Publish(offerSDP string) (string, error) {
	var out sdpData
	err := r.do(opPublish, sdpData{SDP: offerSDP}, &out)
	return out.SDP, err
}

// SetSubscriberAnswer implements signaling.Media.
func (r *Remote) SetSubscriberAnswer(sdp string) error {
	return r.do(opAnswer, sdpData{SDP: sdp}, nil)
}

// AddICECandidate implements signaling.Media.
func (r *Remote) AddICECandidate(t sfu.Target, c webrtc.ICECandidateInit) error {
	return r.do(opCandidate, candidateData{Target: t, Candidate: c}, nil)
}

// Subscribe implements signaling.Media.
func (r *Remote) Subscribe(trackIDs ...string) error {
	return r.do(opSubscribe, tracksData{IDs: trackIDs}, nil)
}

// Unsubscribe implements signaling.Media.
func (r *Remote) Unsubscribe(trackIDs ...string) error {
	return r.do(opUnsubscribe, tracksData{IDs: trackIDs}, nil)
}

// SetTrackSettings implements signaling.Media.
func (r *Remote) SetTrackSettings(trackID string, s sfu.TrackSettings) error {
	return r.do(opSettings, settingsData{Track: trackID, Settings: s}, nil)
}

// SetMuted implements signaling.Media.
func (r *Remote) SetMuted(trackID string, muted bool) error {
	return r.do(opMute, muteData{Track: trackID, Muted: muted}, nil)
}

// Unpublish implements signaling.Media.
func (r *Remote) Unpublish(trackID string) error {
	return r.do(opUnpublish, trackData{Track: trackID}, nil)
}

// RestartICE implements signaling.Media.
func (r *Remote) RestartICE() bool {
	var out okData
	return r.do(opRestartICE, struct{}{}, &out) == nil && out.OK
}

// ResendOffer implements signaling.Media.
func (r *Remote) ResendOffer() bool {
	var out okData
	return r.do(opResendOffer, struct{}{}, &out) == nil && out.OK
}

// closeWait bounds how long Close waits for the holder: the session ending must not hang on a
// slow link (the holder drops the participant with the link anyway).
const closeWait = 2 * time.Second

// Close implements signaling.Media: the media leaves the holding node.
func (r *Remote) Close(reason string) {
	if r.gone.Swap(true) {
		r.hub.forget(r)
		return
	}
	ctx, cancel := context.WithTimeout(r.hub.ctx, closeWait)
	defer cancel()
	if l := r.hub.current(r.node); l != nil {
		_ = l.request(ctx, r.room, r.id, opClose, closeData{Reason: reason}, nil)
	}
	r.hub.forget(r)
	r.sink.OnEvent(sfu.EventClosed{Reason: reason})
}

package cascade

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"

	"github.com/pion/webrtc/v4"

	"sanji/sfu"
)

// frame is one message on a link.
type frame struct {
	T    string          `json:"t"`              // one of the frame* kinds
	ID   uint64          `json:"id,omitempty"`   // a request's number, echoed by its result
	Room string          `json:"room,omitempty"` // the call's room
	P    string          `json:"p,omitempty"`    // the participant
	Op   string          `json:"op,omitempty"`   // a request's command, an event's type
	Data json.RawMessage `json:"data,omitempty"`
	Err  string          `json:"err,omitempty"` // a failed request's code (errCodes)
	Msg  string          `json:"msg,omitempty"` // and its detail, for logs
}

const (
	frameReq        = "req"         // owner → node: a command for a participant held there
	frameRes        = "res"         // its result
	frameEvent      = "ev"          // node → owner: an SFU event of a participant held there
	framePolicy     = "policy"      // owner → node: the call's policy now
	frameRelay      = "relay"       // either way: a message of the room's media relay
	frameRelayClose = "relay_close" // owner → node: no participant of the room is held there now
)

// Commands (frame.Op of a request).
const (
	opJoin        = "join"
	opPublish     = "publish"
	opAnswer      = "answer"
	opCandidate   = "candidate"
	opSubscribe   = "subscribe"
	opUnsubscribe = "unsubscribe"
	opSettings    = "settings"
	opMute        = "mute"
	opUnpublish   = "unpublish"
	opRestartICE  = "restart_ice"
	opResendOffer = "resend_offer"
	opClose       = "close"
)

type joinData struct {
	Policy json.RawMessage `json:"policy,omitempty"` // a call's *call.Snapshot; none in an ordinary room
}

type sdpData struct {
	SDP string `json:"sdp"`
}

type candidateData struct {
	Target    sfu.Target              `json:"target"`
	Candidate webrtc.ICECandidateInit `json:"candidate"`
}

type tracksData struct {
	IDs []string `json:"ids"`
}

type settingsData struct {
	Track    string            `json:"track"`
	Settings sfu.TrackSettings `json:"settings"`
}

type muteData struct {
	Track string `json:"track"`
	Muted bool   `json:"muted"`
}

type trackData struct {
	Track string `json:"track"`
}

type okData struct {
	OK bool `json:"ok"`
}

type closeData struct {
	Reason string `json:"reason"`
}

// errCodes name the SFU's errors on the wire, so the owner's session maps them to the protocol's
// codes exactly as for local media.
var errCodes = []struct {
	code string
	err  error
}{
	{"closed", sfu.ErrClosed},
	{"duplicate", sfu.ErrDuplicate},
	{"bad_sdp", sfu.ErrBadSDP},
	{"codec", sfu.ErrUnsupportedCodec},
	{"not_found", sfu.ErrTrackNotFound},
	{"forbidden", sfu.ErrForbidden},
	{"state", sfu.ErrWrongState},
}

// ErrLink is a command that could not reach the node holding the participant's media, or got no
// answer in time.
var ErrLink = errors.New("cascade: no link to the node holding the media")

func errCode(err error) string {
	for _, c := range errCodes {
		if errors.Is(err, c.err) {
			return c.code
		}
	}
	return "internal"
}

func codeErr(code, msg string) error {
	for _, c := range errCodes {
		if c.code == code {
			return fmt.Errorf("%w (on the media node: %s)", c.err, msg)
		}
	}
	return fmt.Errorf("cascade: media node: %s", msg)
}

// evLinkClosed is the reason of the EventClosed a Remote gets when its link ends for good.
const evLinkClosed = "link_lost"

// eventTypes decode the SFU's events by their type's name, which is an event frame's op: both
// nodes run the same build of package sfu (a cluster's nodes share a version).
var eventTypes = map[string]func([]byte) (sfu.Event, error){}

func registerEvent[E sfu.Event]() {
	var e E
	eventTypes[reflect.TypeOf(e).Name()] = func(data []byte) (sfu.Event, error) {
		var e E
		err := json.Unmarshal(data, &e)
		return e, err
	}
}

func init() {
	registerEvent[sfu.EventICECandidate]()
	registerEvent[sfu.EventSubscriberOffer]()
	registerEvent[sfu.EventTrackPublished]()
	registerEvent[sfu.EventTrackUnpublished]()
	registerEvent[sfu.EventSubscriptionEnded]()
	registerEvent[sfu.EventConnectionState]()
	registerEvent[sfu.EventActiveSpeaker]()
	registerEvent[sfu.EventLayersPaused]()
	registerEvent[sfu.EventQuality]()
	registerEvent[sfu.EventClosed]()
}

// encodeEvent is an SFU event on the wire; ok is false for an event the owner has no use for.
func encodeEvent(e sfu.Event) (op string, data []byte, ok bool) {
	op = reflect.TypeOf(e).Name()
	if eventTypes[op] == nil {
		return "", nil, false
	}
	data, err := json.Marshal(e)
	return op, data, err == nil
}

// decodeEvent is the SFU event of an event frame.
func decodeEvent(op string, data []byte) (sfu.Event, error) {
	if dec := eventTypes[op]; dec != nil {
		return dec(data)
	}
	return nil, fmt.Errorf("cascade: unknown event %q", op)
}

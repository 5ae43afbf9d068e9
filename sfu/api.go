package sfu

import (
	"errors"
	"net"
	"time"

	"github.com/pion/transport/v5"
	"github.com/pion/webrtc/v4"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
)

// Config sets up the media plane. The zero value of every field has a usable default.
type Config struct {
	// ListenIP is the address the ICE UDP and TCP sockets bind to (default 127.0.0.1).
	ListenIP string
	// UDPPort is the one UDP port that carries all ICE traffic (0 = pick a free port).
	UDPPort int
	// TCPPort is the one ICE-TCP port (0 = pick a free port, -1 = ICE-TCP off).
	TCPPort int
	// TCPListener, when set, carries ICE-TCP instead of TCPPort: the connections the one-port
	// listener recognised as ICE-TCP (RFC 4571 framing). The SFU closes it on Close.
	TCPListener net.Listener
	// PublicIPs replace the host candidates' address, for a server behind 1:1 NAT.
	PublicIPs []string
	// RelayPorts, when both are set, bound the UDP ports of relay connections between nodes
	// (each takes one port of its own, two per relay), so a firewall between nodes can name
	// them; zero: any ephemeral port.
	RelayPortMin, RelayPortMax uint16
	// LoopbackOnly limits candidates to 127.0.0.0/8 and ::1 (tests, and `--listen 127.0.0.1`).
	LoopbackOnly bool
	// PacketBufferSize is how many recent packets each published video track keeps for NACKs (power
	// of two); audio, which is not NACKed, keeps at most 64.
	PacketBufferSize int
	// PLIThrottle is the shortest interval between two keyframe requests sent to one publisher track.
	PLIThrottle time.Duration
	// MaxDelay bounds the delay the SFU adds to a packet (default DefaultMaxDelay): what its
	// forwarding reaches later than this after the packet's arrival is dropped, not sent late.
	MaxDelay time.Duration
	Logger   *zap.Logger
	// Net replaces the operating system's network (pion's virtual network in tests of loss and
	// bandwidth); ICE-TCP is off then.
	Net transport.Net
	// Registerer receives the SFU's Prometheus metrics (nil = not registered).
	Registerer prometheus.Registerer
}

// Target names one of a participant's two PeerConnections.
type Target string

const (
	// TargetPublisher is the connection the client offers and sends media on.
	TargetPublisher Target = "publisher"
	// TargetSubscriber is the connection the server offers and delivers subscriptions on.
	TargetSubscriber Target = "subscriber"
)

// Kind is "audio" or "video".
type Kind string

const (
	KindAudio Kind = "audio"
	KindVideo Kind = "video"
)

// TrackInfo describes a published track.
type TrackInfo struct {
	ID            string
	ParticipantID string
	Kind          Kind
	Codec         string // MIME type, e.g. "video/VP8"
	Muted         bool
	// SourceID is the publisher's own id of the track (its msid track id, MediaStreamTrack.id in
	// a browser), so the publishing client can tell which of its tracks got which ID.
	SourceID string
	// Simulcast says the publisher sends several layers (RIDs) of this track.
	Simulcast bool
}

// TrackSettings are a subscriber's wishes for one track it receives.
type TrackSettings struct {
	// Width and Height are the size the client renders the track at (0 = no limit); the SFU
	// sends the smallest simulcast layer at least that large.
	Width, Height int
	// Priority orders video tracks when the subscriber's link cannot carry all of them at their
	// best layer: higher first (e.g. 2 stage speaker, 1 other stage, 0 thumbnail).
	Priority int
}

// Event is something the SFU tells the owner of a participant. Events are delivered by calling
// EventSink.OnEvent from SFU goroutines; the sink must not block.
type Event interface{ isEvent() }

// EventSink receives a participant's events.
type EventSink interface {
	OnEvent(Event)
}

// EventSinkFunc adapts a function to EventSink.
type EventSinkFunc func(Event)

// OnEvent calls f(e).
func (f EventSinkFunc) OnEvent(e Event) { f(e) }

// EventICECandidate is a local ICE candidate for one of the participant's connections.
// Candidate is nil when gathering is complete.
type EventICECandidate struct {
	Target    Target
	Candidate *webrtc.ICECandidateInit
}

// EventSubscriberOffer carries an offer for the subscriber connection; answer it with
// Participant.SetSubscriberAnswer.
type EventSubscriberOffer struct{ SDP string }

// EventTrackPublished says one of this participant's tracks is now live in the room.
type EventTrackPublished struct{ Track TrackInfo }

// EventTrackUnpublished says one of this participant's tracks has ended.
type EventTrackUnpublished struct{ Track TrackInfo }

// EventSubscriptionEnded says a track this participant received is gone (its publisher left or
// unpublished it, or the policy no longer allows it).
type EventSubscriptionEnded struct{ TrackID string }

// EventConnectionState reports a PeerConnection state change ("connected", "failed", ...).
type EventConnectionState struct {
	Target Target
	State  string
}

// EventActiveSpeaker names the room's active speaker ("" when nobody speaks); every participant
// of the room gets it when it changes.
type EventActiveSpeaker struct{ ParticipantID string }

// EventLayersPaused tells a publisher which simulcast layers (RIDs) of its track no subscriber
// takes, so that it can stop encoding and sending them (dynacast), and resume the others. It
// comes when the set changes.
type EventLayersPaused struct {
	TrackID string
	RIDs    []string
}

// EventQuality tells a participant, every QualityInterval, how its links fare as the SFU sees
// them, and how each video it receives is being delivered: so that a lowered or paused picture is
// never silent. Tracks lists only what the participant receives (the room's policy already
// allowed each), with the publisher's uplink level, so a client can say whose link is poor.
type EventQuality struct {
	Uplink   LinkQuality // what this participant sends to the SFU; zero when it publishes nothing
	Downlink LinkQuality // what the SFU sends to this participant
	Tracks   []TrackQuality
}

// QualityInterval is how often EventQuality comes.
const QualityInterval = 2 * time.Second

// QualityLevel grades a link.
type QualityLevel string

const (
	QualityGood QualityLevel = "good" // loss under 2 %, no congestion
	QualityFair QualityLevel = "fair" // loss under 10 %, or congestion that lowered a layer
	QualityPoor QualityLevel = "poor" // loss of 10 % or more, or video paused for bandwidth
	// QualityNone: no media yet in that direction, nothing to grade.
	QualityNone QualityLevel = ""
)

// LinkQuality is one direction of a participant's media link.
type LinkQuality struct {
	Level QualityLevel
	// Loss is the share of packets lost on this link over the last interval, 0..1: for the
	// uplink the publisher's packets that never reached the SFU (before repair), for the downlink
	// the packets the SFU sent that the receiver reported lost (its feedback, not upstream holes).
	Loss float64
	// RTT is the round trip between the SFU and the participant (ICE consent checks), 0 = unknown.
	RTT time.Duration
	// Bitrate: for the uplink what arrives, for the downlink the SFU's estimate of what the link
	// carries (0 = no limit known yet).
	Bitrate int64
}

// TrackQuality is how one received video track is delivered to this participant.
type TrackQuality struct {
	TrackID, ParticipantID string
	// Layer is the simulcast layer being forwarded (0 = lowest, -1 = none yet), TopLayer the best
	// the publisher offers.
	Layer, TopLayer int
	// Lowered: a lower layer than the subscriber asked for, because of bandwidth.
	Lowered bool
	// Paused: no video at all for bandwidth (the receiver's own link cannot carry the lowest
	// layer); audio goes on.
	Paused bool
	// PublisherUplink is the level of the publisher's own uplink (a poor township link shows here).
	PublisherUplink QualityLevel
}

// EventClosed is the last event of a participant.
type EventClosed struct{ Reason string }

func (EventICECandidate) isEvent()      {}
func (EventSubscriberOffer) isEvent()   {}
func (EventTrackPublished) isEvent()    {}
func (EventTrackUnpublished) isEvent()  {}
func (EventSubscriptionEnded) isEvent() {}
func (EventConnectionState) isEvent()   {}
func (EventClosed) isEvent()            {}
func (EventActiveSpeaker) isEvent()     {}
func (EventLayersPaused) isEvent()      {}
func (EventQuality) isEvent()           {}

// Policy decides whether a subscriber may receive a track. The SFU asks it on every subscription
// and again for existing subscriptions when Room.SetPolicy is called.
type Policy interface {
	Allow(subscriberID string, track TrackInfo) bool
}

// AllowAll is the policy of an ordinary room: everyone may receive everything.
type AllowAll struct{}

// Allow returns true.
func (AllowAll) Allow(string, TrackInfo) bool { return true }

// Errors returned by the SFU; callers map them to protocol error codes with errors.Is.
var (
	ErrClosed           = errors.New("sfu: closed")
	ErrDuplicate        = errors.New("sfu: participant already in room")
	ErrBadSDP           = errors.New("sfu: bad session description")
	ErrUnsupportedCodec = errors.New("sfu: no supported codec offered")
	ErrTrackNotFound    = errors.New("sfu: track not found")
	ErrForbidden        = errors.New("sfu: not allowed by policy")
	ErrWrongState       = errors.New("sfu: wrong negotiation state")
)

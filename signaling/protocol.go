package signaling

import (
	"encoding/json"
	"fmt"

	"github.com/pion/webrtc/v4"
)

// The wire form of docs/protocol.md v1. These types are exported so that the Go client (package
// client) speaks exactly what the server speaks.

// Version is the protocol version every message carries in `v`.
const Version = 1

// Message is the envelope of every frame.
type Message struct {
	V    int             `json:"v"`
	Type string          `json:"type"`
	ID   string          `json:"id,omitempty"`
	Re   string          `json:"re,omitempty"`
	Data json.RawMessage `json:"data,omitempty"`
}

// Decode unmarshals the message's data into v.
func (m Message) Decode(v any) error {
	if len(m.Data) == 0 {
		return nil
	}
	if err := json.Unmarshal(m.Data, v); err != nil {
		return fmt.Errorf("decode %s data: %w", m.Type, err)
	}
	return nil
}

// Message types, client to server.
const (
	TypeJoin            = "join"
	TypePublishOffer    = "publish_offer"
	TypeSubscribeAnswer = "subscribe_answer"
	TypeTrickle         = "trickle"
	TypeSubscribe       = "subscribe"
	TypeUnsubscribe     = "unsubscribe"
	TypeMute            = "mute"
	TypeTrackSettings   = "track_settings"
	TypeUnpublish       = "unpublish"
	TypeLeave           = "leave"
	TypePing            = "ping"
)

// Message types, server to client (TypeTrickle goes both ways).
const (
	TypeJoined            = "joined"
	TypePublishAnswer     = "publish_answer"
	TypeSubscribeOffer    = "subscribe_offer"
	TypeSubscribed        = "subscribed"
	TypeUnsubscribed      = "unsubscribed"
	TypeMuted             = "muted"
	TypeUnpublished       = "unpublished"
	TypeParticipantJoined = "participant_joined"
	TypeParticipantLeft   = "participant_left"
	TypeTrackPublished    = "track_published"
	TypeTrackUnpublished  = "track_unpublished"
	TypeTrackMuted        = "track_muted"
	TypeConnectionState   = "connection_state"
	TypeActiveSpeaker     = "active_speaker"
	TypeTrackSettingsOK   = "track_settings_applied"
	TypeLayers            = "layers"
	TypePong              = "pong"
	TypeError             = "error"
	TypeBye               = "bye"
)

// Targets of trickle and connection_state.
const (
	TargetPublisher  = "publisher"
	TargetSubscriber = "subscriber"
)

// JoinData is the body of `join`. A nil AutoSubscribe means true.
type JoinData struct {
	Token         string `json:"token"`
	AutoSubscribe *bool  `json:"auto_subscribe,omitempty"`
}

// JoinedData is the body of `joined`.
type JoinedData struct {
	Room         string             `json:"room"`
	Participant  Participant        `json:"participant"`
	Participants []Participant      `json:"participants"`
	ICEServers   []webrtc.ICEServer `json:"ice_servers"`
}

// Participant is a member of a room with its published tracks.
type Participant struct {
	ID     string  `json:"id"`
	Name   string  `json:"name"`
	Role   string  `json:"role"`
	Tracks []Track `json:"tracks"`
}

// Track is a published track.
type Track struct {
	ID            string `json:"id"`
	ParticipantID string `json:"participant_id"`
	Kind          string `json:"kind"`
	Codec         string `json:"codec"`
	Muted         bool   `json:"muted"`
	// SourceID is the publisher's own id of the track (MediaStreamTrack.id), so the publisher
	// can match the server's id to its track.
	SourceID string `json:"source_id,omitempty"`
	// Simulcast says the publisher sends several layers; the server picks one per receiver.
	Simulcast bool `json:"simulcast,omitempty"`
}

// SDPData is the body of publish_offer, publish_answer, subscribe_offer and subscribe_answer.
type SDPData struct {
	SDP string `json:"sdp"`
}

// TrickleData is the body of `trickle`; a nil Candidate ends the candidates.
type TrickleData struct {
	Target    string                   `json:"target"`
	Candidate *webrtc.ICECandidateInit `json:"candidate"`
}

// TrackIDsData is the body of subscribe, unsubscribe, subscribed and unsubscribed.
type TrackIDsData struct {
	TrackIDs []string `json:"track_ids"`
}

// TrackSettingsData is the body of track_settings: how the client shows a track it receives.
type TrackSettingsData struct {
	TrackID  string `json:"track_id"`
	Width    int    `json:"width"`
	Height   int    `json:"height"`
	Priority int    `json:"priority"`
}

// LayersData is the body of layers: the simulcast layers of the client's own track that nobody
// receives; the client may stop sending them, and should send all others.
type LayersData struct {
	TrackID string   `json:"track_id"`
	Paused  []string `json:"paused"`
}

// ActiveSpeakerData is the body of active_speaker.
type ActiveSpeakerData struct {
	ParticipantID string `json:"participant_id"`
}

// MuteData is the body of mute and muted.
type MuteData struct {
	TrackID string `json:"track_id"`
	Muted   bool   `json:"muted"`
}

// TrackIDData is the body of unpublish and unpublished.
type TrackIDData struct {
	TrackID string `json:"track_id"`
}

// ParticipantJoinedData is the body of participant_joined.
type ParticipantJoinedData struct {
	Participant Participant `json:"participant"`
}

// ParticipantLeftData is the body of participant_left.
type ParticipantLeftData struct {
	ParticipantID string `json:"participant_id"`
}

// TrackPublishedData is the body of track_published.
type TrackPublishedData struct {
	Track Track `json:"track"`
}

// TrackUnpublishedData is the body of track_unpublished.
type TrackUnpublishedData struct {
	TrackID       string `json:"track_id"`
	ParticipantID string `json:"participant_id"`
}

// TrackMutedData is the body of track_muted.
type TrackMutedData struct {
	TrackID       string `json:"track_id"`
	ParticipantID string `json:"participant_id"`
	Muted         bool   `json:"muted"`
}

// ConnectionStateData is the body of connection_state.
type ConnectionStateData struct {
	Target string `json:"target"`
	State  string `json:"state"`
}

// ByeData is the body of bye.
type ByeData struct {
	Reason string `json:"reason"`
}

// Error codes (docs/protocol.md, "Error codes").
const (
	CodeBadJSON          = "bad_json"
	CodeTooLarge         = "too_large"
	CodeBadVersion       = "bad_version"
	CodeUnknownType      = "unknown_type"
	CodeInvalid          = "invalid"
	CodeNotJoined        = "not_joined"
	CodeAlreadyJoined    = "already_joined"
	CodeBadToken         = "bad_token"
	CodeTokenExpired     = "token_expired"
	CodeBadSDP           = "bad_sdp"
	CodeUnsupportedCodec = "unsupported_codec"
	CodeNotFound         = "not_found"
	CodeForbidden        = "forbidden"
	CodeWrongState       = "wrong_state"
	CodeRateLimited      = "rate_limited"
	CodeInternal         = "internal"
)

// Error is the body of `error`, and the error a request gets back in package client.
type Error struct {
	Code      string `json:"code"`
	Message   string `json:"message"`
	MessageZH string `json:"message_zh"`
	MessageEN string `json:"message_en"`
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// newError builds an Error whose Message is "zh / en", as the protocol asks.
func newError(code, zh, en string) *Error {
	return &Error{Code: code, Message: zh + " / " + en, MessageZH: zh, MessageEN: en}
}

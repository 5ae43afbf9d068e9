package signaling

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/pion/webrtc/v4"

	"sanji/i18n"
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
	TypeResume          = "resume"
	TypeICERestart      = "ice_restart" // both ways: the client asks for the subscriber, the server for the publisher
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
	TypeQuality           = "quality"
	TypePong              = "pong"
	TypeError             = "error"
	TypeBye               = "bye"
	TypeResumed           = "resumed"
	// TypeParticipantReconnecting says a participant's link is down (its socket gone, or a media
	// connection disconnected) or back; it stays in the room meanwhile.
	TypeParticipantReconnecting = "participant_reconnecting"
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
	// Rejoin: the client joins again by itself after its resume was refused (its seat released).
	Rejoin bool `json:"rejoin,omitempty"`
}

// JoinedData is the body of `joined`, and of `resumed`.
type JoinedData struct {
	Room         string             `json:"room"`
	Participant  Participant        `json:"participant"`
	Participants []Participant      `json:"participants"`
	ICEServers   []webrtc.ICEServer `json:"ice_servers"`
	// ResumeToken lets this participant take its place back on a new socket (`resume`), once.
	ResumeToken string `json:"resume_token"`
	// ResumeGraceMS is how long the participant is kept after the server has lost its socket.
	ResumeGraceMS int64 `json:"resume_grace_ms"`
	// RenewMedia, in `resumed`, says the participant came back on another node (its node
	// died): the media connections died with it, so the client makes new ones, publishes
	// its tracks again and answers the new subscriber offer.
	RenewMedia bool `json:"renew_media,omitempty"`
}

// ResumeData is the body of `resume`: the token of the last `joined` or `resumed`, and the
// participant it was given to.
type ResumeData struct {
	Token         string `json:"token"`
	ParticipantID string `json:"participant_id"`
	// Room, the room of the last `joined`, lets a node of a cluster that does not know the
	// participant find its resume record (the node it was on died). Optional on one node.
	Room string `json:"room,omitempty"`
}

// ICERestartData is the body of `ice_restart`.
type ICERestartData struct {
	Target string `json:"target"`
}

// ParticipantReconnectingData is the body of participant_reconnecting.
type ParticipantReconnectingData struct {
	ParticipantID string `json:"participant_id"`
	Reconnecting  bool   `json:"reconnecting"`
}

// Participant is a member of a room with its published tracks.
type Participant struct {
	ID     string  `json:"id"`
	Name   string  `json:"name"`
	Role   string  `json:"role"`
	Tracks []Track `json:"tracks"`
	// Reconnecting: its link is down; it keeps its place until it resumes or the grace ends.
	Reconnecting bool `json:"reconnecting,omitempty"`
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

// QualityData is the body of quality: how the participant's own links fare and how each video
// it receives is delivered, so that a lowered or paused picture is never silent.
type QualityData struct {
	Uplink   LinkQuality    `json:"uplink"`   // what the participant sends; level "" when it sends nothing
	Downlink LinkQuality    `json:"downlink"` // what the server sends it
	Tracks   []TrackQuality `json:"tracks"`   // only tracks it receives, by track id
}

// LinkQuality is one direction of a participant's media link.
type LinkQuality struct {
	Level   string  `json:"level"`   // "good", "fair", "poor", or "" (no media yet in that direction)
	Loss    float64 `json:"loss"`    // share of packets lost over the last interval, 0..1
	RTTMs   int64   `json:"rtt_ms"`  // round trip server <-> participant in ms, 0 = unknown
	Bitrate int64   `json:"bitrate"` // bits per second: uplink what arrives, downlink the estimate (0 = none known)
}

// TrackQuality is how one received video track is delivered.
type TrackQuality struct {
	TrackID       string `json:"track_id"`
	ParticipantID string `json:"participant_id"`
	Layer         int    `json:"layer"`     // simulcast layer forwarded, 0 = lowest, -1 = none yet
	TopLayer      int    `json:"top_layer"` // the best layer the publisher offers
	Lowered       bool   `json:"lowered"`   // below what the tile asked for, for bandwidth
	Paused        bool   `json:"paused"`    // no video at all for bandwidth; audio goes on
	// PublisherUplink is the level of the publisher's own uplink.
	PublisherUplink string `json:"publisher_uplink"`
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
	CodeTokenUsed        = "token_used"
	CodeBadSDP           = "bad_sdp"
	CodeUnsupportedCodec = "unsupported_codec"
	CodeNotFound         = "not_found"
	CodeForbidden        = "forbidden"
	CodeWrongState       = "wrong_state"
	CodeRateLimited      = "rate_limited"
	CodeInternal         = "internal"
	CodeResumeRefused    = "resume_refused"
)

// Error is the body of `error`, and the error a request gets back in package client.
type Error struct {
	Code      string `json:"code"`
	Message   string `json:"message"`
	MessageZH string `json:"message_zh"`
	MessageEN string `json:"message_en"`
	// NodeURL is, with wrong_node, the node that hosts the room (a client may join there).
	NodeURL string `json:"node_url,omitempty"`
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// newError builds the Error of code with the catalog's text k, filled with args.
func newError(code string, k i18n.Key, args ...any) *Error {
	return textError(code, i18n.T(k, args...))
}

// textError builds an Error whose Message is "zh / en", as the protocol asks.
func textError(code string, t i18n.Text) *Error {
	return &Error{Code: code, Message: t.String(), MessageZH: t.ZH, MessageEN: t.EN}
}

// The reception call (docs/protocol.md, "The reception call"), client to server.
const (
	TypeCallNext          = "call_next"
	TypeCallAppointment   = "call_appointment"
	TypeEndHearing        = "end_hearing"
	TypeNoShow            = "no_show"
	TypeStageUnit         = "stage_unit"
	TypeBroadcast         = "broadcast"
	TypeAckRecording      = "ack_recording"
	TypeRaiseHand         = "raise_hand"
	TypeSetFloor          = "set_floor"
	TypeSetSpeakers       = "set_speakers"
	TypeRemoveParticipant = "remove_participant"
	TypeHearingRecord     = "hearing_record"
	TypeConfirmRecord     = "confirm_record"
)

// The reception call, server to client.
const (
	TypeCallState  = "call_state"
	TypeCasePanel  = "case_panel"
	TypeCallNotice = "call_notice"
	// TypeOK answers a call request that has nothing else to say (the new state follows as
	// call_state to everyone).
	TypeOK = "ok"
)

// CallState is the body of call_state: the call as one participant may see it.
type CallState struct {
	SessionID int64  `json:"session_id"`
	Title     string `json:"title"`
	Leader    string `json:"leader"`
	Studio    string `json:"studio"`
	Seat      string `json:"seat"`
	// Phase is "idle" (nobody on stage), "called" (a petitioner is on stage, the recording
	// notice not yet acknowledged at the hall) or "hearing" (acknowledged: recorded from then).
	Phase     string     `json:"phase"`
	Broadcast bool       `json:"broadcast"`
	Stage     *StageView `json:"stage,omitempty"` // the stage, its hall and units, and observers only
	// Queue is every hall's for the studio, the hall's own for a hall, empty for others.
	Queue []QueueItem `json:"queue"`
	Me    MeView      `json:"me"`
	Tiles []Tile      `json:"tiles"`           // every member's caption: place, and the masked petitioner on stage
	Hands []string    `json:"hands,omitempty"` // studio only: participants with a raised hand
	Held  []string    `json:"held,omitempty"`  // studio only: participants whose audio is taken
	// Units are the units the studio may bring on stage by name (studio only).
	Units []StageUnit `json:"units,omitempty"`
}

// StageView is the hearing under way.
type StageView struct {
	AppointmentID         int64       `json:"appointment_id"`
	HallID                int64       `json:"hall_id"`
	HallName              string      `json:"hall_name"`
	Units                 []StageUnit `json:"units"`
	CaseID                int64       `json:"case_id"`
	CaseNumber            string      `json:"case_number"`
	CalledAt              time.Time   `json:"called_at"`
	RecordingAcknowledged bool        `json:"recording_acknowledged"`
	StartedAt             *time.Time  `json:"started_at,omitempty"`
	Petitioner            string      `json:"petitioner,omitempty"` // masked name
	People                int         `json:"people,omitempty"`
	Representatives       int         `json:"representatives,omitempty"`
	Speakers              []string    `json:"speakers"`         // masked names of the representatives speaking
	Record                string      `json:"record,omitempty"` // the hearing record (笔录) so far
	RecordConfirmed       bool        `json:"record_confirmed"`
}

// StageUnit is a unit on stage.
type StageUnit struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
}

// QueueItem is one booking in the queue.
type QueueItem struct {
	AppointmentID int64      `json:"appointment_id"`
	HallID        int64      `json:"hall_id"`
	HallName      string     `json:"hall_name"`
	QueueNo       int        `json:"queue_no"`
	Position      int        `json:"position"`
	WalkIn        bool       `json:"walk_in"`
	Status        string     `json:"status"` // booked, checked_in, on_stage, done, no_show, cancelled
	Name          string     `json:"name"`   // masked
	People        int        `json:"people"`
	ETA           *time.Time `json:"eta,omitempty"`
}

// MeView is the participant's own place in the call.
type MeView struct {
	OnStage  bool       `json:"on_stage"`
	Floor    bool       `json:"floor"` // false: the moderator took the participant's audio
	Hand     bool       `json:"hand"`
	Position int        `json:"position,omitempty"` // a hall: its next petitioner's place across halls (1 = next)
	ETA      *time.Time `json:"eta,omitempty"`
	Waiting  int        `json:"waiting,omitempty"` // a hall: its petitioners still waiting
	// Pace is the seconds a hearing takes at this session's pace so far, which the ETAs count with.
	Pace int `json:"pace,omitempty"`
}

// Tile captions one member's picture: its place, and the petitioner (masked) of the hall on stage
// for those who see the hearing.
type Tile struct {
	ParticipantID string `json:"participant_id"`
	Place         string `json:"place"`
	Person        string `json:"person,omitempty"`
}

// CasePanelData is the body of case_panel; CaseID 0 clears the panel.
type CasePanelData struct {
	CaseID int64           `json:"case_id"`
	Panel  json.RawMessage `json:"panel,omitempty"`
}

// CallNoticeData is the body of call_notice: something the participant should be told.
type CallNoticeData struct {
	Kind      string `json:"kind"` // "unmute_request", "floor_taken", "recording_error"
	MessageZH string `json:"message_zh"`
	MessageEN string `json:"message_en"`
}

// AppointmentData is the body of call_appointment and no_show.
type AppointmentData struct {
	AppointmentID int64 `json:"appointment_id"`
}

// EndHearingData is the body of end_hearing.
type EndHearingData struct {
	Outcome string `json:"outcome"`
	Note    string `json:"note"`
}

// StageUnitData is the body of stage_unit.
type StageUnitData struct {
	UnitID int64 `json:"unit_id"`
	On     bool  `json:"on"`
}

// OnData is the body of broadcast and raise_hand.
type OnData struct {
	On bool `json:"on"`
}

// FloorData is the body of set_floor.
type FloorData struct {
	ParticipantID string `json:"participant_id"`
	Allow         bool   `json:"allow"`
}

// SpeakersData is the body of set_speakers.
type SpeakersData struct {
	Names []string `json:"names"`
}

// HearingRecordData is the body of hearing_record: the record's whole text so far.
type HearingRecordData struct {
	Text string `json:"text"`
}

// ConfirmRecordData is the body of confirm_record: the petitioner's typed name and, when drawn,
// the signature as a PNG data URL.
type ConfirmRecordData struct {
	ConfirmedBy string `json:"confirmed_by"`
	Signature   string `json:"signature,omitempty"`
}

// ParticipantData is the body of remove_participant.
type ParticipantData struct {
	ParticipantID string `json:"participant_id"`
}

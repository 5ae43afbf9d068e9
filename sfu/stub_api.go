package sfu

import (
	"net"

	"github.com/pion/webrtc/v4"
)

// Signatures of the SFU's command surface. Bodies are being written; the signatures are the contract.

// New starts the media plane: it opens the ICE UDP (and TCP) sockets.
func New(cfg Config) (*SFU, error) { panic("todo") }

// SFU owns the ICE sockets and all rooms.
type SFU struct{}

// Room is a set of participants that may exchange media.
type Room struct{}

// Participant is one client in a room with its two PeerConnections.
type Participant struct{}

// Close ends every participant (EventClosed{"shutdown"}) and closes the sockets.
func (s *SFU) Close() error { panic("todo") }

// UDPAddr is the ICE UDP mux's address.
func (s *SFU) UDPAddr() *net.UDPAddr { panic("todo") }

// TCPAddr is the ICE-TCP address, nil when ICE-TCP is off.
func (s *SFU) TCPAddr() *net.TCPAddr { panic("todo") }

// Join adds a participant to a room, creating the room if needed. Its events go to sink.
func (s *SFU) Join(roomID, participantID string, sink EventSink) (*Participant, error) { panic("todo") }

// Room returns a live room or nil.
func (s *SFU) Room(roomID string) *Room { panic("todo") }

// SetPolicy replaces the room's subscription policy and ends subscriptions it no longer allows.
func (r *Room) SetPolicy(p Policy) { panic("todo") }

// Tracks lists the room's published tracks.
func (r *Room) Tracks() []TrackInfo { panic("todo") }

// ID is the participant id given to Join.
func (p *Participant) ID() string { panic("todo") }

// Publish applies an offer for the publisher connection and returns the answer.
func (p *Participant) Publish(offerSDP string) (string, error) { panic("todo") }

// SetSubscriberAnswer applies the answer to the last EventSubscriberOffer.
func (p *Participant) SetSubscriberAnswer(sdp string) error { panic("todo") }

// AddICECandidate adds a remote candidate to one of the connections.
func (p *Participant) AddICECandidate(t Target, c webrtc.ICECandidateInit) error { panic("todo") }

// Subscribe starts forwarding tracks to this participant.
func (p *Participant) Subscribe(trackIDs ...string) error { panic("todo") }

// Unsubscribe stops forwarding tracks to this participant.
func (p *Participant) Unsubscribe(trackIDs ...string) error { panic("todo") }

// SetMuted mutes or unmutes one of the participant's own tracks.
func (p *Participant) SetMuted(trackID string, muted bool) error { panic("todo") }

// Unpublish ends one of the participant's own tracks.
func (p *Participant) Unpublish(trackID string) error { panic("todo") }

// Close removes the participant from its room.
func (p *Participant) Close(reason string) { panic("todo") }

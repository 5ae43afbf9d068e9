package signaling

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"github.com/pion/webrtc/v4"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"sanji/auth"
	"sanji/call"
	"sanji/i18n"
	"sanji/recording"
	"sanji/sfu"
)

// Config sets up a Server. Zero values of the optional fields get the protocol's defaults.
type Config struct {
	SFU        *sfu.SFU
	Tokens     *auth.Signer
	Logger     *zap.Logger           // nil = no logs
	Registerer prometheus.Registerer // nil = metrics not registered

	MaxMessageBytes int           // default 64 KiB
	PingInterval    time.Duration // default 15 s
	PongTimeout     time.Duration // default 45 s: a connection silent this long is closed
	RateLimit       int           // messages per second per session, default 50
	// JoinRate and JoinBurst bound `join` and `resume` attempts per client address: per
	// second, and at once; default 5 and 20.
	JoinRate, JoinBurst int

	// ICEServers are handed to clients in `joined`.
	ICEServers []webrtc.ICEServer
	// ICEServersFor, when set, adds the ICE servers of one participant: TURN with credentials
	// of its own. host is the host the client reached this server by (the WebSocket request's
	// Host), the name a TURN URL on this server should carry.
	ICEServersFor func(participantID, host string) []webrtc.ICEServer

	// Calls is the scheduler for reception calls (rooms joined with a session's seat token);
	// nil refuses such tokens.
	Calls call.Backend
	// Recorder records the hearings of reception calls; nil records nothing.
	Recorder *recording.Recorder

	// Placement, in a cluster, says which node hosts a room: a join of a room placed on another
	// node is refused naming that node (wrong_node). nil: this node hosts every room.
	Placement Placer
	// CheckOrigin decides whether a browser page of another origin may open the WebSocket: in a
	// cluster a page served by one node is sent to the room's owner (wrong_node). nil: only
	// pages of this host (gorilla's default).
	CheckOrigin func(r *http.Request) bool

	// ResumeGrace is how long a participant whose socket the server lost is kept for a resume
	// (default 30 s; negative: not kept, the participant leaves with its socket).
	ResumeGrace time.Duration
	// Shared, in a cluster, keeps what another node needs to take over this node's rooms if it
	// dies: resume records and reception calls' snapshots (failover.go). nil on a single node.
	Shared Shared
	// SeatMarks, in a cluster, makes a seat token's used mark cluster-wide (seattokens.go). nil
	// on a single node.
	SeatMarks SeatMarks

	// ResumeGraceOnStage is the grace of a participant on the stage of a reception call when its
	// socket is lost (a hall in a hearing, the studio, units brought on): longer than an idle
	// seat's, so that a hearing outlives a longer outage. Zero or less than ResumeGrace: the same.
	ResumeGraceOnStage time.Duration

	// Cascade, in a cluster, holds a participant's media on the node nearest it (media.go);
	// nil: every participant's media is on this node.
	Cascade Cascade

	// LogClientIP puts the client's address (a hall terminal's, say) in the session's log lines;
	// false leaves it out, for an office whose policy counts it as the petitioner's data.
	LogClientIP bool
}

const (
	// outQueueLen bounds what a session may have waiting to be written. A client that lets it fill
	// is disconnected: the SFU's event callbacks must never wait for a slow socket.
	outQueueLen = 256
	// writeWait bounds one write to a socket.
	writeWait = 10 * time.Second
	// closeGrace is how long a session waits for the client's answer to its close frame.
	closeGrace = 2 * time.Second
)

// Server is the /ws endpoint: one session per connection, all rooms' rosters.
type Server struct {
	cfg      Config
	log      *zap.Logger
	metrics  *metrics
	upgrader websocket.Upgrader

	// wg counts running ServeHTTP calls; each owns its session's reader (itself) and writer.
	wg sync.WaitGroup
	// graceWG counts the grace timers of detached sessions that are set or running.
	graceWG sync.WaitGroup

	mu       sync.Mutex
	closing  bool
	sessions map[*session]struct{}
	rooms    map[string]map[string]*session // room id -> participant id -> joined session
	calls    *call.Calls                    // the live reception calls; nil without Config.Calls
	resume   map[string]*session            // resume token key -> the session it resumes
	detached map[*session]*time.Timer       // sessions kept after their socket, with their grace timers
	// usedSeats are the seat tokens that have seated a client, by SHA-256, until their expiry
	// (seattokens.go).
	usedSeats map[[32]byte]time.Time
	joins     *joinLimiter
}

// New returns a Server for cfg.
func New(cfg Config) *Server {
	if cfg.MaxMessageBytes <= 0 {
		cfg.MaxMessageBytes = 64 << 10
	}
	if cfg.PingInterval <= 0 {
		cfg.PingInterval = 15 * time.Second
	}
	if cfg.PongTimeout <= 0 {
		cfg.PongTimeout = 45 * time.Second
	}
	if cfg.RateLimit <= 0 {
		cfg.RateLimit = 50
	}
	if cfg.JoinRate <= 0 {
		cfg.JoinRate = 5
	}
	if cfg.JoinBurst <= 0 {
		cfg.JoinBurst = 20
	}
	if cfg.ResumeGrace == 0 {
		cfg.ResumeGrace = 30 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	srv := &Server{
		cfg:      cfg,
		log:      cfg.Logger.Named("signaling"),
		metrics:  newMetrics(cfg.Registerer),
		sessions: map[*session]struct{}{},
		rooms:    map[string]map[string]*session{},
		resume:   map[string]*session{},
		detached: map[*session]*time.Timer{},

		usedSeats: map[[32]byte]time.Time{},
		joins:     newJoinLimiter(cfg.JoinRate, cfg.JoinBurst),
	}
	srv.upgrader.CheckOrigin = cfg.CheckOrigin
	srv.calls = newCalls(srv)
	return srv
}

// ServeHTTP upgrades the request to a WebSocket and runs its session until it ends.
func (srv *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	srv.mu.Lock()
	if srv.closing {
		srv.mu.Unlock()
		http.Error(w, i18n.T("signaling.server.shutting_down").String(),
			http.StatusServiceUnavailable)
		return
	}
	srv.wg.Add(1) // under mu, so Shutdown's Wait never races a new Add
	srv.mu.Unlock()
	defer srv.wg.Done()

	conn, err := srv.upgrader.Upgrade(w, r, nil) // answers the HTTP error itself
	if err != nil {
		srv.log.Debug("upgrade failed", zap.Error(err))
		return
	}
	s := newSession(srv, conn)
	s.host = r.Host
	srv.mu.Lock()
	closing := srv.closing
	if !closing {
		srv.sessions[s] = struct{}{}
	}
	srv.mu.Unlock()
	srv.metrics.sessions.Inc()
	defer srv.metrics.sessions.Dec()

	go s.writeLoop()
	if closing {
		s.end("shutdown", websocket.CloseGoingAway, nil)
	}
	s.readLoop()
	if !s.detach() {
		s.finish()
	}

	srv.mu.Lock()
	delete(srv.sessions, s)
	srv.mu.Unlock()
}

// Sessions is the number of open sessions.
func (srv *Server) Sessions() int {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	return len(srv.sessions)
}

// Shutdown refuses new connections, says `bye {"reason":"shutdown"}` to every session, closes
// their participants and waits until every session's goroutines have ended. When ctx ends first,
// the remaining sockets are cut, and Shutdown still waits for them (which is then quick).
func (srv *Server) Shutdown(ctx context.Context) error {
	srv.mu.Lock()
	srv.closing = true
	all := make([]*session, 0, len(srv.sessions))
	for s := range srv.sessions {
		all = append(all, s)
	}
	kept := make([]*session, 0, len(srv.detached))
	for s := range srv.detached {
		kept = append(kept, s)
		srv.stopGraceLocked(s)
	}
	srv.mu.Unlock()

	for _, s := range kept {
		s.leave("shutdown")
	}
	for _, s := range all {
		s.end("shutdown", websocket.CloseGoingAway, nil)
	}
	done := make(chan struct{})
	go func() { srv.wg.Wait(); srv.graceWG.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		for _, s := range all {
			s.kill()
		}
		<-done
		return errors.Join(errors.New("signaling: shutdown cut sessions short"), ctx.Err())
	}
}

// join enters s into the SFU and the roster. A participant id already present is taken over:
// the older connection gets `bye {"reason":"replaced"}`, since the newer one is the person's
// current tab or device.
func (srv *Server) join(s *session, c auth.Claims) (Media, error) {
	s.pres = newPresence(s)
	p, err := srv.joinMedia(s, c)
	if errors.Is(err, sfu.ErrDuplicate) {
		srv.mu.Lock()
		old := srv.rooms[c.Room][c.Subject]
		srv.mu.Unlock()
		if old != nil {
			srv.log.Info("participant replaced by a new connection", zap.String("room", c.Room),
				zap.String("participant", c.Subject))
			old.end("replaced", websocket.CloseNormalClosure, nil)
		}
		p, err = srv.joinMedia(s, c)
	}
	return p, err
}

// joinMedia seats the media of s: here, or on the node the cascade names for it.
func (srv *Server) joinMedia(s *session, c auth.Claims) (Media, error) {
	var callPol *call.Policy
	var pol sfu.Policy
	if s.call != nil {
		callPol = s.call.Policy()
		pol = callPol
	}
	if cas := srv.cfg.Cascade; cas != nil {
		if node := cas.MediaNode(c); node != "" {
			return cas.Join(node, c.Room, c.Subject, s.pres, callPol)
		}
	}
	p, err := srv.cfg.SFU.JoinWithPolicy(c.Room, c.Subject, s.pres, pol)
	if err != nil {
		return nil, err // not a typed nil in the interface
	}
	return p, nil
}

// enterRoster adds s to its room's roster, queues `joined` (answering request re) and tells
// the others. It returns the ids of the tracks already published in the room.
func (srv *Server) enterRoster(s *session, re string) []string {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if s.isClosing() { // end ran while s joined; leaveRoster has nothing to undo then
		return nil
	}
	members := srv.rooms[s.room]
	if members == nil {
		members = map[string]*session{}
		srv.rooms[s.room] = members
	}
	members[s.id] = s
	others := []Participant{}
	var tracks []string
	for _, o := range members {
		if o != s {
			others = append(others, o.participant())
			for _, t := range o.tracks {
				tracks = append(tracks, t.ID)
			}
		}
	}
	d := JoinedData{Room: s.room, Participant: s.participant(), Participants: others, ICEServers: srv.iceServers(s),
		ResumeToken: srv.issueResumeLocked(s), ResumeGraceMS: max(srv.cfg.ResumeGrace, 0).Milliseconds()}
	if s.renewMedia {
		d.RenewMedia = true
		s.resumed(re, d)
	} else {
		s.joined(re, d)
	}
	srv.broadcast(s, TypeParticipantJoined, ParticipantJoinedData{Participant: s.participant()})
	return tracks
}

// iceServers are the ICE servers handed to clients.
// iceServers are the ICE servers for s: the configured ones and, with TURN on, its own
// credentials on the host it reached us by.
func (srv *Server) iceServers(s *session) []webrtc.ICEServer {
	ice := append([]webrtc.ICEServer{}, srv.cfg.ICEServers...)
	if srv.cfg.ICEServersFor != nil {
		ice = append(ice, srv.cfg.ICEServersFor(s.id, s.host)...)
	}
	return ice
}

// leaveRoster removes s from its room's roster and tells the others; its resume token is void.
func (srv *Server) leaveRoster(s *session) {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if srv.resume[s.resumeKey] == s {
		delete(srv.resume, s.resumeKey)
	}
	members := srv.rooms[s.room]
	if members[s.id] != s {
		return // never entered, or already replaced by a newer session
	}
	delete(members, s.id)
	if len(members) == 0 {
		delete(srv.rooms, s.room)
	}
	srv.broadcast(s, TypeParticipantLeft, ParticipantLeftData{ParticipantID: s.id})
}

// trackPublished records a live track of s, announces it to the room, and subscribes the others
// that auto-subscribe.
func (srv *Server) trackPublished(s *session, info sfu.TrackInfo) {
	t := Track{ID: info.ID, ParticipantID: s.id, Kind: string(info.Kind), Codec: info.Codec, Muted: info.Muted,
		SourceID: info.SourceID, Simulcast: info.Simulcast}
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if srv.rooms[s.room][s.id] != s {
		return
	}
	replaced := false
	for i := range s.tracks {
		if s.tracks[i].ID == t.ID {
			s.tracks[i], replaced = t, true
		}
	}
	if !replaced {
		s.tracks = append(s.tracks, t)
	}
	// The publisher is told too: that is how it learns the id of its track for mute and unpublish.
	for _, o := range srv.rooms[s.room] {
		o.send(TypeTrackPublished, "", TrackPublishedData{Track: t})
		if o != s && o.autoSubscribe && (s.call == nil || s.call.Policy().Allow(o.id, info)) {
			o.autoSubscribeTo(t.ID)
		}
	}
	if k := s.call; k != nil {
		// A stage participant's new track (a reconnect, a camera turned on) joins the recording:
		// on the session's writer, not on this SFU goroutine.
		s.push(outFrame{work: k.RecordStage})
	}
}

// trackUnpublished forgets a track of s and tells the room, once.
func (srv *Server) trackUnpublished(s *session, trackID string) {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if srv.rooms[s.room][s.id] != s {
		return
	}
	for i := range s.tracks {
		if s.tracks[i].ID == trackID {
			s.tracks = append(s.tracks[:i], s.tracks[i+1:]...)
			d := TrackUnpublishedData{TrackID: trackID, ParticipantID: s.id}
			for _, o := range srv.rooms[s.room] {
				o.send(TypeTrackUnpublished, "", d) // the publisher too, as for track_published
			}
			return
		}
	}
}

// trackMuted records a mute change of a track of s and tells the others.
func (srv *Server) trackMuted(s *session, trackID string, muted bool) {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if srv.rooms[s.room][s.id] != s {
		return
	}
	for i := range s.tracks {
		if s.tracks[i].ID == trackID {
			s.tracks[i].Muted = muted
		}
	}
	srv.broadcast(s, TypeTrackMuted, TrackMutedData{TrackID: trackID, ParticipantID: s.id, Muted: muted})
}

// broadcast sends to every member of from's room but from. srv.mu must be held.
func (srv *Server) broadcast(from *session, typ string, data any) {
	for _, o := range srv.rooms[from.room] {
		if o != from {
			o.send(typ, "", data)
		}
	}
}

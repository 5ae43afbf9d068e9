package signaling

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"

	"sanji/auth"
	"sanji/call"
)

// Failover (docs/protocol.md, "Resume across nodes"): in a cluster a participant's resume
// record — its token's SHA-256, identity and seat — is also kept in the cluster's Redis, beside
// its room's claim, so that when the node it was on dies the client can resume on the node that
// took the room over. That node seats it again (in the reception call rebuilt from the store and
// the call's snapshot) and answers `resumed` with renew_media: the media connections died with
// the old node, the client makes new ones.

// Shared is the cluster's live state of rooms (cluster.Node): one hash per room, renewed with
// the room's claim, expiring some time after its owner dies.
type Shared interface {
	SetLive(ctx context.Context, room, field string, val []byte) error
	DelLive(ctx context.Context, room, field string) error
	GetLive(ctx context.Context, room, field string) ([]byte, error)
	// TakeLive reads and deletes a field whose value starts with prefix; nil when none does.
	TakeLive(ctx context.Context, room, field, prefix string) ([]byte, error)
}

// sharedTimeout bounds one write or read of the shared state.
const sharedTimeout = time.Second

// resumeField is a participant's resume record in its room's live state.
func resumeField(participantID string) string { return "p:" + participantID }

// callField is the reception call's snapshot in its room's live state.
const callField = "call"

// resumeRec is what a node needs to seat a participant again: its join token's claims, without
// times (the resume token is the credential now).
type resumeRec struct {
	Name          string `json:"name"`
	Role          string `json:"role"`
	AutoSubscribe bool   `json:"auto_subscribe"`
	UserID        int64  `json:"user_id,omitempty"`
	SessionID     int64  `json:"session_id,omitempty"`
	Seat          string `json:"seat,omitempty"`
	HallID        int64  `json:"hall_id,omitempty"`
	UnitID        int64  `json:"unit_id,omitempty"`
}

// resumeRecord is s's record: its token's key, a newline, the claims as JSON. nil without a
// cluster. srv.mu is held (s's fields are set).
func (srv *Server) resumeRecord(s *session) []byte {
	if srv.cfg.Shared == nil {
		return nil
	}
	r := resumeRec{Name: s.name, Role: s.role, AutoSubscribe: s.autoSubscribe, UserID: s.userID, Seat: s.seat.Kind,
		HallID: s.seat.Hall, UnitID: s.seat.Unit}
	if s.call != nil {
		r.SessionID = s.call.SessionID()
	}
	b, _ := json.Marshal(r) // plain fields: cannot fail
	return append([]byte(s.resumeKey+"\n"), b...)
}

// shareResume writes the resume record issued to s (srv.mu not held). A failure leaves the
// participant without a resume on another node, nothing more.
func (srv *Server) shareResume(s *session) {
	sh := srv.cfg.Shared
	if sh == nil {
		return
	}
	srv.mu.Lock()
	rec, room, id := s.shared, s.room, s.id
	s.shared = nil
	srv.mu.Unlock()
	if rec == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), sharedTimeout)
	defer cancel()
	if err := sh.SetLive(ctx, room, resumeField(id), rec); err != nil {
		s.logger().Warn("keep the resume record in the cluster", zap.Error(err))
	}
}

// unshareResume deletes the resume record of a participant that left.
func (srv *Server) unshareResume(s *session) {
	sh := srv.cfg.Shared
	if sh == nil || s.room == "" || s.id == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), sharedTimeout)
	defer cancel()
	if err := sh.DelLive(ctx, s.room, resumeField(s.id)); err != nil {
		s.logger().Debug("delete the resume record in the cluster", zap.Error(err))
	}
}

// resumeElsewhere resumes a participant this node does not keep: its room must live here now
// (the node it was on died and this one took the room over), and its token must match the
// record its old node kept. The record is used up; the participant is seated anew and told to
// renew its media.
func (s *session) resumeElsewhere(id string, d ResumeData) *Error {
	srv := s.srv
	if e := s.place(d.Room, callSessionOf(d.Room)); e != nil {
		return e
	}
	ctx, cancel := context.WithTimeout(context.Background(), sharedTimeout)
	raw, err := srv.cfg.Shared.TakeLive(ctx, d.Room, resumeField(d.ParticipantID), resumeKey(d.Token)+"\n")
	cancel()
	if err != nil {
		s.logger().Warn("read a resume record", zap.Error(err))
		return newError(CodeUnavailable, "signaling.cluster.unavailable")
	}
	var r resumeRec
	if raw == nil || json.Unmarshal(raw[strings.IndexByte(string(raw), '\n')+1:], &r) != nil {
		srv.metrics.resumes.WithLabelValues("refused").Inc()
		s.logger().Info("resume refused")
		return errResumeRefused()
	}
	c := auth.Claims{Room: d.Room, Subject: d.ParticipantID, Name: r.Name, Role: r.Role, UserID: r.UserID,
		SessionID: r.SessionID, Seat: r.Seat, HallID: r.HallID, UnitID: r.UnitID}
	s.identify(c)
	s.renewMedia = true
	if e := s.enter(id, c, r.AutoSubscribe, false); e != nil {
		s.renewMedia = false // a join that may follow on this socket is answered `joined`
		srv.metrics.resumes.WithLabelValues("refused").Inc()
		return e
	}
	srv.metrics.resumes.WithLabelValues("other_node").Inc()
	return nil
}

// callSessionOf is the reception session of a call's room, 0 for another room (placement wants
// it to place a call by its studio; a room taken over is placed already).
func callSessionOf(room string) int64 {
	n, ok := strings.CutPrefix(room, "call-")
	if !ok {
		return 0
	}
	id, err := strconv.ParseInt(n, 10, 64)
	if err != nil || call.RoomName(id) != room {
		return 0
	}
	return id
}

// callKeeper keeps reception calls' snapshots in the shared state (call.Keeper).
type callKeeper struct{ sh Shared }

func (k callKeeper) SaveCall(ctx context.Context, room string, data []byte) error {
	if data == nil {
		return k.sh.DelLive(ctx, room, callField)
	}
	return k.sh.SetLive(ctx, room, callField, data)
}

func (k callKeeper) LoadCall(ctx context.Context, room string) ([]byte, error) {
	return k.sh.GetLive(ctx, room, callField)
}

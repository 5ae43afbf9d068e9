package signaling

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"time"

	"go.uber.org/zap"
)

// A reception call's seat token (a join token with a session id) seats one client: it is bound
// to its first join, and a second join with it is refused (`token_used`) for as long as the
// token lives. Refused rather than replacing the first: a replacement would hand the seat — and
// the hearing it may show — to whoever copied the token, and throw out the rightful client.
// That client keeps its seat across a lost socket with its resume token (resume.go), which only
// it holds, and otherwise asks the API for a new seat token, which needs its login.
// Plain room tokens (dev, pasted links) are not bound: reloading such a page reuses its token,
// and the second connection replaces the first (Server.join).

// In a cluster the node's memory is not enough: a copy of the token taken to another node (the
// room moved there when its node died, or was placed there anew) would seat a second client.
// So the mark is also kept cluster-wide (Config.SeatMarks), set before the room is placed.

// SeatMarks keeps seat tokens' used marks where every node of a cluster sees them
// (cluster.Node). nil on a single node, whose memory is the whole truth.
type SeatMarks interface {
	// MarkOnce marks name used until until; false when it already was.
	MarkOnce(ctx context.Context, name string, until time.Time) (bool, error)
	// Unmark gives name back.
	Unmark(ctx context.Context, name string) error
}

// useSeatToken marks tok used, here and in the cluster: nil when it was unused, token_used when
// not, unavailable when the cluster cannot say (the join would need it anyway to be placed).
func (s *session) useSeatToken(tok string, exp, now time.Time) *Error {
	srv := s.srv
	if !srv.claimSeatToken(tok, exp, now) {
		return errTokenUsed()
	}
	m := srv.cfg.SeatMarks
	if m == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), sharedTimeout)
	defer cancel()
	ok, err := m.MarkOnce(ctx, seatMarkName(tok), exp)
	if err != nil {
		srv.releaseSeatToken(tok)
		s.logger().Warn("seat token: the cluster cannot mark it used", zap.Error(err))
		return newError(CodeUnavailable, "signaling.cluster.unavailable")
	}
	if !ok {
		// Seated through another node: remembered here too, the next copy costs no round trip.
		return errTokenUsed()
	}
	return nil
}

// giveBackSeatToken frees tok here and in the cluster after a join that seated nobody.
func (s *session) giveBackSeatToken(tok string) {
	srv := s.srv
	srv.releaseSeatToken(tok)
	m := srv.cfg.SeatMarks
	if m == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), sharedTimeout)
	defer cancel()
	if err := m.Unmark(ctx, seatMarkName(tok)); err != nil {
		// The token stays used until it expires: its client asks the API for a new one.
		s.logger().Warn("seat token: could not give it back in the cluster", zap.Error(err))
	}
}

// seatMarkName names tok's mark in the cluster: its SHA-256, never the token.
func seatMarkName(tok string) string {
	k := sha256.Sum256([]byte(tok))
	return "seat:" + hex.EncodeToString(k[:])
}

// maxUsedSeatTokens bounds the set of used tokens between prunes; tokens live minutes.
const maxUsedSeatTokens = 4096

// claimSeatToken marks tok used until exp and reports whether it was unused.
func (srv *Server) claimSeatToken(tok string, exp, now time.Time) bool {
	k := sha256.Sum256([]byte(tok))
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if len(srv.usedSeats) >= maxUsedSeatTokens {
		for key, until := range srv.usedSeats {
			if !until.After(now) {
				delete(srv.usedSeats, key)
			}
		}
	}
	if until, ok := srv.usedSeats[k]; ok && until.After(now) {
		return false
	}
	srv.usedSeats[k] = exp
	return true
}

// releaseSeatToken frees tok again after a join that failed before seating anyone.
func (srv *Server) releaseSeatToken(tok string) {
	k := sha256.Sum256([]byte(tok))
	srv.mu.Lock()
	defer srv.mu.Unlock()
	delete(srv.usedSeats, k)
}

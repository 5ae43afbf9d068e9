package signaling

import (
	"crypto/sha256"
	"time"
)

// A reception call's seat token (a join token with a session id) seats one client: it is bound
// to its first join, and a second join with it is refused (`token_used`) for as long as the
// token lives. Refused rather than replacing the first: a replacement would hand the seat — and
// the hearing it may show — to whoever copied the token, and throw out the rightful client.
// That client keeps its seat across a lost socket with its resume token (resume.go), which only
// it holds, and otherwise asks the API for a new seat token, which needs its login.
// Plain room tokens (dev, pasted links) are not bound: reloading such a page reuses its token,
// and the second connection replaces the first (Server.join).

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

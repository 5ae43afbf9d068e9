package signaling

import "sanji/sfu"

// DeliverEvent hands e to the session of participant id in room, as the SFU's EventSink would,
// so that tests can feed events the SFU does not make on demand. It reports whether that
// participant was there.
func (srv *Server) DeliverEvent(room, id string, e sfu.Event) bool {
	srv.mu.Lock()
	s := srv.rooms[room][id]
	srv.mu.Unlock()
	if s == nil {
		return false
	}
	s.onEvent(e)
	return true
}

// LimitLoopbackJoins makes the join limit apply to loopback peers, which tests are.
func (srv *Server) LimitLoopbackJoins() { srv.joins.loopback = true }

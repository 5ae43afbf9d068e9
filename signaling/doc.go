// Package signaling is Sanji's control plane for calls: the WebSocket endpoint of
// docs/protocol.md (v1) on top of the SFU (package sfu).
//
// # Shape
//
// Server.ServeHTTP upgrades a request and runs one session for the connection:
//
//   - The reader (the ServeHTTP goroutine) reads frames, checks size, rate, envelope and state,
//     and runs the handler of each message. Handlers call the SFU directly and reply.
//   - The writer (one goroutine) writes the session's bounded outgoing queue, pings every
//     PingInterval, and runs the few SFU calls that SFU callbacks ask for (auto-subscribe),
//     because an sfu.EventSink must never block nor call back into the SFU on its goroutine.
//
// Everything else, the SFU's event callbacks and broadcasts from other sessions, only queues:
// sending never blocks, and a client whose queue (256 messages) fills up is disconnected.
// A session ends when its socket does (the reader's error), after which the writer stops and the
// participant leaves the SFU and the roster. Server-side ends (leave, shutdown, replaced,
// too_large, a panic in a handler) say why with `bye` or `error`, send a close frame and give the
// client two seconds to answer it.
//
// # Rooms
//
// The Server keeps each room's roster (participants with name, role and published tracks) for
// `joined`, `participant_joined/left` and `track_*`. The SFU decides what is published; the
// roster follows its events. A participant id that joins again replaces its older connection,
// which gets `bye {"reason":"replaced"}`: the newer tab or device is the one the person uses.
//
// Candidates of a connection are held back until that connection's first SDP has gone to the
// client, and events that come before `joined` are queued behind it, so a browser never sees
// a candidate or an offer it cannot place.
//
// # Reception calls
//
// A room `call-<session id>` joined with a seat token is a reception call, whose rules are
// package reception's: a session is a reception.Participant, the handlers of the call's messages
// (call_handlers.go, in the one table of handlers.go) check the message and run the call's
// command, the call's errors map to protocol codes (callError), and what the call tells a
// participant goes out as call_state, case_panel and call_notice. The Server enforces each new
// policy of a call in the SFU (reception.Sink) and passes the scheduler API's CallHooks on.
//
// # Errors
//
// Every protocol error carries a code from the protocol's table and a message in Chinese, then
// English, that says what to do. SFU errors map by errors.Is: sfu.ErrBadSDP to bad_sdp,
// ErrUnsupportedCodec to unsupported_codec, ErrTrackNotFound to not_found, ErrForbidden to
// forbidden, ErrWrongState to wrong_state, anything else to internal (and a log line).
//
// # Shutting down
//
// Call Server.Shutdown before closing the SFU: it refuses new connections, sends
// `bye {"reason":"shutdown"}`, closes every participant and waits for every session's goroutines.
//
// # Metrics
//
// sanji_signaling_sessions (gauge), sanji_signaling_messages_total{direction,type} and
// sanji_signaling_errors_total{code}.
//
// DevTokenHandler serves POST /dev/token for development (--dev) until identity lands.
package signaling

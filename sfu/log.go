package sfu

import (
	"fmt"
	"sync"

	"github.com/pion/logging"
	"go.uber.org/zap"
)

// pionLogs routes pion's logs into our zap logger, so that they are structured like ours and
// not written raw to stderr. pion reports ordinary disconnects as errors ("closed pipe"), so its
// levels are lowered by one: its errors are our warnings, its warnings our info.
//
// Once the SFU has closed (quiet), pion's goroutines that outlive Close by a moment (the UDP mux's
// read loop dropping a late packet, a connection's stream acceptor) log nothing: the logger may
// belong to something that has ended, such as a test. Each log holds the read lock across its
// write, so that none is still writing when Close returns.
type pionLogs struct {
	log   *zap.Logger
	quiet *quietSwitch
}

// quietSwitch silences pion's logs for good.
type quietSwitch struct {
	mu    sync.RWMutex
	quiet bool
}

func (q *quietSwitch) silence() {
	q.mu.Lock()
	q.quiet = true
	q.mu.Unlock()
}

func (f pionLogs) NewLogger(scope string) logging.LeveledLogger {
	return pionLogger{s: f.log.With(zap.String("pion", scope)).Sugar(), quiet: f.quiet}
}

type pionLogger struct {
	s     *zap.SugaredLogger
	quiet *quietSwitch
}

// write logs through fn unless the SFU has closed.
func (l pionLogger) write(fn func()) {
	if l.quiet == nil {
		fn()
		return
	}
	l.quiet.mu.RLock()
	defer l.quiet.mu.RUnlock()
	if !l.quiet.quiet {
		fn()
	}
}

// pion's own trace and debug messages are dropped unformatted: some format pion's structs while
// another of its goroutines writes them (pion 4.2's "got new track: %+v", a data race the race
// detector caught while a relay renegotiated), and they are a packet-level flood besides. Its
// info messages are our debug.
func (l pionLogger) Trace(string)          {}
func (l pionLogger) Tracef(string, ...any) {}
func (l pionLogger) Debug(string)          {}
func (l pionLogger) Debugf(string, ...any) {}
func (l pionLogger) Info(msg string)       { l.write(func() { l.s.Debug(msg) }) }
func (l pionLogger) Infof(format string, args ...any) {
	if !l.s.Desugar().Core().Enabled(zap.DebugLevel) {
		return // not formatted for nothing
	}
	l.write(func() { l.s.Debug(fmt.Sprintf(format, args...)) })
}
func (l pionLogger) Warn(msg string) { l.write(func() { l.s.Info(msg) }) }
func (l pionLogger) Warnf(format string, args ...any) {
	l.write(func() { l.s.Info(fmt.Sprintf(format, args...)) })
}
func (l pionLogger) Error(msg string) { l.write(func() { l.s.Warn(msg) }) }
func (l pionLogger) Errorf(format string, args ...any) {
	l.write(func() { l.s.Warn(fmt.Sprintf(format, args...)) })
}

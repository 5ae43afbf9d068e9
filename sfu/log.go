package sfu

import (
	"fmt"

	"github.com/pion/logging"
	"go.uber.org/zap"
)

// pionLogs routes pion's logs into our zap logger, so that they are structured like ours and
// not written raw to stderr. pion reports ordinary disconnects as errors ("closed pipe"), so its
// levels are lowered by one: its errors are our warnings, its warnings our info.
type pionLogs struct{ log *zap.Logger }

func (f pionLogs) NewLogger(scope string) logging.LeveledLogger {
	return pionLogger{f.log.With(zap.String("pion", scope)).Sugar()}
}

type pionLogger struct{ s *zap.SugaredLogger }

func (l pionLogger) Trace(msg string)                  { l.s.Debug(msg) }
func (l pionLogger) Tracef(format string, args ...any) { l.s.Debug(fmt.Sprintf(format, args...)) }
func (l pionLogger) Debug(msg string)                  { l.s.Debug(msg) }
func (l pionLogger) Debugf(format string, args ...any) { l.s.Debug(fmt.Sprintf(format, args...)) }
func (l pionLogger) Info(msg string)                   { l.s.Debug(msg) }
func (l pionLogger) Infof(format string, args ...any)  { l.s.Debug(fmt.Sprintf(format, args...)) }
func (l pionLogger) Warn(msg string)                   { l.s.Info(msg) }
func (l pionLogger) Warnf(format string, args ...any)  { l.s.Info(fmt.Sprintf(format, args...)) }
func (l pionLogger) Error(msg string)                  { l.s.Warn(msg) }
func (l pionLogger) Errorf(format string, args ...any) { l.s.Warn(fmt.Sprintf(format, args...)) }

package main

import (
	"context"
	"errors"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"sanji/recording"
	"sanji/scheduler"
	"sanji/scheduler/casework"
	"sanji/scheduler/org"
)

// recordingsDir is where the hearings are recorded.
func recordingsDir(cfg config) string {
	if cfg.Recording.Dir != "" {
		return cfg.Recording.Dir
	}
	return filepath.Join(cfg.DataDir, "recordings")
}

// openRecorder opens the recordings directory and seals, as found, the hearings a stopped
// server left open; each such seal goes on its case's timeline.
func openRecorder(cfg config, st scheduler.Store, log *zap.Logger, reg prometheus.Registerer) (*recording.Recorder, error) {
	rec, err := recording.New(recording.Config{Dir: recordingsDir(cfg), Hash: cfg.sealHash(), Retention: cfg.Recording.Retention,
		Logger: log.Named("recording"), Registerer: reg})
	if err != nil {
		return nil, wrapMsg(err, "cmd.recording.open_failed")
	}
	seals, err := rec.Recover()
	if err != nil {
		// One unreadable hearing must not keep the server down: it is logged, the others are sealed.
		log.Error("some recordings left open could not be sealed", zap.Error(err))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, seal := range seals {
		m, err := recording.ReadManifest(seal.Dir)
		if err != nil || m.CaseID == 0 {
			log.Warn("sealed recording without a case", zap.String("hearing", seal.Hearing), zap.Error(err))
			continue
		}
		note := casework.CaseEvent{CaseID: m.CaseID, Kind: "recording", Ref: "recording:" + seal.Hearing, Actor: "system",
			Reason: msg("cmd.recording.recovered_note", "algorithm", seal.Algorithm, "head", seal.Head)}
		if err := st.AddCaseNote(ctx, &note); err != nil {
			log.Error("note a recovered recording on its case", zap.String("hearing", seal.Hearing), zap.Error(err))
		}
	}
	return rec, nil
}

// purgeRecordings deletes the media of hearings past their retention and notes each deletion on
// its case (the manifest and its chain stay).
func (a *app) purgeRecordings(ctx context.Context) {
	closed := func(ctx context.Context, caseID int64) (time.Time, bool, error) {
		c, err := a.store.GetCase(ctx, caseID)
		if errors.Is(err, org.ErrNotFound) {
			return time.Time{}, false, nil
		}
		if err != nil {
			return time.Time{}, false, err
		}
		return c.ClosedAt, !c.ClosedAt.IsZero(), nil
	}
	purged, err := a.recorder.Purge(ctx, time.Now(), closed)
	if err != nil {
		a.log.Warn("recording retention", zap.Error(err))
	}
	for _, p := range purged {
		note := casework.CaseEvent{CaseID: p.CaseID, Kind: "recording_deleted", Ref: "recording:" + p.Hearing, Actor: "system",
			Reason: msg("cmd.recording.purged_note", "files", len(p.Files), "bytes", p.Bytes)}
		if err := a.store.AddCaseNote(ctx, &note); err != nil {
			a.log.Error("note a deleted recording on its case", zap.String("hearing", p.Hearing), zap.Error(err))
		}
	}
}

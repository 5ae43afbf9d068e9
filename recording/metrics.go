package recording

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	hearings, tracks                         prometheus.Gauge
	writeErrors, sealed, lostPackets, purged prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	c := func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Namespace: "sanji", Subsystem: "recording", Name: name, Help: help})
	}
	g := func(name, help string) prometheus.Gauge {
		return prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "sanji", Subsystem: "recording", Name: name, Help: help})
	}
	m := &metrics{
		hearings:    g("hearings", "Hearings being recorded."),
		tracks:      g("tracks", "Tracks being recorded."),
		writeErrors: c("write_errors_total", "Recording files or manifests that could not be written (a full disk, an I/O error): each stopped a track's recording."),
		sealed:      c("segments_sealed_total", "Track segments finished and hashed onto their hearing's chain."),
		lostPackets: c("lost_packets_total", "Packets missing from recordings (lost, or too late for the jitter buffer): written as gaps."),
		purged:      c("purged_hearings_total", "Hearings whose recordings were deleted under the retention rule."),
	}
	if reg != nil {
		for _, col := range []prometheus.Collector{m.hearings, m.tracks, m.writeErrors, m.sealed, m.lostPackets, m.purged} {
			reg.MustRegister(col)
		}
	}
	return m
}

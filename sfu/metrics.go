package sfu

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	rooms, participants, tracks               prometheus.Gauge
	forwardedPackets, forwardedBytes          prometheus.Counter
	nacks, nackMisses, retransmits            prometheus.Counter
	keyframeRequests, plisSent, plisThrottled prometheus.Counter
	droppedPackets, layerSwitches             prometheus.Counter
	subscriberBandwidth                       prometheus.Histogram
}

func newMetrics(reg prometheus.Registerer) *metrics {
	c := func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Namespace: "sanji", Subsystem: "sfu", Name: name, Help: help})
	}
	g := func(name, help string) prometheus.Gauge {
		return prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "sanji", Subsystem: "sfu", Name: name, Help: help})
	}
	m := &metrics{
		rooms:            g("rooms", "Rooms with at least one participant."),
		participants:     g("participants", "Participants connected to the SFU."),
		tracks:           g("published_tracks", "Tracks being published."),
		forwardedPackets: c("forwarded_packets_total", "RTP packets written to subscribers."),
		forwardedBytes:   c("forwarded_bytes_total", "RTP bytes (header and payload) written to subscribers."),
		nacks:            c("nacked_packets_total", "Packets subscribers asked to be retransmitted."),
		nackMisses:       c("nack_misses_total", "NACKed packets no longer in the publisher buffer."),
		retransmits:      c("retransmitted_packets_total", "Packets retransmitted to subscribers."),
		keyframeRequests: c("keyframe_requests_total", "PLI/FIR received from subscribers."),
		plisSent:         c("plis_sent_total", "Keyframe requests sent to publishers."),
		plisThrottled:    c("plis_throttled_total", "Keyframe requests not sent to publishers because of throttling."),
		droppedPackets:   c("dropped_packets_total", "Malformed or oversized packets received from publishers."),
		layerSwitches:    c("layer_switches_total", "Simulcast layer switches made by down tracks."),
	}
	m.subscriberBandwidth = prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: "sanji", Subsystem: "sfu",
		Name: "subscriber_bandwidth_bps", Help: "Subscribers' estimated downstream bandwidth, sampled at each allocation.",
		Buckets: prometheus.ExponentialBuckets(125_000, 2, 8)})
	if reg != nil {
		reg.MustRegister(m.subscriberBandwidth)
		for _, col := range []prometheus.Collector{m.rooms, m.participants, m.tracks, m.forwardedPackets, m.forwardedBytes,
			m.nacks, m.nackMisses, m.retransmits, m.keyframeRequests, m.plisSent, m.plisThrottled, m.droppedPackets, m.layerSwitches} {
			reg.MustRegister(col)
		}
	}
	return m
}

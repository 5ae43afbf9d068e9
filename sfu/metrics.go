package sfu

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	rooms, participants, tracks               prometheus.Gauge
	forwardedPackets, forwardedBytes          prometheus.Counter
	nacks, nackMisses, retransmits            prometheus.Counter
	keyframeRequests, plisSent, plisThrottled prometheus.Counter
	droppedPackets, layerSwitches             prometheus.Counter
	recordings                                prometheus.Gauge
	recordDropped                             prometheus.Counter
	subscriberBandwidth                       prometheus.Histogram
	videoPaused, videoLowered, poorLinks      prometheus.Gauge

	// Per room (the room id is the label; a room's series go when the room closes).
	roomForwardedBitrate, roomParticipants             *prometheus.GaugeVec
	roomLayerSwitches, roomKeyframeRequests, roomNACKs *prometheus.CounterVec

	// Per peer node and direction ("sent", "received"): what crossed relays.
	relayPackets, relayBytes *prometheus.CounterVec
}

// roomMetrics are one room's series, looked up once when the room opens so that counting costs
// no label lookup.
type roomMetrics struct {
	forwardedBitrate, participants         prometheus.Gauge
	layerSwitches, keyframeRequests, nacks prometheus.Counter
}

func (m *metrics) forRoom(id string) *roomMetrics {
	return &roomMetrics{
		forwardedBitrate: m.roomForwardedBitrate.WithLabelValues(id),
		participants:     m.roomParticipants.WithLabelValues(id),
		layerSwitches:    m.roomLayerSwitches.WithLabelValues(id),
		keyframeRequests: m.roomKeyframeRequests.WithLabelValues(id),
		nacks:            m.roomNACKs.WithLabelValues(id),
	}
}

func (m *metrics) dropRoom(id string) {
	for _, v := range []*prometheus.MetricVec{m.roomForwardedBitrate.MetricVec, m.roomParticipants.MetricVec,
		m.roomLayerSwitches.MetricVec, m.roomKeyframeRequests.MetricVec, m.roomNACKs.MetricVec} {
		v.DeleteLabelValues(id)
	}
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
		recordings:       g("recordings", "Tracks being recorded by the server."),
		recordDropped:    c("recording_dropped_packets_total", "Packets dropped because a recording's queue was full (its writer fell behind)."),
		videoPaused:      g("video_paused", "Received videos paused because the receiver's own link cannot carry them (audio goes on), at the last quality round."),
		videoLowered:     g("video_lowered", "Received videos sent at a lower layer than their tile asks for, for bandwidth, at the last quality round."),
		poorLinks:        g("poor_links", "Participants whose uplink or downlink was graded poor at the last quality round."),
	}
	m.subscriberBandwidth = prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: "sanji", Subsystem: "sfu",
		Name: "subscriber_bandwidth_bps", Help: "Subscribers' estimated downstream bandwidth, sampled at each allocation.",
		Buckets: prometheus.ExponentialBuckets(125_000, 2, 8)})
	gv := func(name, help string) *prometheus.GaugeVec {
		return prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "sanji", Subsystem: "sfu_room", Name: name, Help: help}, []string{"room"})
	}
	cv := func(name, help string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "sanji", Subsystem: "sfu_room", Name: name, Help: help}, []string{"room"})
	}
	m.roomForwardedBitrate = gv("forwarded_bitrate_bps", "Bits per second the room's subscribers are sent (from the layers they receive).")
	m.roomParticipants = gv("participants", "Participants in the room.")
	m.roomLayerSwitches = cv("layer_switches_total", "Simulcast layer switches in the room.")
	m.roomKeyframeRequests = cv("keyframe_requests_total", "PLI/FIR received from the room's subscribers.")
	m.roomNACKs = cv("nacked_packets_total", "Packets the room's subscribers asked to be retransmitted.")
	relay := func(name, help string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "sanji", Subsystem: "sfu_relay", Name: name, Help: help},
			[]string{"peer", "direction"})
	}
	m.relayPackets = relay("packets_total", "RTP packets sent to or received from another node's SFU over relays.")
	m.relayBytes = relay("bytes_total", "RTP bytes (header and payload) sent to or received from another node's SFU over relays.")
	if reg != nil {
		reg.MustRegister(m.relayPackets, m.relayBytes)
		reg.MustRegister(m.subscriberBandwidth, m.roomForwardedBitrate, m.roomParticipants, m.roomLayerSwitches,
			m.roomKeyframeRequests, m.roomNACKs)
		for _, col := range []prometheus.Collector{m.rooms, m.participants, m.tracks, m.forwardedPackets, m.forwardedBytes,
			m.nacks, m.nackMisses, m.retransmits, m.keyframeRequests, m.plisSent, m.plisThrottled, m.droppedPackets, m.layerSwitches, m.recordings, m.recordDropped,
			m.videoPaused, m.videoLowered, m.poorLinks} {
			reg.MustRegister(col)
		}
	}
	return m
}

package sfu

import (
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	rooms, participants, tracks               prometheus.Gauge
	forwarded                                 *forwardTotals
	nacks, nackMisses, retransmits            prometheus.Counter
	nacksTooOld, nacksOverBudget              prometheus.Counter
	keyframeRequests, plisSent, plisThrottled prometheus.Counter
	droppedPackets, layerSwitches             prometheus.Counter
	lateDropped, lagStepDowns                 prometheus.Counter
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
		forwarded:        newForwardTotals(),
		nacks:            c("nacked_packets_total", "Packets subscribers asked to be retransmitted."),
		nackMisses:       c("nack_misses_total", "NACKed packets no longer in the publisher buffer."),
		retransmits:      c("retransmitted_packets_total", "Packets retransmitted to subscribers."),
		nacksTooOld:      c("nacks_too_old_total", "NACKed packets not retransmitted because they were sent too long ago to be of use (a few round trips)."),
		nacksOverBudget:  c("nacks_over_budget_total", "NACKed packets not retransmitted because the subscriber's retransmission budget (a share of its bandwidth) was spent."),
		keyframeRequests: c("keyframe_requests_total", "PLI/FIR received from subscribers."),
		plisSent:         c("plis_sent_total", "Keyframe requests sent to publishers."),
		plisThrottled:    c("plis_throttled_total", "Keyframe requests not sent to publishers because of throttling."),
		droppedPackets:   c("dropped_packets_total", "Malformed or oversized packets received from publishers."),
		layerSwitches:    c("layer_switches_total", "Simulcast layer switches made by down tracks."),
		lateDropped:      c("late_dropped_packets_total", "Packets not sent to a subscriber because forwarding reached it later than sfu.max_delay after their arrival (one per subscriber)."),
		lagStepDowns:     c("lag_step_downs_total", "Down tracks stepped down a simulcast layer because forwarding to them lagged repeatedly."),
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
		for _, col := range []prometheus.Collector{m.rooms, m.participants, m.tracks, m.forwarded,
			m.nacks, m.nackMisses, m.retransmits, m.nacksTooOld, m.nacksOverBudget, m.keyframeRequests, m.plisSent, m.plisThrottled, m.droppedPackets, m.layerSwitches, m.lateDropped, m.lagStepDowns, m.recordings, m.recordDropped,
			m.videoPaused, m.videoLowered, m.poorLinks} {
			reg.MustRegister(col)
		}
	}
	return m
}

// forwardCounter is one layer's count of what its fan-out wrote. The layer's read loop adds once
// per packet, for all its subscribers: forwarding touches no counter shared between tracks (a
// global Prometheus counter per write was one cache line every forwarding goroutine wrote).
type forwardCounter struct{ packets, bytes atomic.Uint64 }

// forwardTotals is the forwarded packets and bytes counters: the live layers' counters and
// those of layers gone, folded on each scrape.
type forwardTotals struct {
	packetsDesc, bytesDesc *prometheus.Desc

	mu                           sync.Mutex
	live                         map[*forwardCounter]struct{}
	retiredPackets, retiredBytes uint64
}

func newForwardTotals() *forwardTotals {
	return &forwardTotals{
		packetsDesc: prometheus.NewDesc("sanji_sfu_forwarded_packets_total", "RTP packets written to subscribers.", nil, nil),
		bytesDesc:   prometheus.NewDesc("sanji_sfu_forwarded_bytes_total", "RTP bytes (header and payload) written to subscribers.", nil, nil),
		live:        map[*forwardCounter]struct{}{},
	}
}

// track counts c from now on, until retire.
func (f *forwardTotals) track(c *forwardCounter) {
	f.mu.Lock()
	f.live[c] = struct{}{}
	f.mu.Unlock()
}

// retire folds c into the totals for good: its layer forwards no more.
func (f *forwardTotals) retire(c *forwardCounter) {
	f.mu.Lock()
	delete(f.live, c)
	f.retiredPackets += c.packets.Load()
	f.retiredBytes += c.bytes.Load()
	f.mu.Unlock()
}

// totals are the packets and bytes forwarded so far.
func (f *forwardTotals) totals() (packets, bytes uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	packets, bytes = f.retiredPackets, f.retiredBytes
	for c := range f.live {
		packets += c.packets.Load()
		bytes += c.bytes.Load()
	}
	return packets, bytes
}

func (f *forwardTotals) Describe(ch chan<- *prometheus.Desc) {
	ch <- f.packetsDesc
	ch <- f.bytesDesc
}

func (f *forwardTotals) Collect(ch chan<- prometheus.Metric) {
	packets, bytes := f.totals()
	ch <- prometheus.MustNewConstMetric(f.packetsDesc, prometheus.CounterValue, float64(packets))
	ch <- prometheus.MustNewConstMetric(f.bytesDesc, prometheus.CounterValue, float64(bytes))
}

package cascade

import (
	"github.com/prometheus/client_golang/prometheus"
)

// metrics are a hub's Prometheus metrics: what it holds now (read on scrape) and the bytes its
// links carry.
type metrics struct {
	bytes    *prometheus.CounterVec // direction: in, out
	commands *prometheus.CounterVec // result: ok, error, link
}

func newMetrics(h *Hub, reg prometheus.Registerer) *metrics {
	m := &metrics{
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sanji_cascade_link_bytes_total",
			Help: "Bytes of the cascade links' frames (commands, events, policy, relay signaling; not media)."}, []string{"direction"}),
		commands: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sanji_cascade_commands_total",
			Help: "Commands this node sent to participants other nodes hold, by result."}, []string{"result"}),
	}
	if reg != nil {
		reg.MustRegister(m.bytes, m.commands, hubCollector{h})
	}
	return m
}

var (
	descLinks   = prometheus.NewDesc("sanji_cascade_links", "Open links to other nodes.", nil, nil)
	descRemotes = prometheus.NewDesc("sanji_cascade_remote_participants", "Participants of this node's calls whose media other nodes hold.", nil, nil)
	descHeld    = prometheus.NewDesc("sanji_cascade_held_participants", "Participants of other nodes' calls whose media this node holds.", nil, nil)
	descRelays  = prometheus.NewDesc("sanji_cascade_relays", "Relay ends with other nodes (one per call and peer).", nil, nil)
)

// hubCollector reads the hub's Stats on scrape.
type hubCollector struct{ h *Hub }

func (hubCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descLinks
	ch <- descRemotes
	ch <- descHeld
	ch <- descRelays
}

func (c hubCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.h.Stats()
	ch <- prometheus.MustNewConstMetric(descLinks, prometheus.GaugeValue, float64(s.Links))
	ch <- prometheus.MustNewConstMetric(descRemotes, prometheus.GaugeValue, float64(s.Remotes))
	ch <- prometheus.MustNewConstMetric(descHeld, prometheus.GaugeValue, float64(s.Held))
	ch <- prometheus.MustNewConstMetric(descRelays, prometheus.GaugeValue, float64(s.Relays))
}

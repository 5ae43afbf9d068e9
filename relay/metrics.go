package relay

import (
	"github.com/pion/turn/v5"
	"github.com/prometheus/client_golang/prometheus"
)

type (
	turnAllocateConfig = turn.AllocateListenerConfig
	turnConnConfig     = turn.AllocateConnConfig
)

type metrics struct {
	allocations  *prometheus.GaugeVec
	relayedBytes *prometheus.CounterVec
	refused      prometheus.Counter
	authFailures prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		allocations: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "sanji", Subsystem: "turn",
			Name: "allocations", Help: "Live TURN allocations, by how the client reaches the relay (udp, tcp, tls)."},
			[]string{"transport"}),
		relayedBytes: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "sanji", Subsystem: "turn",
			Name: "relayed_bytes_total", Help: "Payload bytes relayed, by client transport and direction (to_media, to_client)."},
			[]string{"transport", "direction"}),
		refused: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "sanji", Subsystem: "turn",
			Name: "refused_packets_total", Help: "Relayed packets dropped because their peer is not this server's media port."}),
		authFailures: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "sanji", Subsystem: "turn",
			Name: "auth_failures_total", Help: "TURN requests refused for a malformed, foreign-realm or expired credential."}),
	}
	if reg != nil {
		reg.MustRegister(m.allocations, m.relayedBytes, m.refused, m.authFailures)
	}
	return m
}

package signaling

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	sessions prometheus.Gauge
	messages *prometheus.CounterVec // direction (in|out), type
	errors   *prometheus.CounterVec // code
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		sessions: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "sanji_signaling_sessions", Help: "Open signaling WebSocket sessions.",
		}),
		messages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sanji_signaling_messages_total", Help: "Signaling messages by direction and type.",
		}, []string{"direction", "type"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sanji_signaling_errors_total", Help: "Protocol errors sent to clients, by code.",
		}, []string{"code"}),
	}
	if reg != nil {
		m.sessions = register(reg, m.sessions)
		m.messages = register(reg, m.messages)
		m.errors = register(reg, m.errors)
	}
	return m
}

// register registers c, or returns the collector already registered under its name, so that
// two servers sharing a registry (tests, restarts in-process) count together instead of failing.
func register[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	err := reg.Register(c)
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if existing, ok := are.ExistingCollector.(C); ok {
			return existing
		}
	}
	return c
}

package signaling

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	sessions prometheus.Gauge
	messages *prometheus.CounterVec // direction (in|out), type
	errors   *prometheus.CounterVec // code
	// Resume and ICE restart (resume.go).
	resumes          *prometheus.CounterVec // result: ok, refused, expired, other_node
	iceRestarts      *prometheus.CounterVec // target, by: client, server
	reconnectSeconds prometheus.Histogram
	rejoins          prometheus.Counter // joins of a client whose seat was released (join with rejoin)
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
		resumes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sanji_signaling_resumes_total",
			Help: "Resumes of a participant on a new socket, by result (ok, refused; expired: released after the grace period).",
		}, []string{"result"}),
		iceRestarts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sanji_signaling_ice_restarts_total",
			Help: "ICE restarts by connection (publisher, subscriber) and by who began it (client, server).",
		}, []string{"target", "by"}),
		reconnectSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "sanji_signaling_reconnect_seconds",
			Help:    "Time from a participant's link going down (socket lost, or a media connection down) to its socket and media connections being up again.",
			Buckets: []float64{0.5, 1, 2, 3, 5, 8, 13, 20, 30, 45, 60, 90},
		}),
		rejoins: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sanji_signaling_rejoins_total",
			Help: "Joins of a client coming back by itself after its seat was released (its resume refused once the grace period ran out).",
		}),
	}
	if reg != nil {
		m.sessions = register(reg, m.sessions)
		m.messages = register(reg, m.messages)
		m.errors = register(reg, m.errors)
		m.resumes = register(reg, m.resumes)
		m.iceRestarts = register(reg, m.iceRestarts)
		m.reconnectSeconds = register(reg, m.reconnectSeconds)
		m.rejoins = register(reg, m.rejoins)
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

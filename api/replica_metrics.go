package api

import "github.com/prometheus/client_golang/prometheus"

// replicaMetrics are the read replica's families (replica.go). They are registered on
// every server, at 0 when no replica is configured, so that dashboards and alerts see
// them from the start.
type replicaMetrics struct {
	reads     prometheus.Counter
	fallbacks *prometheus.CounterVec // by reason
	up        prometheus.Gauge
	lag       prometheus.Gauge
}

func newReplicaMetrics(reg *prometheus.Registry) *replicaMetrics {
	m := &replicaMetrics{
		reads: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "rowguard_replica_reads_total",
			Help: "Replica-safe requests answered by the read replica.",
		}),
		fallbacks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rowguard_replica_fallbacks_total",
			Help: "Replica-safe requests answered by the primary instead of the read replica, by reason.",
		}, []string{"reason"}),
		up: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "rowguard_replica_up",
			Help: "1 when the last check found the read replica up and in recovery (a hot standby), else 0 (none configured, down or promoted).",
		}),
		lag: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "rowguard_replica_lag_seconds",
			Help: "Replay lag of the read replica at its last check: 0 when it has replayed all it received, else the age of the last transaction it replayed.",
		}),
	}
	for _, reason := range replicaFallbackReasons {
		m.fallbacks.WithLabelValues(reason)
	}
	reg.MustRegister(m.reads, m.fallbacks, m.up, m.lag)
	return m
}

func (m *replicaMetrics) read() { m.reads.Inc() }

func (m *replicaMetrics) fallback(reason string) { m.fallbacks.WithLabelValues(reason).Inc() }

func (m *replicaMetrics) state(up bool, lag float64) {
	if up {
		m.up.Set(1)
	} else {
		m.up.Set(0)
	}
	m.lag.Set(lag)
}

package sip

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the SIP agent's Prometheus series, on a registry the caller owns. A nil *Metrics
// records nothing.
type Metrics struct {
	refused *prometheus.CounterVec
}

// NewMetrics registers the series on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{refused: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "mrcpd_sip_refused_total",
		Help: "SIP messages refused by the agent itself, by reason: unparsable, bad-request (400), " +
			"bad-extension (420), out-of-order (500), answer-too-large (513)."}, []string{"reason"})}
	reg.MustRegister(m.refused)
	return m
}

func (m *Metrics) refuse(reason string) {
	if m != nil {
		m.refused.WithLabelValues(reason).Inc()
	}
}

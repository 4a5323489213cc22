package server

import (
	"errors"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mrcpd/mrcpd/mrcp"
)

// Metrics are the server's Prometheus series, registered on a registry the caller owns. A nil
// *Metrics records nothing.
type Metrics struct {
	sessions    prometheus.Gauge
	ended       *prometheus.CounterVec
	refused     *prometheus.CounterVec
	messages    *prometheus.CounterVec
	completions *prometheus.CounterVec
	refusedReqs *prometheus.CounterVec
	conns       prometheus.Gauge
	connsClosed *prometheus.CounterVec
	firstAudio  prometheus.Histogram
	rtp         *rtpCollector
}

// NewMetrics registers the series on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		sessions: prometheus.NewGauge(prometheus.GaugeOpts{Name: "mrcpd_sessions",
			Help: "Live MRCP sessions."}),
		ended: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "mrcpd_sessions_ended_total",
			Help: "Sessions ended, by reason."}, []string{"reason"}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "mrcpd_sessions_rejected_total",
			Help: "Offers refused, by reason."}, []string{"reason"}),
		messages: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "mrcpd_messages_sent_total",
			Help: "MRCP responses and events sent, by resource, kind and status or event name."},
			[]string{"resource", "kind", "name"}),
		completions: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "mrcpd_completions_total",
			Help: "Completed requests, by resource and Completion-Cause."}, []string{"resource", "cause"}),
		refusedReqs: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "mrcpd_control_requests_refused_total",
			Help: "Requests refused by the channel binding (403: other-connection, transport) or a storage limit (409: params-full, grammars-full), by reason."},
			[]string{"reason"}),
		conns: prometheus.NewGauge(prometheus.GaugeOpts{Name: "mrcpd_control_connections",
			Help: "Open MRCP control connections."}),
		connsClosed: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "mrcpd_control_connections_closed_total",
			Help: "Control connections refused or closed by a limit, by reason (docs/security.md)."},
			[]string{"reason"}),
	}
	// The speechsynth target is first audio at the pacer within 50 ms of SPEAK (issue 4).
	m.firstAudio = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "mrcpd_speak_first_audio_seconds",
		Help:    "From the start of a SPEAK's synthesis to its first audio handed to the RTP pacer.",
		Buckets: []float64{.005, .01, .02, .05, .1, .2, .5, 1, 2}})
	m.rtp = newRTPCollector()
	reg.MustRegister(m.sessions, m.ended, m.refused, m.messages, m.completions, m.refusedReqs, m.conns, m.connsClosed, m.firstAudio, m.rtp)
	return m
}

func (m *Metrics) sessionStarted() {
	if m != nil {
		m.sessions.Inc()
	}
}

func (m *Metrics) sessionEnded(cause error) {
	if m == nil {
		return
	}
	m.sessions.Dec()
	reason := "bye"
	switch {
	case errors.Is(cause, ErrConnLost):
		reason = "connection-lost"
	case errors.Is(cause, ErrConnectTimeout):
		reason = "connect-timeout"
	case errors.Is(cause, ErrMediaTimeout):
		reason = "media-timeout"
	case errors.Is(cause, ErrSessionEnded):
		reason = "bye"
	case cause != nil:
		reason = "shutdown"
	}
	m.ended.WithLabelValues(reason).Inc()
}

func (m *Metrics) speakFirstAudio(d time.Duration) {
	if m != nil {
		m.firstAudio.Observe(d.Seconds())
	}
}

func (m *Metrics) rejected(reason string) {
	if m != nil {
		m.refused.WithLabelValues(reason).Inc()
	}
}

func (m *Metrics) message(resource string, msg *mrcp.Message) {
	if m == nil {
		return
	}
	name := msg.Name
	if msg.Kind == mrcp.KindResponse {
		name = strconv.Itoa(msg.StatusCode)
	}
	m.messages.WithLabelValues(resource, msg.Kind.String(), name).Inc()
}

func (m *Metrics) requestRefused(reason string) {
	if m != nil {
		m.refusedReqs.WithLabelValues(reason).Inc()
	}
}

func (m *Metrics) connOpened() {
	if m != nil {
		m.conns.Inc()
	}
}

func (m *Metrics) connGone() {
	if m != nil {
		m.conns.Dec()
	}
}

func (m *Metrics) connClosed(reason string) {
	if m != nil {
		m.connsClosed.WithLabelValues(reason).Inc()
	}
}

func (m *Metrics) completion(resource, cause string) {
	if m != nil {
		m.completions.WithLabelValues(resource, cause).Inc()
	}
}

// receiverStarted and receiverEnded keep the RTP totals (for receivers that count).
func (m *Metrics) receiverStarted(r StatsReceiver) {
	if m != nil {
		m.rtp.add(r)
	}
}

func (m *Metrics) receiverEnded(r StatsReceiver) {
	if m != nil {
		m.rtp.remove(r)
	}
}

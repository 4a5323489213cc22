package esl

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the client's counters, registered on the registry the caller
// passes in (never the global one).
type Metrics struct {
	connected          prometheus.Gauge
	reconnects         prometheus.Counter
	eventsReceived     prometheus.Counter
	eventsDropped      *prometheus.CounterVec
	malformedEvents    prometheus.Counter
	protocolErrors     prometheus.Counter
	unsolicitedReplies prometheus.Counter
	lateReplies        prometheus.Counter
	pendingCommands    prometheus.Gauge
	resyncs            *prometheus.CounterVec
	mailboxDepth       prometheus.Histogram
}

// NewMetrics builds the collectors and registers them on reg when reg is not nil.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		connected: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "esl_connected", Help: "1 while the Event Socket connection is up."}),
		reconnects: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "esl_reconnects_total", Help: "Successful reconnections after a lost connection."}),
		eventsReceived: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "esl_events_received_total", Help: "Events parsed from FreeSWITCH."}),
		eventsDropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "esl_events_dropped_total", Help: "Events not delivered, by reason."}, []string{"reason"}),
		malformedEvents: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "esl_malformed_events_total", Help: "Events that failed to parse and were skipped."}),
		protocolErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "esl_protocol_errors_total", Help: "Framing errors and unknown content types."}),
		unsolicitedReplies: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "esl_unsolicited_replies_total", Help: "Replies that arrived with no command waiting."}),
		lateReplies: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "esl_late_replies_total", Help: "Replies to cancelled commands, discarded."}),
		pendingCommands: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "esl_pending_commands", Help: "Commands written and waiting for their reply."}),
		resyncs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "esl_resyncs_total", Help: "Call state re-reads, by reason."}, []string{"reason"}),
		mailboxDepth: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "esl_mailbox_depth", Help: "Per-call mailbox depth seen at each push.",
			Buckets: []float64{0, 1, 2, 4, 8, 16, 64, 256, 1024, 4096}}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.connected, m.reconnects, m.eventsReceived, m.eventsDropped,
		m.malformedEvents, m.protocolErrors, m.unsolicitedReplies, m.lateReplies, m.pendingCommands,
		m.resyncs, m.mailboxDepth} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

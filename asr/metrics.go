package asr

import (
	"context"
	"errors"
	"io"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics is the one middleware every backend sits behind, in-process or plugin, so that
// dashboards compare them on equal terms. Labels: backend (the config name), op (recognize or
// synthesize), kind (an ErrorKind name, or "canceled").
type Metrics struct {
	streams  *prometheus.CounterVec
	active   *prometheus.GaugeVec
	first    *prometheus.HistogramVec
	result   *prometheus.HistogramVec
	errs     *prometheus.CounterVec
	restarts *prometheus.CounterVec
}

// NewMetrics registers the collectors with reg.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	buckets := []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5}
	m := &Metrics{
		streams: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "mrcpd_backend_streams_total",
			Help: "Recognition and synthesis streams opened."}, []string{"backend", "op"}),
		active: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "mrcpd_backend_active_streams",
			Help: "Streams open now."}, []string{"backend", "op"}),
		first: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "mrcpd_backend_first_event_seconds",
			Help: "From opening a stream to its first event (Ready, or first audio).", Buckets: buckets}, []string{"backend", "op"}),
		result: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "mrcpd_backend_result_seconds",
			Help: "From Finalize to the Final result.", Buckets: buckets}, []string{"backend"}),
		errs: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "mrcpd_backend_errors_total",
			Help: "Backend failures by kind."}, []string{"backend", "op", "kind"}),
		restarts: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "mrcpd_backend_restarts_total",
			Help: "Plugin processes restarted (reason=process) and streams healed (reason=stream)."}, []string{"backend", "reason"}),
	}
	for _, c := range []prometheus.Collector{m.streams, m.active, m.first, m.result, m.errs, m.restarts} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// Restarted counts a restart; reason is "process" or "stream".
func (m *Metrics) Restarted(backend, reason string) {
	m.restarts.WithLabelValues(backend, reason).Inc()
}

func (m *Metrics) fail(backend, op string, err error) {
	kind := KindOf(err).String()
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		kind = "canceled"
	}
	m.errs.WithLabelValues(backend, op, kind).Inc()
}

// Recognizer wraps r so that its streams are counted and timed under name.
func (m *Metrics) Recognizer(name string, r Recognizer) Recognizer {
	return &meteredRecognizer{m: m, name: name, r: r}
}

// Synthesizer wraps s so that its streams are counted and timed under name.
func (m *Metrics) Synthesizer(name string, s Synthesizer) Synthesizer {
	return &meteredSynthesizer{m: m, name: name, s: s}
}

type meteredRecognizer struct {
	m    *Metrics
	name string
	r    Recognizer
}

func (x *meteredRecognizer) Info(ctx context.Context) (RecognizerInfo, error) { return x.r.Info(ctx) }

func (x *meteredRecognizer) Recognize(ctx context.Context, req RecognizeRequest) (RecognitionStream, error) {
	x.m.streams.WithLabelValues(x.name, "recognize").Inc()
	s, err := x.r.Recognize(ctx, req)
	if err != nil {
		x.m.fail(x.name, "recognize", err)
		return nil, err
	}
	x.m.active.WithLabelValues(x.name, "recognize").Inc()
	return &meteredRecStream{x: x, s: s, start: time.Now()}, nil
}

type meteredRecStream struct {
	x        *meteredRecognizer
	s        RecognitionStream
	start    time.Time
	first    bool
	mu       sync.Mutex
	finalize time.Time
	once     sync.Once
}

func (s *meteredRecStream) Send(in Input) error {
	if _, ok := in.(*FinalizeInput); ok {
		s.mu.Lock()
		s.finalize = time.Now()
		s.mu.Unlock()
	}
	return s.s.Send(in)
}

func (s *meteredRecStream) Recv() (Event, error) {
	ev, err := s.s.Recv()
	if err != nil {
		s.end()
		if !errors.Is(err, io.EOF) {
			s.x.m.fail(s.x.name, "recognize", err)
		}
		return nil, err
	}
	if !s.first {
		s.first = true
		s.x.m.first.WithLabelValues(s.x.name, "recognize").Observe(time.Since(s.start).Seconds())
	}
	if _, ok := ev.(*Final); ok {
		s.mu.Lock()
		if !s.finalize.IsZero() {
			s.x.m.result.WithLabelValues(s.x.name).Observe(time.Since(s.finalize).Seconds())
		}
		s.mu.Unlock()
	}
	return ev, nil
}

func (s *meteredRecStream) end() {
	s.once.Do(func() { s.x.m.active.WithLabelValues(s.x.name, "recognize").Dec() })
}

func (s *meteredRecStream) Close() error {
	s.end()
	return s.s.Close()
}

type meteredSynthesizer struct {
	m    *Metrics
	name string
	s    Synthesizer
}

func (x *meteredSynthesizer) Info(ctx context.Context) (SynthesizerInfo, error) { return x.s.Info(ctx) }

func (x *meteredSynthesizer) Synthesize(ctx context.Context, req SynthesizeRequest) (SynthesisStream, error) {
	x.m.streams.WithLabelValues(x.name, "synthesize").Inc()
	s, err := x.s.Synthesize(ctx, req)
	if err != nil {
		x.m.fail(x.name, "synthesize", err)
		return nil, err
	}
	x.m.active.WithLabelValues(x.name, "synthesize").Inc()
	return &meteredSynthStream{x: x, s: s, start: time.Now()}, nil
}

type meteredSynthStream struct {
	x     *meteredSynthesizer
	s     SynthesisStream
	start time.Time
	first bool
	once  sync.Once
}

func (s *meteredSynthStream) Recv() (SynthEvent, error) {
	ev, err := s.s.Recv()
	if err != nil {
		s.end()
		if !errors.Is(err, io.EOF) {
			s.x.m.fail(s.x.name, "synthesize", err)
		}
		return nil, err
	}
	if _, ok := ev.(*SynthAudio); ok && !s.first {
		s.first = true
		s.x.m.first.WithLabelValues(s.x.name, "synthesize").Observe(time.Since(s.start).Seconds())
	}
	return ev, nil
}

func (s *meteredSynthStream) end() {
	s.once.Do(func() { s.x.m.active.WithLabelValues(s.x.name, "synthesize").Dec() })
}

func (s *meteredSynthStream) Close() error {
	s.end()
	return s.s.Close()
}

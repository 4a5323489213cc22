package asr_test

import (
	"context"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"

	"github.com/mrcpd/mrcpd/asr"
	"github.com/mrcpd/mrcpd/asr/asrtest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func collect(t *testing.T, s asr.RecognitionStream) ([]asr.Event, error) {
	t.Helper()
	var evs []asr.Event
	for {
		ev, err := s.Recv()
		if err != nil {
			return evs, err
		}
		evs = append(evs, ev)
	}
}

func TestHealingReplaysAfterStreamLimit(t *testing.T) {
	var heals []asr.ErrorKind
	rec := asr.Healing(&asrtest.Noop{LimitStreams: 1}, asr.HealOptions{OnHeal: func(k asr.ErrorKind) { heals = append(heals, k) }})
	s, err := rec.Recognize(context.Background(), asr.RecognizeRequest{SampleRate: 8000,
		Params: map[string]string{"noop.limit-after-ms": "100"}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	type out struct {
		evs []asr.Event
		err error
	}
	done := make(chan out)
	go func() { evs, err := collect(t, s); done <- out{evs, err} }()
	s.Send(&asr.DTMF{Digit: '4'})
	for i := 0; i < 15; i++ { // 300 ms: the first stream fails at 100 ms
		if err := s.Send(&asr.Audio{PCM: make([]int16, 160)}); err != nil {
			t.Fatal(err)
		}
	}
	s.Send(&asr.DTMF{Digit: '2'})
	s.Send(&asr.FinalizeInput{})
	o := <-done
	if !errors.Is(o.err, io.EOF) {
		t.Fatalf("Recv: %v", o.err)
	}
	var readies int
	var final *asr.Final
	for _, ev := range o.evs {
		switch e := ev.(type) {
		case *asr.Ready:
			readies++
		case *asr.Final:
			final = e
		}
	}
	if readies != 1 || final == nil || len(final.Alternatives) != 1 || final.Alternatives[0].Text != "42" {
		t.Fatalf("events %#v (final %+v)", o.evs, final)
	}
	if len(heals) != 1 || heals[0] != asr.ErrStreamLimit {
		t.Errorf("heals %v", heals)
	}
}

func TestHealingGivesUp(t *testing.T) {
	rec := asr.Healing(&asrtest.Noop{}, asr.HealOptions{MaxHeals: 2})
	s, err := rec.Recognize(context.Background(), asr.RecognizeRequest{SampleRate: 8000,
		Params: map[string]string{"noop.limit-after-ms": "20"}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.Send(&asr.Audio{PCM: make([]int16, 160)})
	_, err = collect(t, s)
	if asr.KindOf(err) != asr.ErrStreamLimit {
		t.Fatalf("err %v, want stream-limit after the heals ran out", err)
	}
}

func TestRegistry(t *testing.T) {
	r := asr.NewRegistry()
	noop := &asrtest.Noop{}
	var st asr.Stack
	if err := r.AddRecognizer("dtmf", noop); err != nil {
		t.Fatal(err)
	}
	if err := r.AddSynthesizer("tts-a", asrtest.NoopSynth{}); err != nil {
		t.Fatal(err)
	}
	if err := r.AddSynthesizer("tts-b", asrtest.NoopSynth{}); err != nil {
		t.Fatal(err)
	}
	if err := r.AddRecognizer("dtmf", noop); err == nil {
		t.Error("duplicate name accepted")
	}
	if err := st.Register(r, "x", 42); err == nil {
		t.Error("non-backend accepted")
	}
	if err := r.SetDefaults("", "tts-b"); err != nil {
		t.Fatal(err)
	}
	if err := r.SetDefaults("nope", ""); err == nil {
		t.Error("unknown default accepted")
	}
	if rec, err := r.Recognizer(""); err != nil || rec != noop {
		t.Errorf("default recognizer %v %v", rec, err)
	}
	if _, err := r.Recognizer("nope"); asr.KindOf(err) != asr.ErrUnavailable {
		t.Errorf("unknown recognizer: %v", err)
	}
	for _, tc := range []struct{ voice, want string }{
		{"", "tts-b"}, {"default", "tts-b"}, {"TTS-A", "tts-a"}, {"silence", "tts-a"}, {"unknown", "tts-b"},
	} {
		_, name, err := r.SynthesizerForVoice(context.Background(), tc.voice)
		if err != nil || name != tc.want {
			t.Errorf("voice %q -> %q %v, want %q", tc.voice, name, err, tc.want)
		}
	}
	recs, syns := r.Names()
	if strings.Join(recs, ",") != "dtmf" || strings.Join(syns, ",") != "tts-a,tts-b" {
		t.Errorf("names %v %v", recs, syns)
	}
}

func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := asr.NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	rec := m.Recognizer("noop", &asrtest.Noop{})
	s, _ := rec.Recognize(context.Background(), asr.RecognizeRequest{})
	active := func(want float64) {
		t.Helper()
		if got := metric(t, reg, "mrcpd_backend_active_streams", "backend=noop", "op=recognize"); got != want {
			t.Errorf("active streams %v, want %v", got, want)
		}
	}
	active(1)
	s.Send(&asr.FinalizeInput{})
	if _, err := collect(t, s); !errors.Is(err, io.EOF) {
		t.Fatal(err)
	}
	s.Close()
	active(0)
	if _, err := rec.Recognize(context.Background(), asr.RecognizeRequest{Grammars: []asr.Grammar{{ContentType: "application/srgs+xml", Body: []byte("x")}}}); err == nil {
		t.Fatal("want bad grammar")
	}
	m.Restarted("noop", "process")
	syn := m.Synthesizer("tts", asrtest.NoopSynth{})
	ss, _ := syn.Synthesize(context.Background(), asr.SynthesizeRequest{Text: "hi"})
	for {
		if _, err := ss.Recv(); err != nil {
			break
		}
	}
	ss.Close()
	for _, tc := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"mrcpd_backend_errors_total", []string{"backend=noop", "op=recognize", "kind=bad-grammar"}, 1},
		{"mrcpd_backend_restarts_total", []string{"backend=noop", "reason=process"}, 1},
		{"mrcpd_backend_streams_total", []string{"backend=noop", "op=recognize"}, 2},
		{"mrcpd_backend_streams_total", []string{"backend=tts", "op=synthesize"}, 1},
		{"mrcpd_backend_first_event_seconds", []string{"backend=noop", "op=recognize"}, 1},
		{"mrcpd_backend_first_event_seconds", []string{"backend=tts", "op=synthesize"}, 1},
		{"mrcpd_backend_result_seconds", []string{"backend=noop"}, 1},
	} {
		if got := metric(t, reg, tc.name, tc.labels...); got != tc.want {
			t.Errorf("%s%v = %v, want %v", tc.name, tc.labels, got, tc.want)
		}
	}
}

// metric is the value of the series with exactly these labels (a histogram's sample count).
func metric(t *testing.T, reg *prometheus.Registry, name string, labels ...string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	series:
		for _, m := range mf.Metric {
			if len(m.Label) != len(labels) {
				continue
			}
			for _, l := range m.Label {
				if !slices.Contains(labels, l.GetName()+"="+l.GetValue()) {
					continue series
				}
			}
			switch {
			case m.Counter != nil:
				return m.Counter.GetValue()
			case m.Gauge != nil:
				return m.Gauge.GetValue()
			case m.Histogram != nil:
				return float64(m.Histogram.GetSampleCount())
			}
		}
	}
	return -1
}

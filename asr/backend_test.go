package asr_test

import (
	"context"
	"errors"
	"io"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mrcpd/mrcpd/asr"
	"github.com/mrcpd/mrcpd/asr/asrtest"
)

// Every backend the stack registers is healed, measured and gated: a stream the vendor cuts is
// replayed on a new one (a stream restart in the metrics), and a retired backend stops only once
// its last stream has closed.
func TestStackRegister(t *testing.T) {
	preg := prometheus.NewRegistry()
	m, err := asr.NewMetrics(preg)
	if err != nil {
		t.Fatal(err)
	}
	var stops []string
	gate := asr.NewGate(func(why string) { stops = append(stops, why) })
	reg := asr.NewRegistry()
	st := asr.Stack{Metrics: m, Gate: gate}
	if err := st.Register(reg, "vendor", &asrtest.Noop{LimitStreams: 1}); err != nil {
		t.Fatal(err)
	}
	if err := st.Register(reg, "tts", asrtest.NoopSynth{}); err != nil {
		t.Fatal(err)
	}
	rec, err := reg.Recognizer("")
	if err != nil {
		t.Fatal(err)
	}
	s, err := rec.Recognize(context.Background(), asr.RecognizeRequest{SampleRate: 8000,
		Params: map[string]string{"noop.limit-after-ms": "100"}})
	if err != nil {
		t.Fatal(err)
	}
	for range 10 { // 200 ms: the first stream is cut at 100 ms
		if err := s.Send(&asr.Audio{PCM: make([]int16, 160)}); err != nil {
			t.Fatal(err)
		}
	}
	s.Send(&asr.FinalizeInput{})
	if _, err := collect(t, s); !errors.Is(err, io.EOF) {
		t.Fatalf("Recv: %v, want the healed stream's EOF", err)
	}
	if n := gate.Retire(); n != 1 || len(stops) != 0 {
		t.Fatalf("retired with %d streams open (want 1), stops %v", n, stops)
	}
	s.Close()
	s.Close()
	if len(stops) != 1 || stops[0] != "drained" {
		t.Fatalf("stops %v after the last stream closed, want [drained]", stops)
	}
	if gate.Shutdown() {
		t.Error("Shutdown of a drained backend asks to stop it again")
	}
	if got := metric(t, preg, "mrcpd_backend_restarts_total", "backend=vendor", "reason=stream"); got != 1 {
		t.Errorf("stream restarts %v, want 1", got)
	}
	if got := metric(t, preg, "mrcpd_backend_streams_total", "backend=vendor", "op=recognize"); got != 1 {
		t.Errorf("streams %v, want the one the caller opened", got)
	}
	syn, err := reg.Synthesizer("tts")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := syn.Info(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestGateRetiredIdleStopsNow(t *testing.T) {
	var stops []string
	g := asr.NewGate(func(why string) { stops = append(stops, why) })
	if n := g.Retire(); n != 0 || len(stops) != 1 || stops[0] != "retired" {
		t.Fatalf("open %d, stops %v", n, stops)
	}
	g.Retire()
	if len(stops) != 1 {
		t.Fatalf("stopped twice: %v", stops)
	}
	if g2 := asr.NewGate(func(string) { t.Error("shutdown calls the stop itself") }); !g2.Shutdown() || g2.Shutdown() {
		t.Error("Shutdown reports a running backend once")
	}
}

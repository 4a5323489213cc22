package main

import (
	"context"
	"syscall"
	"testing"
	"time"

	"github.com/mrcpd/mrcpd/asr"
	"github.com/mrcpd/mrcpd/asr/asrtest"
	"github.com/mrcpd/mrcpd/asr/plugin"
	"github.com/mrcpd/mrcpd/mrcp/mrcptest"
)

func startPlugin(t testing.TB, pool int) *plugin.Host {
	t.Helper()
	h, err := plugin.Start(context.Background(), plugin.HostConfig{Name: "espeak", Path: mrcptest.Binary(t, "plugins/espeak"),
		Pool: pool, Settings: map[string]string{"voice": "en-us"}, MinBackoff: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

// The real plugin process, two of them for concurrency, through the conformance suite.
func TestConformance(t *testing.T) {
	h := startPlugin(t, 2)
	asrtest.RunSynthesizer(t, func(*testing.T) asr.Synthesizer { return h.Synthesizer() }, asrtest.SynthOptions{
		Crash: func(t *testing.T) {
			for _, pid := range h.PIDs() {
				syscall.Kill(pid, syscall.SIGKILL)
			}
		},
	})
}

// BenchmarkFirstAudioPlugin is SPEAK-to-first-audio through the plugin boundary, the number the
// 50 ms target is about.
func BenchmarkFirstAudioPlugin(b *testing.B) {
	h := startPlugin(b, 1)
	syn := h.Synthesizer()
	var worst time.Duration
	for b.Loop() {
		start := time.Now()
		s, err := syn.Synthesize(context.Background(), asr.SynthesizeRequest{Text: "Thank you for calling, please say the name of the department.", SampleRate: 8000})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := s.Recv(); err != nil {
			b.Fatal(err)
		}
		worst = max(worst, time.Since(start))
		s.Close()
	}
	b.ReportMetric(float64(worst.Microseconds())/1000, "worst-first-audio-ms")
}

package asrtest

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/mrcpd/mrcpd/asr"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// The suite run against the in-process no-op backends: the baseline every plugin must match.
func TestNoopConformance(t *testing.T) {
	RunRecognizer(t, func(*testing.T) asr.Recognizer { return &Noop{} }, Options{SampleRate: 8000})
	RunSynthesizer(t, func(*testing.T) asr.Synthesizer { return NoopSynth{} }, SynthOptions{AllowSilence: true, MinSeconds: 0.2})
}

func TestSpeak(t *testing.T) {
	pcm := Speak(t, "one two three", 8000)
	if sec := float64(len(pcm)) / 8000; sec < 1 || sec > 4 {
		t.Fatalf("%.2f s for three words", sec)
	}
}

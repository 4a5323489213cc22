package plugintest

import (
	"context"
	"testing"
	"time"

	"github.com/mrcpd/mrcpd/asr"
)

// FirstAudioPrompt is the one-sentence prompt the first-audio benchmarks speak.
const FirstAudioPrompt = "Thank you for calling, please say the name of the department."

// BenchFirstAudio measures SPEAK-to-first-chunk latency and reports the worst as
// worst-first-audio-ms, the number the 50 ms target is about. after, when set, runs on each
// stream once it is closed (to drain it, so that the next utterance does not wait for this one).
func BenchFirstAudio(b *testing.B, syn asr.Synthesizer, after func(asr.SynthesisStream)) {
	var worst time.Duration
	for b.Loop() {
		start := time.Now()
		s, err := syn.Synthesize(context.Background(), asr.SynthesizeRequest{Text: FirstAudioPrompt, SampleRate: 8000})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := s.Recv(); err != nil {
			b.Fatal(err)
		}
		worst = max(worst, time.Since(start))
		s.Close()
		if after != nil {
			after(s)
		}
	}
	b.ReportMetric(float64(worst.Microseconds())/1000, "worst-first-audio-ms")
}

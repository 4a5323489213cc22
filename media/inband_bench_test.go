package media_test

import (
	"math/rand/v2"
	"testing"

	"github.com/mrcpd/mrcpd/media"
	"github.com/mrcpd/mrcpd/media/mediatest"
)

// BenchmarkInbandDetector is the in-band DTMF detector's cost per 20 ms frame at 8 kHz, on what a
// listening stream carries: silence, speech, a 440 Hz tone (BenchmarkWorkerTick's signal), white
// noise, and DTMF digits.
func BenchmarkInbandDetector(b *testing.B) {
	noise := make([]int16, 8000)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range noise {
		noise[i] = int16(rng.NormFloat64() * 3000)
	}
	signals := []struct {
		name string
		pcm  func() []int16
	}{
		{"silence", func() []int16 { return make([]int16, 8000) }},
		{"speech", func() []int16 {
			return mediatest.Speech(b, "One two three four five six seven eight nine zero. Press pound to confirm.", 8000)
		}},
		{"tone440", func() []int16 { return mediatest.Tone(8000, 1, 0.3, 440) }},
		{"noise", func() []int16 { return noise }},
		{"dtmf", func() []int16 { return mediatest.DTMF(8000, "0123456789*#ABCD", 0.07, 0.07, 0.2) }},
	}
	for _, s := range signals {
		b.Run(s.name, func(b *testing.B) {
			pcm := s.pcm()
			pcm = pcm[:len(pcm)/160*160]
			d := media.NewInbandDetector(8000)
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				at := i * 160 % len(pcm)
				d.Process(pcm[at : at+160])
			}
		})
	}
}

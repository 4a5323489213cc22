package audio_test

import (
	"testing"

	"github.com/mrcpd/mrcpd/media/audio"
	"github.com/mrcpd/mrcpd/media/mediatest"
)

// BenchmarkResample8to16 is the 8->16 kHz stage alone for one 20 ms frame.
func BenchmarkResample8to16(b *testing.B) {
	r := audio.NewResampler(8000, 16000)
	in := mediatest.Tone(8000, 0.02, 0.3, 440)
	out := make([]int16, 0, 400)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		out = r.Process(out[:0], in)
	}
}

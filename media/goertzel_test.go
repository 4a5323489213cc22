package media

import (
	"math/rand/v2"
	"testing"
)

// TestGoertzel8MatchesGo: the SSE kernel and its Go version give the same bits, on blocks of every
// length the detector uses and on odd ones, so the detector decides alike on every architecture.
func TestGoertzel8MatchesGo(t *testing.T) {
	d := newInbandDetector(8000)
	rng := rand.New(rand.NewPCG(3, 4))
	for _, n := range []int{0, 1, 7, 102, 204, 255} {
		x := make([]int16, n)
		for i := range x {
			x[i] = int16(rng.IntN(65536) - 32768)
		}
		for _, b := range []*bank8{&d.bins, &d.lo, &d.hi} {
			var asm, gen [16]float32
			goertzel8(b, x, &asm)
			goertzel8Go(b, x, &gen)
			if asm != gen {
				t.Fatalf("n=%d: goertzel8 %v, goertzel8Go %v", n, asm, gen)
			}
		}
	}
}

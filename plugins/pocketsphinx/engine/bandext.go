package engine

import "math"

// bandExtender fills the empty 4-8 kHz band of telephone audio upsampled to 16 kHz.
//
// The en-us model's mel filters reach 6.8 kHz; after a band-limited 8->16 kHz upsampler the top
// filters hold nothing but rounding noise whatever is said, which the model has never seen
// (clean 16 kHz speech low-passed at 4 kHz is misrecognised almost entirely). Spectral folding --
// adding the signal multiplied by (-1)^n, which mirrors 0-4 kHz into 4-8 kHz -- gives the top
// filters energy that rises and falls with the speech, so cepstral mean normalisation can treat
// it as a channel. Wideband input is detected and left alone.
type bandExtender struct {
	gain float64
	n    int // samples seen, for the (-1)^n parity across batches

	// Narrowband detection: energy above 4.5 kHz against total energy over the first speech.
	hp        [3]biquad // 36 dB/octave: telephone speech at 3.4 kHz must not count
	hi, total float64
	decided   bool
	wideband  bool

	// Fricative emphasis: the gain rises with the share of energy above 2.5 kHz (smoothed).
	fric      float64
	fhp       [2]biquad
	eHi, eAll float64
}

// Energy above 4.5 kHz at which input counts as wideband, and how much input decides.
const (
	widebandRatio   = 1e-3
	detectorSamples = 8000
)

func newBandExtender(gain float64) *bandExtender {
	h := newHighpass(4500, 16000)
	f := newHighpass(2500, 16000)
	return &bandExtender{gain: gain, hp: [3]biquad{h, h, h}, fhp: [2]biquad{f, f}}
}

// process returns the extended audio (a new slice; pcm is not modified).
func (b *bandExtender) process(pcm []int16) []int16 {
	out := make([]int16, len(pcm))
	for i, s := range pcm {
		x := float64(s)
		if !b.decided {
			h := b.hp[2].step(b.hp[1].step(b.hp[0].step(x)))
			b.hi += h * h
			b.total += x * x
			if b.n >= detectorSamples && b.total > 0 {
				b.decided = true
				b.wideband = b.hi/b.total > widebandRatio
			}
		}
		y := x
		if !b.wideband && b.gain > 0 {
			g := b.gain
			if b.fric > 0 {
				h := b.fhp[1].step(b.fhp[0].step(x))
				const a = 1.0 / 160 // 10 ms
				b.eHi += a * (h*h - b.eHi)
				b.eAll += a * (x*x - b.eAll)
				if b.eAll > 1 {
					g += b.fric * b.eHi / b.eAll
				}
			}
			if b.n%2 == 0 {
				y += g * x
			} else {
				y -= g * x
			}
		}
		out[i] = int16(math.Max(-32768, math.Min(32767, math.Round(y))))
		b.n++
	}
	return out
}

// biquad is a second-order IIR section (RBJ cookbook).
type biquad struct {
	b0, b1, b2, a1, a2 float64
	x1, x2, y1, y2     float64
}

func newHighpass(fc, rate float64) biquad {
	w0 := 2 * math.Pi * fc / rate
	alpha := math.Sin(w0) / (2 * math.Sqrt2 / 2)
	cw := math.Cos(w0)
	a0 := 1 + alpha
	return biquad{
		b0: (1 + cw) / 2 / a0, b1: -(1 + cw) / a0, b2: (1 + cw) / 2 / a0,
		a1: -2 * cw / a0, a2: (1 - alpha) / a0,
	}
}

func (q *biquad) step(x float64) float64 {
	y := q.b0*x + q.b1*q.x1 + q.b2*q.x2 - q.a1*q.y1 - q.a2*q.y2
	q.x2, q.x1, q.y2, q.y1 = q.x1, x, q.y1, y
	return y
}

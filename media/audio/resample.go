package audio

import (
	"fmt"
	"math"
	"slices"
)

// Resampler converts PCM between rates with a band-limited polyphase FIR: a Kaiser-windowed sinc prototype
// at L·in split into L phases, stepping M phases per output sample (L/M = out/in reduced). Linear or
// nearest-sample interpolation would fold images of telephone speech back into the band the recogniser
// listens to. The zero-valued taps of an integer-ratio upsampler make half (or more) of the phases a plain
// copy, which the hot path exploits.
type Resampler struct {
	in, out int
	l, m    int
	taps    int
	coef    []float32 // phase-major: coef[p*taps+k] multiplies x[i-k]
	phases  []phase
	buf     []float32 // taps-1 samples of history followed by pending input
	start   int       // window start (in buf) of the next output
	p       int       // its phase
	up2     bool      // 2x upsampler fast path: integer arithmetic on ibuf
	ibuf    []int16
	hq      [8]int64 // phase 1 half-filter in Q15
}

// resamplerTaps is the filter length per phase at the lower of the two rates, and beta the Kaiser window
// shape: 16 taps with beta 5 give about 50 dB of image/alias rejection and a passband to 3.3 kHz at 8 kHz,
// enough for telephone speech at a cost that fits the per-packet budget. Longer filters narrow the
// transition band at a linear cost.
const (
	resamplerTaps = 16
	resamplerBeta = 5.0
)

// NewResampler returns a resampler from inRate to outRate (Hz). Equal rates give a pass-through.
func NewResampler(inRate, outRate int) *Resampler {
	g := gcd(inRate, outRate)
	r := &Resampler{in: inRate, out: outRate, l: outRate / g, m: inRate / g}
	if inRate == outRate {
		return r
	}
	taps := resamplerTaps
	cutoff := 0.5 * float64(min(inRate, outRate)) // Hz
	n := taps * r.l
	c := float64(n / 2)
	switch {
	case r.l == 1 && r.m == 2:
		// Half-band decimator: cutoff at the new Nyquist makes every other tap zero and the filter
		// symmetric, so an odd length of 2·taps+1 costs taps/2 multiplies per output.
		taps = 2*resamplerTaps + 1
		n, c = taps, float64(resamplerTaps)
	case inRate > outRate:
		taps = (resamplerTaps*inRate/outRate + 1) &^ 1
		n, c = taps*r.l, float64(taps*r.l/2)
		cutoff *= 0.92 // leave a transition band below the new Nyquist
	case r.m != 1:
		cutoff *= 0.92
	}
	r.taps = taps
	fsp := float64(inRate * r.l) // prototype rate
	i0b := besselI0(resamplerBeta)
	half := float64(n) / 2
	r.coef = make([]float32, n)
	r.phases = make([]phase, r.l)
	for p := 0; p < r.l; p++ {
		h := r.coef[p*taps : p*taps+taps]
		for k := range h {
			x := float64(p+k*r.l) - c
			w := 0.0
			if a := x / half; a >= -1 && a <= 1 {
				w = besselI0(resamplerBeta*math.Sqrt(1-a*a)) / i0b
			}
			h[k] = float32(2 * cutoff / fsp * sinc(2*cutoff/fsp*x) * w * float64(r.l))
		}
		r.phases[p] = classifyPhase(h)
	}
	r.buf = make([]float32, taps-1, taps-1+1024)
	r.up2 = r.l == 2 && r.m == 1 && taps == 16 && r.phases[0].kind == phaseIdentity && r.phases[1].kind == phaseSym &&
		r.phases[0].idx == 7
	if r.up2 {
		for k, v := range r.phases[1].h {
			r.hq[k] = int64(math.Round(float64(v) * 32768))
		}
		r.ibuf = make([]int16, 15, 15+1024)
	}
	return r
}

// phase is one polyphase branch, reduced to the cheapest form that computes it exactly.
type phase struct {
	kind int // phaseFull, phaseIdentity, phaseSym, phaseHalfband
	idx  int // identity: window position passed through
	h    []float32
	hc   float32 // half-band centre tap
}

const (
	phaseFull = iota
	phaseIdentity
	phaseSym
	phaseHalfband
)

func near(a, b float32) bool { return math.Abs(float64(a-b)) <= 1e-7 }

// classifyPhase looks at coefficients h (h[k] multiplies x[i-k], i.e. window position len-1-k) and
// picks the cheapest exact form.
func classifyPhase(h []float32) phase {
	n := len(h)
	nz, last := 0, -1
	for k, v := range h {
		if !near(v, 0) {
			nz, last = nz+1, k
		}
	}
	if nz == 1 && near(h[last], 1) {
		return phase{kind: phaseIdentity, idx: n - 1 - last}
	}
	sym := true
	for k := 0; k < n/2; k++ {
		sym = sym && near(h[k], h[n-1-k])
	}
	if !sym {
		return phase{kind: phaseFull, h: h}
	}
	if n%2 == 1 {
		c := n / 2
		hb := true
		for k := 0; k < n; k++ {
			if d := k - c; d != 0 && d%2 == 0 {
				hb = hb && near(h[k], 0)
			}
		}
		if hb {
			odd := make([]float32, 0, n/4+1)
			for d := 1; d <= c; d += 2 {
				odd = append(odd, h[c+d])
			}
			return phase{kind: phaseHalfband, h: odd, hc: h[c]}
		}
		return phase{kind: phaseFull, h: h}
	}
	return phase{kind: phaseSym, h: h[:n/2]}
}

// Process appends the resampled src to dst. State carries across calls, so a stream may be fed in
// frames of any size.
func (r *Resampler) Process(dst, src []int16) []int16 {
	if r.in == r.out {
		return append(dst, src...)
	}
	if r.up2 {
		return r.processUp2(dst, src)
	}
	n := len(r.buf)
	r.buf = slices.Grow(r.buf, len(src))[:n+len(src)]
	in := r.buf[n:]
	for i, s := range src {
		in[i] = float32(s)
	}
	taps, l := r.taps, r.l
	step, frac := r.m/l, r.m%l
	buf := r.buf
	start, p := r.start, r.p
	for start+taps <= len(buf) {
		ph := &r.phases[p]
		x := buf[start : start+taps]
		var y float32
		switch ph.kind {
		case phaseIdentity:
			y = x[ph.idx]
		case phaseSym:
			if len(x) == 16 && len(ph.h) == 8 {
				y = symDot16((*[8]float32)(ph.h), (*[16]float32)(x))
			} else {
				y = symDot(ph.h, x)
			}
		case phaseHalfband:
			if len(x) == 33 && len(ph.h) == 8 {
				y = halfbandDot33((*[8]float32)(ph.h), ph.hc, (*[33]float32)(x))
			} else {
				y = halfbandDot(ph.h, ph.hc, x)
			}
		default:
			y = dot(ph.h, x)
		}
		dst = append(dst, Clamp16(y))
		start += step
		if p += frac; p >= l {
			p -= l
			start++
		}
	}
	// Keep the samples from the next output's window on (at least taps-1 of history).
	drop := min(start, len(buf)-(taps-1))
	n = copy(r.buf, buf[drop:])
	r.buf = r.buf[:n]
	r.start, r.p = start-drop, p
	return dst
}

// processUp2 is Process for 2x upsampling (8->16, 16->32, 24->48 kHz): phase 0 copies the input, phase 1
// is a 16-tap symmetric filter. Two outputs per input sample, no per-sample dispatch.
func (r *Resampler) processUp2(dst, src []int16) []int16 {
	buf := append(r.ibuf, src...)
	h := &r.hq
	n := len(buf) - 15
	base := len(dst)
	dst = slices.Grow(dst, 2*n)[:base+2*n]
	out := dst[base:]
	for k := 0; k < n; k++ {
		x := (*[16]int16)(buf[k : k+16])
		o := (*[2]int16)(out[2*k : 2*k+2])
		o[0] = x[7] // phase 0 is the input sample itself
		y := h[0]*(int64(x[0])+int64(x[15])) + h[1]*(int64(x[1])+int64(x[14])) +
			h[2]*(int64(x[2])+int64(x[13])) + h[3]*(int64(x[3])+int64(x[12])) +
			h[4]*(int64(x[4])+int64(x[11])) + h[5]*(int64(x[5])+int64(x[10])) +
			h[6]*(int64(x[6])+int64(x[9])) + h[7]*(int64(x[7])+int64(x[8]))
		y = (y + 1<<14) >> 15
		o[1] = int16(min(max(y, -32768), 32767))
	}
	m := copy(buf, buf[n:])
	r.ibuf = buf[:m]
	return dst
}

// halfbandDot33 is halfbandDot for the 33-tap decimators, unrolled without bounds checks.
func halfbandDot33(h *[8]float32, hc float32, x *[33]float32) float32 {
	a0 := h[0]*(x[15]+x[17]) + h[1]*(x[13]+x[19])
	a1 := h[2]*(x[11]+x[21]) + h[3]*(x[9]+x[23])
	a2 := h[4]*(x[7]+x[25]) + h[5]*(x[5]+x[27])
	a3 := h[6]*(x[3]+x[29]) + h[7]*(x[1]+x[31])
	return hc*x[16] + (a0 + a1) + (a2 + a3)
}

// symDot16 is symDot for the 16-tap phases of the 2x upsamplers, unrolled without bounds checks.
func symDot16(h *[8]float32, x *[16]float32) float32 {
	a0 := h[0]*(x[0]+x[15]) + h[1]*(x[1]+x[14])
	a1 := h[2]*(x[2]+x[13]) + h[3]*(x[3]+x[12])
	a2 := h[4]*(x[4]+x[11]) + h[5]*(x[5]+x[10])
	a3 := h[6]*(x[6]+x[9]) + h[7]*(x[7]+x[8])
	return (a0 + a1) + (a2 + a3)
}

// symDot is the inner product with an even-length symmetric filter whose first half is h: one multiply
// per pair of taps.
func symDot(h, x []float32) float32 {
	n := len(x)
	var a0, a1 float32
	k := 0
	for ; k+1 < len(h); k += 2 {
		a0 += h[k] * (x[k] + x[n-1-k])
		a1 += h[k+1] * (x[k+1] + x[n-2-k])
	}
	for ; k < len(h); k++ {
		a0 += h[k] * (x[k] + x[n-1-k])
	}
	return a0 + a1
}

// halfbandDot is the inner product of an odd-length symmetric half-band filter: the centre tap plus
// pairs at odd distances from it (h[0] is distance 1, h[1] distance 3, ...).
func halfbandDot(h []float32, hc float32, x []float32) float32 {
	c := len(x) / 2
	var a0, a1 float32
	k := 0
	for ; k+1 < len(h); k += 2 {
		d0, d1 := 2*k+1, 2*k+3
		a0 += h[k] * (x[c-d0] + x[c+d0])
		a1 += h[k+1] * (x[c-d1] + x[c+d1])
	}
	for ; k < len(h); k++ {
		d := 2*k + 1
		a0 += h[k] * (x[c-d] + x[c+d])
	}
	return hc*x[c] + a0 + a1
}

// dot is the FIR inner product; x is in time order and h was laid out reversed accordingly.
func dot(h, x []float32) float32 {
	n := len(h)
	x = x[:n]
	var a0, a1, a2, a3 float32
	k, j := 0, n-4
	for ; k+3 < n && j >= 0; k, j = k+4, j-4 {
		hh, xx := h[k:k+4:k+4], x[j:j+4:j+4]
		a0 += hh[0] * xx[3]
		a1 += hh[1] * xx[2]
		a2 += hh[2] * xx[1]
		a3 += hh[3] * xx[0]
	}
	for ; k < n; k++ {
		a0 += h[k] * x[n-1-k]
	}
	return (a0 + a1) + (a2 + a3)
}

// Reset clears the filter history (a new stream).
func (r *Resampler) Reset() {
	if r.in == r.out {
		return
	}
	if r.up2 {
		r.ibuf = r.ibuf[:15]
		clear(r.ibuf)
	}
	r.buf = r.buf[:r.taps-1]
	clear(r.buf)
	r.start, r.p = 0, 0
}

// Rates returns the input and output rates.
func (r *Resampler) Rates() (in, out int) { return r.in, r.out }

func (r *Resampler) String() string {
	return fmt.Sprintf("Resample(%s->%s)", khz(r.in), khz(r.out))
}

func khz(rate int) string {
	if rate%1000 == 0 {
		return fmt.Sprintf("%dk", rate/1000)
	}
	return fmt.Sprintf("%.2fk", float64(rate)/1000)
}

// Clamp16 converts with saturation; truncation towards zero costs under one LSB and saves a rounding
// step per sample.
func Clamp16(y float32) int16 {
	v := int32(y)
	if v > 32767 {
		return 32767
	}
	if v < -32768 {
		return -32768
	}
	return int16(v)
}

func sinc(x float64) float64 {
	if x == 0 {
		return 1
	}
	return math.Sin(math.Pi*x) / (math.Pi * x)
}

func besselI0(x float64) float64 {
	sum, term := 1.0, 1.0
	for k := 1; k < 50; k++ {
		term *= (x / (2 * float64(k))) * (x / (2 * float64(k)))
		sum += term
		if term < 1e-12*sum {
			break
		}
	}
	return sum
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

package media

import (
	"fmt"
	"math"
)

// Resampler converts PCM between rates with a band-limited polyphase FIR: a Kaiser-windowed sinc prototype
// at L·in split into L phases, stepping M phases per output sample (L/M = out/in reduced). Linear or
// nearest-sample interpolation would fold images of telephone speech back into the band the recogniser
// listens to. The zero-valued taps of an integer-ratio upsampler make half (or more) of the phases a plain
// copy, which the hot path exploits.
type Resampler struct {
	in, out  int
	l, m     int
	taps     int
	coef     []float32 // phase-major: coef[p*taps+k] multiplies x[i-k]
	identity []bool    // phase p passes x[i-taps/2] through unchanged
	buf      []float32 // taps-1 samples of history followed by pending input
	t        int       // position of the next output in units of 1/L input sample, relative to buf[0]
}

// resamplerTaps is the filter length per phase at the lower of the two rates; longer filters give a
// narrower transition band at a linear cost.
const resamplerTaps = 24

// NewResampler returns a resampler from inRate to outRate (Hz). Equal rates give a pass-through.
func NewResampler(inRate, outRate int) *Resampler {
	g := gcd(inRate, outRate)
	r := &Resampler{in: inRate, out: outRate, l: outRate / g, m: inRate / g}
	if inRate == outRate {
		return r
	}
	taps := resamplerTaps
	if inRate > outRate {
		taps = (resamplerTaps*inRate/outRate + 1) &^ 1
	}
	r.taps = taps
	cutoff := 0.5 * float64(min(inRate, outRate)) // Hz
	if inRate > outRate || r.m != 1 {
		cutoff *= 0.92 // leave a transition band below the new Nyquist
	}
	fsp := float64(inRate * r.l) // prototype rate
	n := taps * r.l
	c := float64(n / 2)
	const beta = 7.0
	i0b := besselI0(beta)
	r.coef = make([]float32, n)
	r.identity = make([]bool, r.l)
	for p := 0; p < r.l; p++ {
		isID := true
		for k := 0; k < taps; k++ {
			j := p + k*r.l
			x := float64(j) - c
			h := 2 * cutoff / fsp * sinc(2*cutoff/fsp*x)
			w := 0.0
			if a := 2*float64(j)/float64(n) - 1; a >= -1 && a <= 1 {
				w = besselI0(beta*math.Sqrt(1-a*a)) / i0b
			}
			v := float32(h * w * float64(r.l))
			r.coef[p*taps+k] = v
			want := float32(0)
			if j == int(c) {
				want = 1
			}
			if math.Abs(float64(v-want)) > 1e-6 {
				isID = false
			}
		}
		r.identity[p] = isID
	}
	r.buf = make([]float32, taps-1, taps-1+1024)
	return r
}

// Process appends the resampled src to dst. State carries across calls, so a stream may be fed in
// frames of any size.
func (r *Resampler) Process(dst, src []int16) []int16 {
	if r.in == r.out {
		return append(dst, src...)
	}
	for _, s := range src {
		r.buf = append(r.buf, float32(s))
	}
	taps, l, m := r.taps, r.l, r.m
	buf := r.buf
	t := r.t
	for {
		i := t/l + taps - 1 // newest input sample used
		if i >= len(buf) {
			break
		}
		p := t % l
		var y float32
		if r.identity[p] {
			y = buf[i-taps/2]
		} else {
			h := r.coef[p*taps : p*taps+taps]
			x := buf[i+1-taps : i+1]
			y = dot(h, x)
		}
		dst = append(dst, clamp16(y))
		t += m
	}
	// Keep taps-1 samples of history before the next output's window.
	drop := t / l
	if drop > len(buf)-(taps-1) {
		drop = len(buf) - (taps - 1)
	}
	n := copy(r.buf, buf[drop:])
	r.buf = r.buf[:n]
	r.t = t - drop*l
	return dst
}

// dot is the FIR inner product; x is in time order and h was laid out reversed accordingly.
func dot(h, x []float32) float32 {
	x = x[:len(h)]
	var a0, a1, a2, a3 float32
	n := len(h)
	k := 0
	for ; k+3 < n; k += 4 {
		a0 += h[k] * x[n-1-k]
		a1 += h[k+1] * x[n-2-k]
		a2 += h[k+2] * x[n-3-k]
		a3 += h[k+3] * x[n-4-k]
	}
	for ; k < n; k++ {
		a0 += h[k] * x[n-1-k]
	}
	return a0 + a1 + a2 + a3
}

// Reset clears the filter history (a new stream).
func (r *Resampler) Reset() {
	if r.in == r.out {
		return
	}
	r.buf = r.buf[:r.taps-1]
	clear(r.buf)
	r.t = 0
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

func clamp16(y float32) int16 {
	if y >= 32767 {
		return 32767
	}
	if y <= -32768 {
		return -32768
	}
	if y < 0 {
		return int16(y - 0.5)
	}
	return int16(y + 0.5)
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

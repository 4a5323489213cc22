package media

import (
	"math"
	"slices"
	"time"
)

var (
	dtmfRows = [4]float64{697, 770, 852, 941}
	dtmfCols = [4]float64{1209, 1336, 1477, 1633}
)

const dtmfKeys = "123A456B789C*0#D"

// Limits in the manner of ITU-T Q.24 (the values most administrations use) and spandsp's detector.
const (
	dtmfMinTone      = 400.0 // per-tone amplitude floor (-38 dBFS, well below Q.24's -25 dBm0 minimum)
	dtmfTwistHigh    = 4.0   // dB the high group may exceed the low group ("reverse twist")
	dtmfTwistLow     = 8.0   // dB the high group may be below the low group ("normal twist")
	dtmfRelPeak      = 6.0   // dB each tone must exceed the others of its group
	dtmfPurity       = 0.80  // share of block energy that the two tones must carry (rejects speech)
	dtmfDetune       = 0.04  // probes at ±4%: a tone off by more than ~3.5% loses to a probe (rejected)
	dtmfConfirm      = 2     // consecutive windows to accept a digit
	dtmfPauseWindows = 2     // consecutive windows without it to end it
)

type goertzel struct{ coef float64 }

func newGoertzel(f float64, rate int) goertzel {
	return goertzel{coef: 2 * math.Cos(2*math.Pi*f/float64(rate))}
}

// powers8 runs eight Goertzel filters in one pass: eight independent recurrences per sample keep the
// CPU's pipelines busy where eight passes would each wait on their own dependency chain.
func powers8(g *[8]goertzel, x []float32, p *[8]float64) {
	c0, c1, c2, c3 := float32(g[0].coef), float32(g[1].coef), float32(g[2].coef), float32(g[3].coef)
	c4, c5, c6, c7 := float32(g[4].coef), float32(g[5].coef), float32(g[6].coef), float32(g[7].coef)
	var a0, a1, a2, a3, a4, a5, a6, a7 float32
	var b0, b1, b2, b3, b4, b5, b6, b7 float32
	for _, v := range x {
		a0, b0 = v+c0*a0-b0, a0
		a1, b1 = v+c1*a1-b1, a1
		a2, b2 = v+c2*a2-b2, a2
		a3, b3 = v+c3*a3-b3, a3
		a4, b4 = v+c4*a4-b4, a4
		a5, b5 = v+c5*a5-b5, a5
		a6, b6 = v+c6*a6-b6, a6
		a7, b7 = v+c7*a7-b7, a7
	}
	pw := func(a, b, c float32) float64 {
		return float64(a)*float64(a) + float64(b)*float64(b) - float64(c)*float64(a)*float64(b)
	}
	p[0], p[1], p[2], p[3] = pw(a0, b0, c0), pw(a1, b1, c1), pw(a2, b2, c2), pw(a3, b3, c3)
	p[4], p[5], p[6], p[7] = pw(a4, b4, c4), pw(a5, b5, c5), pw(a6, b6, c6), pw(a7, b7, c7)
}

func (g goertzel) power(x []float32) float64 {
	var s1, s2 float64
	for _, v := range x {
		s0 := float64(v) + g.coef*s1 - s2
		s2, s1 = s1, s0
	}
	return s1*s1 + s2*s2 - g.coef*s1*s2
}

// inbandDetector finds DTMF tones in audio with Goertzel filters over 12.75 ms blocks (102 samples at
// 8 kHz, as spandsp does): two consecutive blocks accept a digit, so tones of 40 ms and more (Q.24's
// minimum) are detected; two blocks without it end it. Each key press is reported once, when it ends.
type inbandDetector struct {
	rate    int
	n, hop  int
	buf     []float32
	bins    [8]goertzel
	lo, hi  [8]goertzel // detuned probes
	cur     rune
	hits    int
	misses  int
	windows int
}

func newInbandDetector(rate int) *inbandDetector {
	d := &inbandDetector{rate: rate, n: rate * 102 / 8000}
	d.hop = d.n
	d.buf = make([]float32, 0, d.n+rate/10)
	for i, f := range append(dtmfRows[:], dtmfCols[:]...) {
		d.bins[i] = newGoertzel(f, rate)
		d.lo[i] = newGoertzel(f*(1-dtmfDetune), rate)
		d.hi[i] = newGoertzel(f*(1+dtmfDetune), rate)
	}
	return d
}

func (d *inbandDetector) String() string { return "inband" }

// process consumes audio and returns the digit that ended in it, if any (at most one per 20 ms frame in
// practice, as a key press lasts at least two windows).
func (d *inbandDetector) process(pcm []int16) (DTMFEvent, bool) {
	n := len(d.buf)
	d.buf = slices.Grow(d.buf, len(pcm))[:n+len(pcm)]
	in := d.buf[n:]
	for i, s := range pcm {
		in[i] = float32(s)
	}
	var out DTMFEvent
	var have bool
	for len(d.buf) >= d.n {
		if ev, ok := d.window(d.classify(d.buf[:d.n])); ok {
			out, have = ev, true
		}
		n := copy(d.buf, d.buf[d.hop:])
		d.buf = d.buf[:n]
	}
	return out, have
}

func (d *inbandDetector) window(key rune) (DTMFEvent, bool) {
	switch {
	case key != 0 && key == d.cur:
		d.hits++
		d.misses = 0
		d.windows++
	case key != 0:
		ev, ok := d.end()
		d.cur, d.hits, d.misses, d.windows = key, 1, 0, 1
		return ev, ok
	case d.cur != 0:
		d.misses++
		if d.misses >= dtmfPauseWindows {
			ev, ok := d.end()
			d.cur = 0
			return ev, ok
		}
	}
	return DTMFEvent{}, false
}

func (d *inbandDetector) end() (DTMFEvent, bool) {
	if d.cur == 0 || d.hits < dtmfConfirm {
		return DTMFEvent{}, false
	}
	dur := time.Duration(d.windows*d.hop+d.n-d.hop) * time.Second / time.Duration(d.rate)
	return DTMFEvent{Digit: d.cur, Duration: dur, Source: "inband"}, true
}

// classify returns the key whose row and column tones dominate x, or 0.
func (d *inbandDetector) classify(x []float32) rune {
	var e0, e1 float32
	for i := 0; i+1 < len(x); i += 2 {
		e0 += x[i] * x[i]
		e1 += x[i+1] * x[i+1]
	}
	if len(x)%2 == 1 {
		e0 += x[len(x)-1] * x[len(x)-1]
	}
	e := float64(e0) + float64(e1)
	n := float64(len(x))
	if e == 0 {
		return 0
	}
	n2 := dtmfMinTone * dtmfMinTone * n // two tones at the floor carry at least this energy
	if e < n2 {
		return 0
	}
	var p [8]float64
	powers8(&d.bins, x, &p)
	r, c := argmax(p[:4]), 4+argmax(p[4:])
	// Power of a sinusoid of amplitude A at its bin is (A·n/2)².
	minP := (dtmfMinTone * n / 2) * (dtmfMinTone * n / 2)
	if p[r] < minP || p[c] < minP {
		return 0
	}
	twist := 10 * math.Log10(p[c]/p[r])
	if twist > dtmfTwistHigh || twist < -dtmfTwistLow {
		return 0
	}
	rel := math.Pow(10, dtmfRelPeak/10)
	for i := 0; i < 4; i++ {
		if (i != r && p[i]*rel > p[r]) || (i+4 != c && p[i+4]*rel > p[c]) {
			return 0
		}
	}
	// A sinusoid carries energy A²n/2, so 2p/n is its share of e.
	if (p[r]+p[c])*2/n < dtmfPurity*e {
		return 0
	}
	for _, i := range [2]int{r, c} {
		if d.lo[i].power(x) > p[i] || d.hi[i].power(x) > p[i] {
			return 0
		}
	}
	return rune(dtmfKeys[r*4+(c-4)])
}

func argmax(p []float64) int {
	b := 0
	for i := range p {
		if p[i] > p[b] {
			b = i
		}
	}
	return b
}

func (d *inbandDetector) reset() {
	d.buf = d.buf[:0]
	d.cur, d.hits, d.misses = 0, 0, 0
}

// DTMF tone frequencies for a key, for generators in tests and clients.
func DTMFFrequencies(digit rune) (row, col float64, err error) {
	for i, k := range dtmfKeys {
		if k == digit {
			return dtmfRows[i/4], dtmfCols[i%4], nil
		}
	}
	return 0, 0, ErrBadDigit
}

package media

import (
	"math"
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

// The limits in dB as power ratios, for classify's comparisons.
var (
	twistHigh = math.Pow(10, dtmfTwistHigh/10)
	twistLow  = math.Pow(10, dtmfTwistLow/10)
	relPeak   = math.Pow(10, dtmfRelPeak/10)
)

// bank8 is eight Goertzel filters' coefficients, 2·cos(2πf/rate), run in one pass over a block.
type bank8 [8]float32

func (b *bank8) set(i int, f float64, rate int) {
	b[i] = float32(2 * math.Cos(2*math.Pi*f/float64(rate)))
}

// powers runs the eight filters over x and returns each one's power at its frequency. The recurrence
// s(t) = x(t) + c·s(t-1) - s(t-2) runs in float32 (goertzel8: SSE on amd64, eight lanes in two
// registers); the power s1² + s2² - c·s1·s2 in float64.
func (b *bank8) powers(x []int16, p *[8]float64) {
	var s [16]float32
	goertzel8(b, x, &s)
	for i := range p {
		a, z := float64(s[i]), float64(s[8+i])
		p[i] = a*a + z*z - float64(b[i])*a*z
	}
}

// goertzel8Go is the recurrence of goertzel8 in Go: the same operations in the same order, so both give
// the same bits (TestGoertzel8MatchesGo). It leaves s(t) in s[:8] and s(t-1) in s[8:].
func goertzel8Go(c *bank8, x []int16, s *[16]float32) {
	for h := 0; h < 8; h += 4 { // four recurrences a pass keep their state in registers
		c0, c1, c2, c3 := c[h], c[h+1], c[h+2], c[h+3]
		var a0, a1, a2, a3, b0, b1, b2, b3 float32
		for _, xv := range x {
			v := float32(xv)
			a0, b0 = (v-b0)+float32(c0*a0), a0 // the conversion forbids a fused multiply-add
			a1, b1 = (v-b1)+float32(c1*a1), a1
			a2, b2 = (v-b2)+float32(c2*a2), a2
			a3, b3 = (v-b3)+float32(c3*a3), a3
		}
		s[h], s[h+1], s[h+2], s[h+3] = a0, a1, a2, a3
		s[8+h], s[9+h], s[10+h], s[11+h] = b0, b1, b2, b3
	}
}

// inbandDetector finds DTMF tones in audio with Goertzel filters over 12.75 ms blocks (102 samples at
// 8 kHz, as spandsp does): two consecutive blocks accept a digit, so tones of 40 ms and more (Q.24's
// minimum) are detected; two blocks without it end it. Each key press is reported once, when it ends.
type inbandDetector struct {
	rate    int
	n, hop  int
	buf     []int16
	bins    bank8
	lo, hi  bank8 // detuned probes (±dtmfDetune) of each bin
	cur     rune
	hits    int
	misses  int
	windows int
}

func newInbandDetector(rate int) *inbandDetector {
	d := &inbandDetector{rate: rate, n: rate * 102 / 8000}
	d.hop = d.n
	d.buf = make([]int16, 0, d.n+rate/50) // grows for longer packets
	for i, f := range append(dtmfRows[:], dtmfCols[:]...) {
		d.bins.set(i, f, rate)
		d.lo.set(i, f*(1-dtmfDetune), rate)
		d.hi.set(i, f*(1+dtmfDetune), rate)
	}
	return d
}

func (d *inbandDetector) String() string { return "inband" }

// process consumes audio and returns the digit that ended in it, if any (at most one per 20 ms frame in
// practice, as a key press lasts at least two windows).
func (d *inbandDetector) process(pcm []int16) (DTMFEvent, bool) {
	d.buf = append(d.buf, pcm...)
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
func (d *inbandDetector) classify(x []int16) rune {
	var ei int64 // exact, and a range loop has no bounds checks
	for _, v := range x {
		ei += int64(v) * int64(v)
	}
	e := float64(ei)
	n := float64(len(x))
	// The gate: two tones at the floor carry at least this energy, so a quieter block (silence,
	// pauses, background) cannot hold a digit and skips the filter bank.
	if e < dtmfMinTone*dtmfMinTone*n {
		return 0
	}
	var p [8]float64
	d.bins.powers(x, &p)
	r, c := argmax(p[:4]), 4+argmax(p[4:])
	// Power of a sinusoid of amplitude A at its bin is (A·n/2)².
	minP := (dtmfMinTone * n / 2) * (dtmfMinTone * n / 2)
	if p[r] < minP || p[c] < minP {
		return 0
	}
	if p[c] > p[r]*twistHigh || p[c]*twistLow < p[r] {
		return 0
	}
	for i := 0; i < 4; i++ {
		if (i != r && p[i]*relPeak > p[r]) || (i+4 != c && p[i+4]*relPeak > p[c]) {
			return 0
		}
	}
	// A sinusoid carries energy A²n/2, so 2p/n is its share of e.
	if (p[r]+p[c])*2/n < dtmfPurity*e {
		return 0
	}
	// The detuned probes of the two tones, in one pass (the other lanes repeat them).
	probes := bank8{d.lo[r], d.hi[r], d.lo[c], d.hi[c], d.lo[r], d.hi[r], d.lo[c], d.hi[c]}
	var q [8]float64
	probes.powers(x, &q)
	if q[0] > p[r] || q[1] > p[r] || q[2] > p[c] || q[3] > p[c] {
		return 0
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

package media

import (
	"fmt"
	"math"
)

// PLC conceals lost packets. For waveform codecs (G.711, L16, G.722) it is pitch-based waveform
// substitution in the manner of ITU-T G.711 Appendix I: find the pitch period in the recent history,
// repeat the last pitch periods (one, then two, then three as the loss lasts), attenuate from 10 ms into
// the loss by 20% per 10 ms down to silence at 60 ms, and overlap-add the first good packet with the
// synthetic continuation so that the join does not click. Decoders that conceal themselves (Opus) are
// called instead.
type PLC struct {
	rate       int
	dec        Concealer // non-nil: the decoder conceals
	hist       []int16   // last histLen output samples
	histLen    int
	pitch      int
	pbuf       []float32 // pitch periods being repeated
	pbufLen    int
	pos        int // read position in pbuf
	lost       int // samples concealed in the current loss
	scratch    []int16
	minP, maxP int
}

// NewPLC returns a concealment stage for audio at rate. dec may be nil.
func NewPLC(rate int, dec Concealer) *PLC {
	p := &PLC{rate: rate, dec: dec}
	p.histLen = rate * 390 / 8000 // 48.75 ms, as in G.711 Appendix I
	p.minP, p.maxP = rate/200, rate*15/1000
	p.hist = make([]int16, p.histLen)
	p.pbuf = make([]float32, 3*p.maxP)
	p.scratch = make([]int16, 0, rate/10)
	return p
}

func (p *PLC) String() string {
	if p.dec != nil {
		return "PLC(decoder)"
	}
	return "PLC(G.711-I)"
}

// Good passes a decoded frame through, smoothing the join after a loss, and records it as history.
func (p *PLC) Good(pcm []int16) {
	if p.lost > 0 && p.dec == nil {
		ms10 := p.lost * 100 / p.rate
		ol := p.pitch/4 + p.rate*4/1000*max(0, ms10-1)
		ol = min(ol, p.rate/100, len(pcm))
		if ol > 0 {
			syn := p.synth(p.scratch[:0], ol)
			for i := 0; i < ol; i++ {
				w := float32(i+1) / float32(ol+1)
				pcm[i] = clamp16(float32(pcm[i])*w + float32(syn[i])*(1-w))
			}
		}
	}
	p.lost = 0
	p.push(pcm)
}

// Conceal appends n samples of synthetic audio for a lost packet. next is the following packet's payload
// when already buffered (for decoders with in-band FEC), or nil.
func (p *PLC) Conceal(dst []int16, n int, next []byte) []int16 {
	if p.dec != nil {
		start := len(dst)
		out, err := p.dec.Conceal(dst, n, next)
		if err != nil || len(out)-start != n {
			out = append(dst[:start], make([]int16, n)...)
		}
		p.lost += n
		return out
	}
	if p.lost == 0 {
		p.startLoss()
	}
	start := len(dst)
	dst = p.synth(dst, n)
	p.push(dst[start:])
	return dst
}

// startLoss finds the pitch period by maximising the normalised correlation of the last 20 ms... of
// history against itself lagged by 5 to 15 ms.
func (p *PLC) startLoss() {
	h := p.hist
	win := min(p.rate/50, len(h)-p.maxP)
	end := len(h)
	best, bestC := p.minP, math.Inf(-1)
	for lag := p.minP; lag <= p.maxP; lag++ {
		var c, e float64
		for i := end - win; i < end; i++ {
			a, b := float64(h[i]), float64(h[i-lag])
			c += a * b
			e += b * b
		}
		if e > 0 {
			c /= math.Sqrt(e)
		}
		if c > bestC {
			best, bestC = lag, c
		}
	}
	p.pitch = best
	p.fill(1)
}

// fill loads the last k pitch periods of history into the repeat buffer, cross-fading the wrap point
// over a quarter period.
func (p *PLC) fill(k int) {
	n := k * p.pitch
	h := p.hist
	src := h[len(h)-n:]
	for i, s := range src {
		p.pbuf[i] = float32(s)
	}
	q := p.pitch / 4
	for i := 0; i < q && n+i < len(h) && len(h)-n-q+i >= 0; i++ {
		w := float32(i+1) / float32(q+1)
		// The end of the buffer must flow into its start: blend the start with what preceded it.
		p.pbuf[i] = p.pbuf[i]*w + float32(h[len(h)-n-q+i])*(1-w)
	}
	p.pbufLen, p.pos = n, 0
}

// synth appends n samples continuing the current loss.
func (p *PLC) synth(dst []int16, n int) []int16 {
	ms10 := p.rate / 100
	lost := p.lost
	for i := 0; i < n; i++ {
		switch lost {
		case ms10:
			p.fill(2)
		case 2 * ms10:
			p.fill(3)
		}
		g := float32(1)
		if lost > ms10 {
			g = 1 - 0.2*float32(lost-ms10)/float32(ms10)
			if g < 0 {
				g = 0
			}
		}
		dst = append(dst, clamp16(p.pbuf[p.pos]*g))
		p.pos++
		if p.pos >= p.pbufLen {
			p.pos = 0
		}
		lost++
	}
	p.lost = lost
	return dst
}

func (p *PLC) push(pcm []int16) {
	if len(pcm) >= p.histLen {
		copy(p.hist, pcm[len(pcm)-p.histLen:])
		return
	}
	copy(p.hist, p.hist[len(pcm):])
	copy(p.hist[p.histLen-len(pcm):], pcm)
}

// Reset forgets history (a new stream).
func (p *PLC) Reset() {
	clear(p.hist)
	p.lost = 0
}

var _ fmt.Stringer = (*PLC)(nil)

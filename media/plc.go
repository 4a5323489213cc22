package media

import (
	"fmt"
	"math"

	"github.com/mrcpd/mrcpd/media/audio"
)

// PLC conceals lost packets. For waveform codecs (G.711, L16, G.722) it is pitch-based waveform
// substitution in the manner of ITU-T G.711 Appendix I: find the pitch period in the recent history,
// repeat the last pitch periods (one, then two, then three as the loss lasts), attenuate from 10 ms into
// the loss by 20% per 10 ms down to silence at 60 ms, and overlap-add the first good packet with the
// synthetic continuation so that the join does not click.
//
// Unlike Appendix I, which only looks back, the jitter buffer usually already holds the packet after a
// single loss. When it does (and the codec decodes packets independently), the gap is filled from both
// sides: the forward extension of the past is cross-faded into a backward pitch extension of the next
// packet, which lands exactly on the next packet's first sample. Decoders that conceal themselves (Opus)
// are called instead.
type PLC struct {
	rate       int
	dec        Concealer // non-nil: the decoder conceals
	ahead      Decoder   // non-nil: decodes the next packet for two-sided interpolation
	interp     bool      // the last concealment ended on the next packet: no overlap-add needed
	next       []int16
	hist       []int16 // last histLen output samples
	pre        []int16 // history as it was when the current loss began
	histLen    int
	pitch      int
	pbuf       []float32 // pitch periods being repeated
	pbufLen    int
	pos        int // read position in pbuf
	lost       int // samples concealed in the current loss
	scratch    []int16
	minP, maxP int
}

// statelessDecoder marks decoders whose output for a packet does not depend on earlier packets, so the
// PLC may decode a packet ahead of its turn.
type statelessDecoder interface{ stateless() }

func (ulawCodec) stateless() {}
func (alawCodec) stateless() {}
func (l16) stateless()       {}

// NewPLC returns a concealment stage for audio at rate decoded by dec (nil: forward extension only).
func NewPLC(rate int, dec Decoder) *PLC {
	p := &PLC{rate: rate}
	if c, ok := dec.(Concealer); ok {
		p.dec = c
	} else if _, ok := dec.(statelessDecoder); ok {
		p.ahead = dec
	}
	p.histLen = rate * 390 / 8000 // 48.75 ms, as in G.711 Appendix I
	p.minP, p.maxP = rate/200, rate*15/1000
	p.hist = make([]int16, p.histLen)
	// What only a loss needs (the history as the loss began, the pitch periods repeated, the next
	// packet decoded ahead, the overlap-add's scratch) waits for the first one: most streams never
	// lose a packet, and these were 7 KB of the 9 KB every listening stream held (performance.md).
	return p
}

// lossBuffers allocates what concealing a loss needs, once, at the stream's first loss.
func (p *PLC) lossBuffers() {
	if p.pre == nil {
		p.pre = make([]int16, p.histLen)
		p.pbuf = make([]float32, 3*p.maxP)
	}
}

func (p *PLC) String() string { return plcName(p.dec != nil) }

// plcName is how a PLC prints: the decoder's own concealment, or G.711 Appendix I's.
func plcName(decoderConceals bool) string {
	if decoderConceals {
		return "PLC(decoder)"
	}
	return "PLC(G.711-I)"
}

// Good passes a decoded frame through, smoothing the join after a loss, and records it as history.
func (p *PLC) Good(pcm []int16) {
	if p.lost > 0 && p.dec == nil && !p.interp {
		ms10 := p.lost * 100 / p.rate
		ol := p.pitch/4 + p.rate*4/1000*max(0, ms10-1)
		ol = min(ol, p.rate/100, len(pcm))
		if ol > 0 {
			p.scratch = p.synth(p.scratch[:0], ol)
			syn := p.scratch
			for i := 0; i < ol; i++ {
				w := float32(i+1) / float32(ol+1)
				pcm[i] = audio.Clamp16(float32(pcm[i])*w + float32(syn[i])*(1-w))
			}
		}
	}
	p.lost, p.interp = 0, false
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
	if next != nil && p.ahead != nil && p.lost == n {
		var err error
		p.next, err = p.ahead.Decode(p.next[:0], next)
		if err == nil && len(p.next) >= 2*p.minP {
			p.interpolate(dst[start:], n)
		}
	}
	p.push(dst[start:])
	return dst
}

// interpolate fills the gap of n samples from both sides: a forward pitch extension of the history
// cross-faded into a backward pitch extension of the next packet. Each side's period is the one that
// best continues its own signal and also best bridges the gap to the other side, which keeps the two
// extensions in phase where they meet.
func (p *PLC) interpolate(out []int16, n int) {
	h, f := p.pre, p.next
	end := len(h)
	w := min(p.rate/200, len(f)-p.maxP, end-p.maxP-n)
	if w < p.rate/1000 {
		return
	}
	wb := min(p.rate/100, len(f), end-n)
	bestF, bestB := p.minP, p.minP
	scoreF, scoreB := math.Inf(-1), math.Inf(-1)
	for lag := p.minP; lag <= p.maxP; lag++ {
		// Forward: history continues itself at lag, and its extension n samples on matches f's start.
		sf := ncorr(w, func(i int) (float64, float64) { return float64(h[end-w+i]), float64(h[end-w+i-lag]) }) +
			ncorr(wb, func(i int) (float64, float64) { return float64(f[i]), float64(h[end-lag+(n+i)%lag]) })
		if sf > scoreF {
			bestF, scoreF = lag, sf
		}
		if lag+w > len(f) {
			continue
		}
		// Backward: f repeats at lag, and its extension back across the gap matches the history's end.
		sb := ncorr(w, func(i int) (float64, float64) { return float64(f[i]), float64(f[i+lag]) }) +
			ncorr(wb, func(i int) (float64, float64) {
				d := n + 1 + i
				return float64(h[end-1-i]), float64(f[lag-1-(d-1)%lag])
			})
		if sb > scoreB {
			bestB, scoreB = lag, sb
		}
	}
	// Scale each side by how well it predicted (its mean correlation): an extension of unvoiced or
	// changing speech that predicts poorly does less harm quieter (the least-squares gain is the
	// correlation).
	gF := float32(min(max(scoreF/2, 0), 1))
	gB := float32(min(max(scoreB/2, 0), 1))
	for k := range out {
		fwd := gF * float32(h[end-bestF+k%bestF])
		back := gB * float32(f[bestB-1-(n-1-k)%bestB])
		wt := float32(k+1) / float32(n+1)
		out[k] = audio.Clamp16(fwd*(1-wt) + back*wt)
	}
	p.interp = true
}

// ncorr is the normalised correlation of n sample pairs.
func ncorr(n int, pair func(i int) (float64, float64)) float64 {
	var ab, aa, bb float64
	for i := 0; i < n; i++ {
		a, b := pair(i)
		ab += a * b
		aa += a * a
		bb += b * b
	}
	if aa == 0 || bb == 0 {
		return 0
	}
	return ab / math.Sqrt(aa*bb)
}

// startLoss finds the pitch period by maximising the normalised correlation of the last 20 ms... of
// history against itself lagged by 5 to 15 ms.
func (p *PLC) startLoss() {
	p.lossBuffers()
	h := p.hist
	win := min(p.rate/100, len(h)-p.maxP)
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
	copy(p.pre, p.hist)
	p.fill(1, 0)
}

// fill loads the last k pitch periods of pre-loss history into the repeat buffer. The read position
// keeps the phase of the waveform being continued (n samples into the loss), so that growing the buffer
// from one period to two or three does not jump.
func (p *PLC) fill(k, n int) {
	size := k * p.pitch
	src := p.hist[len(p.hist)-size:]
	if n > 0 {
		src = p.pre[len(p.pre)-size:]
	}
	for i, s := range src {
		p.pbuf[i] = float32(s)
	}
	p.pbufLen, p.pos = size, (k-1)*p.pitch+n%p.pitch
}

// synth appends n samples continuing the current loss.
func (p *PLC) synth(dst []int16, n int) []int16 {
	ms10 := p.rate / 100
	lost := p.lost
	for i := 0; i < n; i++ {
		switch lost {
		case ms10:
			p.fill(2, lost)
		case 2 * ms10:
			p.fill(3, lost)
		}
		g := float32(1)
		if lost > ms10 {
			g = 1 - 0.2*float32(lost-ms10)/float32(ms10)
			if g < 0 {
				g = 0
			}
		}
		dst = append(dst, audio.Clamp16(p.pbuf[p.pos]*g))
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

package speechset

import (
	"encoding/binary"
	"hash/fnv"
	"math"
	"math/rand"

	"github.com/zaf/g711"
)

// Law is a G.711 companding law.
type Law int

const (
	Ulaw Law = iota // PCMU
	Alaw            // PCMA
)

func (l Law) String() string { return [...]string{"PCMU", "PCMA"}[l] }

// PacketSamples is one 20 ms RTP packet of 8 kHz audio.
const PacketSamples = 160

// Condition is a telephone channel of the held-out evaluation.
type Condition struct {
	Name string
	Band bool    // limited to 300-3400 Hz (else the whole 0-4 kHz band of 8 kHz audio)
	Law  Law     // the G.711 law of the call
	SNR  float64 // pink noise this many dB under the speech; 0: none
	Loss float64 // share of 20 ms packets lost, concealed by the receiver
}

// Conditions are the channels of the held-out evaluation: clean G.711 both laws, the telephone
// band, pink noise at 20, 15 and 10 dB SNR, and 3% and 5% packet loss.
var Conditions = []Condition{
	{Name: "ulaw", Law: Ulaw},
	{Name: "alaw", Law: Alaw},
	{Name: "band", Band: true, Law: Ulaw},
	{Name: "snr20", Band: true, Law: Ulaw, SNR: 20},
	{Name: "snr15", Band: true, Law: Ulaw, SNR: 15},
	{Name: "snr10", Band: true, Law: Ulaw, SNR: 10},
	{Name: "loss3", Band: true, Law: Ulaw, Loss: 0.03},
	{Name: "loss5", Band: true, Law: Ulaw, Loss: 0.05},
}

// Apply passes rec through the channel: noise (seeded by the item and the condition, so every run
// is the same), G.711 encoding, and which 20 ms packets are lost. Payload is the G.711 bytes as
// sent; a receiver decodes it and conceals the packets marked in Lost.
func (c Condition) Apply(rec Recording) (payload []byte, lost []bool) {
	pcm := rec.Wide
	if c.Band {
		pcm = rec.Band
	}
	r := rand.New(rand.NewSource(c.seed(rec)))
	if c.SNR > 0 {
		pcm = addNoise(r, pcm, c.SNR, pinkNoise)
	}
	payload = g711Encode(c.Law, pcm)
	lost = make([]bool, (len(pcm)+PacketSamples-1)/PacketSamples)
	for i := range lost {
		lost[i] = c.Loss > 0 && r.Float64() < c.Loss
	}
	return payload, lost
}

// Audio is rec through the channel as a client that encodes G.711 itself sends it: the 8 kHz
// samples after noise and the law's quantisation (encoding them again with the same law gives
// the same bytes); packet loss is the client's to apply.
func (c Condition) Audio(rec Recording) []int16 {
	payload, _ := c.Apply(rec)
	return g711Decode(c.Law, payload)
}

func (c Condition) seed(rec Recording) int64 {
	h := fnv.New64a()
	h.Write([]byte(c.Name + "|" + rec.Voice.String() + "|" + rec.Set + "|" + rec.Text))
	return int64(h.Sum64() >> 1)
}

// noiseKind is the colour of a line's noise: the held-out set's is pink, the adaptation set's
// white or brown.
type noiseKind int

const (
	pinkNoise noiseKind = iota
	whiteNoise
	brownNoise
)

// addNoise adds noise of kind snr dB under the speech's active level (the mean power of the 20 ms
// frames within 40 dB of the loudest, so the silence around the phrase does not count).
func addNoise(r *rand.Rand, pcm []int16, snr float64, kind noiseKind) []int16 {
	var powers []float64
	peak := 0.0
	for i := 0; i+PacketSamples <= len(pcm); i += PacketSamples {
		p := 0.0
		for _, s := range pcm[i : i+PacketSamples] {
			p += float64(s) * float64(s)
		}
		p /= PacketSamples
		powers = append(powers, p)
		peak = max(peak, p)
	}
	var sum float64
	n := 0
	for _, p := range powers {
		if p > peak*1e-4 {
			sum += p
			n++
		}
	}
	// In the telephone band, as a line's noise is: what lies under 300 Hz would count in the
	// ratio and then be filtered away by the channel.
	noise := biquad(biquad(colouredNoise(r, len(pcm), kind), 300, true), 3400, false)
	var np float64
	for _, x := range noise {
		np += x * x
	}
	np /= float64(len(noise))
	if n == 0 || np == 0 {
		return pcm
	}
	gain := math.Sqrt(sum / float64(n) / np / math.Pow(10, snr/10))
	out := make([]int16, len(pcm))
	for i, s := range pcm {
		out[i] = int16(max(-32768, min(32767, math.Round(float64(s)+gain*noise[i]))))
	}
	return out
}

func colouredNoise(r *rand.Rand, n int, kind noiseKind) []float64 {
	switch kind {
	case whiteNoise:
		out := make([]float64, n)
		for i := range out {
			out[i] = r.NormFloat64()
		}
		return out
	case brownNoise: // integrated white noise, leaking so that it stays near zero
		out := make([]float64, n)
		var y float64
		for i := range out {
			y = 0.995*y + r.NormFloat64()
			out[i] = y
		}
		return out
	}
	return pink(r, n)
}

// pink is n samples of 1/f noise (Paul Kellett's economy filter over white noise).
func pink(r *rand.Rand, n int) []float64 {
	out := make([]float64, n)
	var b0, b1, b2 float64
	for i := range out {
		w := r.NormFloat64()
		b0 = 0.99765*b0 + w*0.0990460
		b1 = 0.96300*b1 + w*0.2965164
		b2 = 0.57000*b2 + w*1.0526913
		out[i] = b0 + b1 + b2 + w*0.1848
	}
	return out
}

// biquad filters x with a second-order Butterworth high-pass (or low-pass) at fc Hz (RBJ's
// cookbook), at Rate.
func biquad(x []float64, fc float64, high bool) []float64 {
	w := 2 * math.Pi * fc / Rate
	alpha := math.Sin(w) / math.Sqrt2
	cw := math.Cos(w)
	b0, b1 := (1-cw)/2, 1-cw
	if high {
		b0, b1 = (1+cw)/2, -(1 + cw)
	}
	b2, a0, a1, a2 := b0, 1+alpha, -2*cw, 1-alpha
	out := make([]float64, len(x))
	var x1, x2, y1, y2 float64
	for i, v := range x {
		y := (b0*v + b1*x1 + b2*x2 - a1*y1 - a2*y2) / a0
		x2, x1, y2, y1 = x1, v, y1, y
		out[i] = y
	}
	return out
}

func g711Encode(l Law, pcm []int16) []byte {
	b := make([]byte, 2*len(pcm))
	for i, s := range pcm {
		binary.LittleEndian.PutUint16(b[2*i:], uint16(s))
	}
	if l == Alaw {
		return g711.EncodeAlaw(b)
	}
	return g711.EncodeUlaw(b)
}

// g711Decode is the linear audio of G.711 bytes.
func g711Decode(l Law, payload []byte) []int16 {
	var lin []byte
	if l == Alaw {
		lin = g711.DecodeAlaw(payload)
	} else {
		lin = g711.DecodeUlaw(payload)
	}
	pcm := make([]int16, len(lin)/2)
	for i := range pcm {
		pcm[i] = int16(binary.LittleEndian.Uint16(lin[2*i:]))
	}
	return pcm
}

package audio

import (
	"math"
	"testing"
)

func TestResamplerPhaseForms(t *testing.T) {
	up := NewResampler(8000, 16000)
	if up.phases[0].kind != phaseIdentity || up.phases[1].kind != phaseSym {
		t.Errorf("8k->16k phases %d %d, want identity and symmetric", up.phases[0].kind, up.phases[1].kind)
	}
	down := NewResampler(16000, 8000)
	if down.phases[0].kind != phaseHalfband {
		t.Errorf("16k->8k phase %d, want half-band", down.phases[0].kind)
	}
}

// TestResamplerResponse measures the gain for tones in the passband and the rejection of images and
// aliases: a band-limited resampler keeps the former within 1 dB and pushes the latter 40 dB down.
// Linear interpolation fails the rejection rows.
func TestResamplerResponse(t *testing.T) {
	rates := []int{8000, 16000, 22050, 24000, 32000, 48000}
	for _, in := range rates {
		for _, out := range rates {
			if in == out {
				continue
			}
			lo := float64(min(in, out))
			pass := 0.3 * lo // well inside both bands
			r := NewResampler(in, out)
			gain := toneGain(r, in, out, pass, pass)
			if math.Abs(gain) > 1 {
				t.Errorf("%d->%d: %.0f Hz gain %.2f dB", in, out, pass, gain)
			}
			if in > out {
				// A tone above the new Nyquist must not alias into the band.
				f := 0.5*lo + 0.25*lo
				if f < 0.5*float64(in) {
					alias := float64(out) - f
					g := toneGain(NewResampler(in, out), in, out, f, alias)
					if g > -40 {
						t.Errorf("%d->%d: %.0f Hz aliases to %.0f Hz at %.1f dB", in, out, f, alias, g)
					}
				}
			}
		}
	}
}

// toneGain feeds a sine at f and measures the output's level at fm relative to the input's level.
func toneGain(r *Resampler, in, out int, f, fm float64) float64 {
	src := make([]int16, in/2)
	for i := range src {
		src[i] = int16(10000 * math.Sin(2*math.Pi*f*float64(i)/float64(in)))
	}
	var dst []int16
	for i := 0; i < len(src); i += 160 {
		dst = r.Process(dst, src[i:min(i+160, len(src))])
	}
	dst = dst[len(dst)/4:]
	var re, im float64
	for i, v := range dst {
		ph := 2 * math.Pi * fm * float64(i) / float64(out)
		re += float64(v) * math.Cos(ph)
		im += float64(v) * math.Sin(ph)
	}
	amp := 2 * math.Hypot(re, im) / float64(len(dst))
	return 20 * math.Log10(amp/10000+1e-12)
}

package engine

import (
	"math"
	"math/rand"
	"slices"
	"strings"
	"testing"
)

// TestDenoiserTakesNoiseDown: a second of steady noise, then a tone (a vowel's harmonic
// stands in for speech) over the same noise. After the preprocessor has heard the noise alone,
// the noise left in the last pause is well down and the tone is kept.
func TestDenoiserTakesNoiseDown(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	const n = 3 * 16000
	in := make([]int16, n)
	for i := range in {
		v := 300 * r.NormFloat64()
		if i >= 16000 && i < 32000 {
			v += 6000 * math.Sin(2*math.Pi*440*float64(i)/16000)
		}
		in[i] = int16(v)
	}
	dn, err := newDenoiser(20)
	if err != nil {
		t.Fatal(err)
	}
	defer dn.free()
	var out []int16
	for i := 0; i < n; i += 333 { // batches that are not whole frames
		out = append(out, dn.process(in[i:min(n, i+333)])...)
	}
	out = append(out, dn.flush()...)
	if len(out) != n {
		t.Fatalf("%d samples out of %d", len(out), n)
	}
	noiseIn, noiseOut := frameRMS(in[40000:n]), frameRMS(out[40000:n])
	if db := 20 * math.Log10(noiseIn/noiseOut); db < 10 {
		t.Errorf("noise down %.1f dB, want >= 10", db)
	}
	if tone := frameRMS(out[20000:30000]) / frameRMS(in[20000:30000]); tone < 0.7 {
		t.Errorf("tone kept at %.2f of its level, want >= 0.7", tone)
	}
}

func TestDenoiserOff(t *testing.T) {
	dn, err := newDenoiser(0)
	if err != nil || dn != nil {
		t.Fatalf("newDenoiser(0) = %v, %v; want nil, nil", dn, err)
	}
	pcm := []int16{1, 2, 3}
	if got := dn.process(pcm); &got[0] != &pcm[0] {
		t.Error("off, the audio is not passed through as it is")
	}
	if dn.flush() != nil {
		t.Error("off, flush returned audio")
	}
	dn.free()
}

// BenchmarkDenoiser is the cost of a second of 16 kHz audio through the preprocessor, gate open.
func BenchmarkDenoiser(b *testing.B) {
	r := rand.New(rand.NewSource(1))
	sec := make([]int16, 16000)
	for i := range sec {
		sec[i] = int16(1000 * r.NormFloat64())
	}
	dn, err := newDenoiser(20)
	if err != nil {
		b.Fatal(err)
	}
	defer dn.free()
	b.SetBytes(int64(2 * len(sec)))
	for b.Loop() {
		dn.process(sec)
	}
}

// TestDenoiserGate: a line whose pauses are quiet passes untouched, noise or speech later in the
// call notwithstanding; a line with steady noise is denoised once it has been heard a while.
func TestDenoiserGate(t *testing.T) {
	r := rand.New(rand.NewSource(2))
	noise := func(n int, sd float64) []int16 {
		out := make([]int16, n)
		for i := range out {
			out[i] = int16(sd * r.NormFloat64())
		}
		return out
	}
	// syllables stands in for a clean word: a tone whose level moves by 10 dB three times a
	// second and never falls under the gate.
	syllables := func(n int) []int16 {
		out := make([]int16, n)
		for i := range out {
			t := float64(i) / 16000
			out[i] = int16(3000 * (0.3 + 0.7*math.Abs(math.Sin(2*math.Pi*3*t))) * math.Sin(2*math.Pi*300*t))
		}
		return out
	}
	for _, c := range []struct {
		name    string
		in      []int16
		touched bool
	}{
		{"quiet pause first", append(noise(3200, 20), noise(16000, 2000)...), false},
		{"noisy pause first", append(noise(3200, 300), noise(16000, 2000)...), true},
		{"mrcpd's fill before a noisy line", slices.Concat(make([]int16, 3200), noise(3200, 300), noise(16000, 2000)), true},
		{"fill before a quiet line", slices.Concat(make([]int16, 3200), noise(3200, 20), noise(16000, 2000)), false},
		{"fill before a clean word", slices.Concat(make([]int16, 3200), syllables(9600), make([]int16, 3200)), false},
	} {
		dn, err := newDenoiser(20)
		if err != nil {
			t.Fatal(err)
		}
		out := append(dn.process(c.in), dn.flush()...)
		dn.free()
		same := slices.Equal(out, c.in)
		if same == c.touched {
			t.Errorf("%s: audio changed %v, want %v", c.name, !same, c.touched)
		}
	}
}

func TestNoiseSuppressionSetting(t *testing.T) {
	if c := DefaultConfig(); c.NoiseSuppression != 20 {
		t.Errorf("default noise_suppression %v, want 20", c.NoiseSuppression)
	}
	c, err := FromSettings(map[string]string{"noise_suppression": "0"})
	if err != nil || c.NoiseSuppression != 0 {
		t.Errorf("noise_suppression 0 (off): %v, %v", c.NoiseSuppression, err)
	}
	if _, err := FromSettings(map[string]string{"noise_suppression": "loud"}); err == nil || !strings.Contains(err.Error(), "noise_suppression") {
		t.Errorf("bad value: error %v, want one naming noise_suppression", err)
	}
}

// TestDenoisedConfidenceShift: when the suppressor changed the audio, the words' curve moves up
// and the digits' down (denoisedShift); audio it left alone scores as without it.
func TestDenoisedConfidenceShift(t *testing.T) {
	phones := []segment{scoredSeg("ph_n", 0, 29, -3000), scoredSeg("ph_ow", 30, 59, -3000)}
	hyp := []segment{scoredSeg("no", 0, 59, -6300)}
	cfg := DefaultConfig()
	cfg.fill()
	logit := func(g *compiled, used bool) float64 {
		fe := &frontEnd{dn: &denoiser{used: used}}
		w := &worker{e: &Engine{cfg: cfg}, d: &decoder{kind: grammarDecoder}, fe: fe}
		c := w.confidence(g, hyp, posteriorFloor, phones)
		return math.Log(c / (1 - c))
	}
	for _, c := range []struct {
		name  string
		g     *compiled
		shift float64
	}{
		{"words", &compiled{}, 0.3},
		{"digits", &compiled{digits: true}, -0.7},
	} {
		if d := logit(c.g, true) - logit(c.g, false); math.Abs(d-c.shift) > 1e-9 {
			t.Errorf("%s: denoised audio moves the curve by %.3f, want %.1f", c.name, d, c.shift)
		}
	}
}

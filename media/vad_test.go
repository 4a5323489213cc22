package media_test

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/mrcpd/mrcpd/media"
	"github.com/mrcpd/mrcpd/media/mediatest"
)

func noise(n int, rms float64, seed uint64) []int16 {
	rng := rand.New(rand.NewPCG(seed, 1))
	out := make([]int16, n)
	for i := range out {
		out[i] = int16(rng.NormFloat64() * rms)
	}
	return out
}

func mix(a, b []int16) []int16 {
	out := make([]int16, max(len(a), len(b)))
	for i := range out {
		var v int
		if i < len(a) {
			v += int(a[i])
		}
		if i < len(b) {
			v += int(b[i])
		}
		out[i] = int16(min(max(v, -32768), 32767))
	}
	return out
}

// vadEvents runs 20 ms frames and returns the times of speech start and end.
func vadEvents(v *media.VAD, pcm []int16, rate int) (starts, ends []time.Duration) {
	n := rate / 50
	for i := 0; i+n <= len(pcm); i += n {
		at := time.Duration(i) * time.Second / time.Duration(rate)
		switch v.Process(pcm[i : i+n]) {
		case media.SpeechStart:
			starts = append(starts, at)
		case media.SpeechEnd:
			ends = append(ends, at)
		}
	}
	return starts, ends
}

func TestVAD(t *testing.T) {
	speech := mediatest.Speech(t, "Check my balance please", 8000)
	lead := make([]int16, 8000) // 1 s of background before speech
	sig := append(append(lead, speech...), make([]int16, 8000)...)
	speechAt := time.Second
	// espeak-ng pads its output with silence: the end that counts is the last loud frame.
	last := 0
	for i := 0; i+160 <= len(speech); i += 160 {
		var e float64
		for _, v := range speech[i : i+160] {
			e += float64(v) * float64(v)
		}
		if e/160 > 300*300 {
			last = i + 160
		}
	}
	speechEnd := speechAt + time.Duration(last)*time.Second/8000
	cases := []struct {
		name        string
		noiseRMS    float64
		sensitivity float64
		wantSpeech  bool
	}{
		{"quiet line", 30, 0.5, true},
		{"steady noise at -30 dBFS learnt as floor", 1000, 0.5, true},
		{"noise only, no speech", 1000, 0.5, false},
		{"sensitivity 0 still hears normal speech", 30, 0.0, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := mix(sig, noise(len(sig), c.noiseRMS, 3))
			if !c.wantSpeech {
				in = noise(len(sig), c.noiseRMS, 4)
			}
			v := media.NewVAD(media.VADConfig{SampleRate: 8000, Sensitivity: c.sensitivity})
			starts, ends := vadEvents(v, in, 8000)
			if !c.wantSpeech {
				if len(starts) != 0 {
					t.Errorf("speech detected in noise at %v", starts)
				}
				return
			}
			if len(starts) == 0 || starts[0] < speechAt-100*time.Millisecond || starts[0] > speechAt+400*time.Millisecond {
				t.Fatalf("speech start at %v, speech begins at %v", starts, speechAt)
			}
			if len(ends) == 0 || ends[len(ends)-1] < speechEnd-200*time.Millisecond || ends[len(ends)-1] > speechEnd+800*time.Millisecond {
				t.Errorf("speech end at %v, speech ends at %v", ends, speechEnd)
			}
		})
	}
	// Sensitivity maps onto the threshold: a soft voice is heard at 1 and not at 0.
	soft := make([]int16, len(sig))
	for i, s := range sig {
		soft[i] = s / 64 // about -36 dB
	}
	soft = mix(soft, noise(len(soft), 20, 5))
	hi, _ := vadEvents(media.NewVAD(media.VADConfig{SampleRate: 8000, Sensitivity: 1}), soft, 8000)
	lo, _ := vadEvents(media.NewVAD(media.VADConfig{SampleRate: 8000, Sensitivity: 0}), soft, 8000)
	if len(hi) == 0 || len(lo) != 0 {
		t.Errorf("soft speech: sensitivity 1 starts %v, sensitivity 0 starts %v", hi, lo)
	}
}

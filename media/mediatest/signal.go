package mediatest

import (
	"bytes"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/mrcpd/mrcpd/media"
	"github.com/mrcpd/mrcpd/media/audio"
)

// Sweep returns a logarithmic sine sweep from f0 to f1 Hz at amplitude amp (0..1).
func Sweep(rate int, d float64, f0, f1, amp float64) []int16 {
	n := int(float64(rate) * d)
	out := make([]int16, n)
	k := math.Log(f1 / f0)
	for i := range out {
		t := float64(i) / float64(rate)
		phase := 2 * math.Pi * f0 * d / k * (math.Exp(t/d*k) - 1)
		out[i] = int16(amp * 32767 * math.Sin(phase))
	}
	return out
}

// Tone returns a sum of sines (amplitude each) lasting d seconds.
func Tone(rate int, d float64, amp float64, freqs ...float64) []int16 {
	n := int(float64(rate) * d)
	out := make([]int16, n)
	for i := range out {
		var v float64
		for _, f := range freqs {
			v += math.Sin(2 * math.Pi * f * float64(i) / float64(rate))
		}
		out[i] = int16(amp * 32767 * v)
	}
	return out
}

// DTMF returns the tones of digits, each on for on seconds and off for off seconds, per-tone amplitude amp.
func DTMF(rate int, digits string, on, off, amp float64) []int16 {
	var out []int16
	for _, d := range digits {
		r, c, err := media.DTMFFrequencies(d)
		if err != nil {
			panic(err)
		}
		out = append(out, Tone(rate, on, amp, r, c)...)
		out = append(out, make([]int16, int(off*float64(rate)))...)
	}
	return out
}

// SNR is the signal-to-noise ratio in dB of got against ref, compared sample for sample.
func SNR(ref, got []int16) float64 {
	n := min(len(ref), len(got))
	var s, e float64
	for i := 0; i < n; i++ {
		d := float64(ref[i]) - float64(got[i])
		s += float64(ref[i]) * float64(ref[i])
		e += d * d
	}
	if e == 0 {
		return math.Inf(1)
	}
	return 10 * math.Log10(s/e)
}

// Align finds the delay (0..maxLag samples) at which got best matches ref by cross-correlation, and
// returns got shifted by it.
func Align(ref, got []int16, maxLag int) ([]int16, int) {
	best, bestC := 0, math.Inf(-1)
	n := min(len(ref), len(got)-maxLag)
	for lag := 0; lag <= maxLag; lag++ {
		var c float64
		for i := 0; i < n; i += 2 {
			c += float64(ref[i]) * float64(got[i+lag])
		}
		if c > bestC {
			best, bestC = lag, c
		}
	}
	return got[best:], best
}

// Speech synthesises text with espeak-ng and converts it to mono 16-bit PCM at rate with sox. The test
// is skipped, saying why, when espeak-ng or sox is not installed.
func Speech(t testing.TB, text string, rate int) []int16 {
	t.Helper()
	for _, tool := range []string{"espeak-ng", "sox"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed (Debian package %s): speech tests need it", tool, tool)
		}
	}
	dir := t.TempDir()
	raw, out := filepath.Join(dir, "speech.wav"), filepath.Join(dir, "speech8k.wav")
	if b, err := exec.Command("espeak-ng", "-w", raw, text).CombinedOutput(); err != nil {
		t.Fatalf("espeak-ng: %v: %s", err, b)
	}
	if b, err := exec.Command("sox", raw, "-r", itoa(rate), "-c", "1", "-b", "16", out).CombinedOutput(); err != nil {
		t.Fatalf("sox: %v: %s", err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	pcm, got, err := audio.ReadWAV(bytes.NewReader(b))
	if err != nil || got != rate {
		t.Fatalf("reading sox output: rate %d, %v", got, err)
	}
	return pcm
}

func itoa(n int) string {
	var b [20]byte
	i := len(b)
	for n >= 10 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	i--
	b[i] = byte('0' + n)
	return string(b[i:])
}

// SegmentalSNR compares got with ref in blocks of block samples, re-aligning each block within ±search
// samples of the previous block's delay (the jitter buffer may move the delay by a packet or two),
// and returns the mean of the per-block SNRs in dB (each capped at 60 dB; silent blocks are skipped).
// lag0 is the initial delay estimate.
func SegmentalSNR(ref, got []int16, block, lag0, search int) float64 {
	lag := lag0
	var sum float64
	var n int
	for start := 0; start+block <= len(ref); start += block {
		r := ref[start : start+block]
		var e float64
		for _, v := range r {
			e += float64(v) * float64(v)
		}
		if e/float64(block) < 100*100 {
			continue
		}
		best, bestSNR := lag, math.Inf(-1)
		for l := lag - search; l <= lag+search; l++ {
			if start+l < 0 || start+l+block > len(got) {
				continue
			}
			if s := SNR(r, got[start+l:start+l+block]); s > bestSNR {
				best, bestSNR = l, s
			}
		}
		if math.IsInf(bestSNR, -1) {
			break
		}
		lag = best
		sum += min(bestSNR, 60)
		n++
	}
	if n == 0 {
		return math.Inf(-1)
	}
	return sum / float64(n)
}

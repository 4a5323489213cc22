package engine

/*
#cgo pkg-config: speexdsp
#include <speex/speex_preprocess.h>

static SpeexPreprocessState *mrcpd_denoiser(int frame, int rate, int suppress) {
	SpeexPreprocessState *st = speex_preprocess_state_init(frame, rate);
	if (st == NULL) {
		return NULL;
	}
	int on = 1, off = 0;
	speex_preprocess_ctl(st, SPEEX_PREPROCESS_SET_DENOISE, &on);
	speex_preprocess_ctl(st, SPEEX_PREPROCESS_SET_NOISE_SUPPRESS, &suppress);
	speex_preprocess_ctl(st, SPEEX_PREPROCESS_SET_AGC, &off);
	speex_preprocess_ctl(st, SPEEX_PREPROCESS_SET_DEREVERB, &off);
	return st;
}
*/
import "C"

import (
	"fmt"
	"math"
	"slices"
	"unsafe"
)

// denoiser suppresses stationary noise (speexdsp's preprocessor: a noise estimate per band kept
// through the pauses, and a spectral gain that takes it out) before the front end, which the
// acoustic model was trained without: pocketsphinx's own -remove_noise subtracts a noise floor
// from the filter-bank energies and cost the adapted model more than it gave (ACCURACY.md).
type denoiser struct {
	st      *C.SpeexPreprocessState
	pending []int16             // samples short of a frame
	frame   [denoiseFrame]int16 // the preprocessor works in place: the input stays while the gate is not open
	floor   float64             // the quietest frame's RMS since the line was first heard
	heard   bool                // a frame other than digital silence has come
	open    bool                // the line has had a steady stretch: its output is used until the gate shuts
	recent  [steadyFrames]float64
	n       int  // frames since the line was first heard
	used    bool // some of the output has been used: the confidence curve shifts (results.go)
}

// denoiseFrame is 20 ms at 16 kHz: speexdsp's preprocessor works on whole frames.
const denoiseFrame = 320

// newDenoiser returns nil when suppressDB is 0 (off); otherwise noise is attenuated by up to
// -suppressDB dB.
func newDenoiser(suppressDB float64) (*denoiser, error) {
	if suppressDB == 0 {
		return nil, nil
	}
	st := C.mrcpd_denoiser(denoiseFrame, 16000, C.int(-math.Abs(suppressDB)))
	if st == nil {
		return nil, fmt.Errorf("pocketsphinx: speexdsp preprocessor did not start")
	}
	return &denoiser{st: st, floor: math.Inf(1)}, nil
}

// process returns the whole frames pcm completes, denoised; the rest waits for the next call.
// A nil denoiser passes pcm through.
func (n *denoiser) process(pcm []int16) []int16 {
	if n == nil {
		return pcm
	}
	buf := append(n.pending, pcm...)
	whole := len(buf) / denoiseFrame * denoiseFrame
	out := make([]int16, whole)
	copy(out, buf[:whole])
	for i := 0; i < whole && !n.shut(); i += denoiseFrame {
		copy(n.frame[:], out[i:i+denoiseFrame])
		C.speex_preprocess_run(n.st, (*C.spx_int16_t)(unsafe.Pointer(&n.frame[0])))
		n.observe(frameRMS(out[i : i+denoiseFrame]))
		if n.open && !n.shut() {
			copy(out[i:], n.frame[:])
			n.used = true
		}
	}
	n.pending = append(n.pending[:0], buf[whole:]...)
	return out
}

// observe moves the gate on a frame's RMS. It opens on a stretch of steadyFrames frames above
// denoiseGate whose levels lie within steadyRatio of each other: that is noise, for speech's
// level moves by more from syllable to syllable. Opening on the first frames heard instead
// denoised a clean line's first word (the line is first heard there, after mrcpd's fill) against
// a noise estimate made of that word: through mrcpd, a clean "yeah" came back "no".
func (n *denoiser) observe(rms float64) {
	n.heard = n.heard || rms >= digitalSilence
	if !n.heard {
		return
	}
	n.floor = min(n.floor, rms)
	n.recent[n.n%steadyFrames] = rms
	n.n++
	if n.open || n.n < steadyFrames {
		return
	}
	lo, hi := slices.Min(n.recent[:]), slices.Max(n.recent[:])
	n.open = lo > denoiseGate && hi <= steadyRatio*lo
}

// denoised reports that some of the audio so far was the preprocessor's.
func (n *denoiser) denoised() bool { return n != nil && n.used }

// shut reports that the gate is closed for the rest of the call (the floor only falls), so the
// preprocessor need not run: its output would never be used.
func (n *denoiser) shut() bool { return n.heard && n.floor <= denoiseGate }

// flush returns the last partial frame, denoised (padded with silence through the filter).
func (n *denoiser) flush() []int16 {
	if n == nil || len(n.pending) == 0 {
		return nil
	}
	k := len(n.pending)
	out := n.process(make([]int16, denoiseFrame-k))
	return out[:k]
}

// free releases the preprocessor; the denoiser is unusable after.
func (n *denoiser) free() {
	if n != nil && n.st != nil {
		C.speex_preprocess_state_destroy(n.st)
		n.st = nil
	}
}

// denoiseGate is the noise floor (RMS, -50 dBFS) under which audio passes untouched. On clean
// synthetic speech the preprocessor's noise tracker takes steady vowels' harmonics for noise
// (tuning set, clean telephone band: four-digit strings accepted 53 -> 46 of 72), so it only
// works on a line with noise in its pauses. The floor is the quietest frame so far: a line
// that has been quiet once is clean.
const denoiseGate = 32768 * 0.00316

// digitalSilence is the RMS under which a frame is digital silence. Before the line is first
// heard, that is mrcpd's own fill ahead of the first packet (docs/operations.md, "Media"), which
// says nothing of the line's noise: counted, it closed the gate on every call through mrcpd.
// After, it counts as quiet: synthetic speech's pauses are digital silence, and so is
// concealment faded out over a long loss, after which the rest of the call passes untouched.
const digitalSilence = 1.0

// A steady stretch is 240 ms whose 20 ms frames' RMS lie within 4 dB of each other. Pink noise
// in the telephone band spans about 2-3 dB over that many frames; a synthetic vowel, the
// steadiest speech there is, rarely holds 240 ms.
const (
	steadyFrames = 12
	steadyRatio  = 1.585
)

func frameRMS(pcm []int16) float64 {
	var s float64
	for _, v := range pcm {
		s += float64(v) * float64(v)
	}
	return math.Sqrt(s / float64(len(pcm)))
}

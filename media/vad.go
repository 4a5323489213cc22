package media

import (
	"fmt"
	"math"
	"time"
)

// VADEvent is what one frame changed.
type VADEvent int

const (
	VADNone VADEvent = iota
	SpeechStart
	SpeechEnd
)

func (e VADEvent) String() string {
	switch e {
	case SpeechStart:
		return "speech-start"
	case SpeechEnd:
		return "speech-end"
	}
	return "none"
}

// Detector is a voice-activity detector run on a Tap's frames; *VAD is the production one.
type Detector interface {
	Process(pcm []int16) VADEvent
}

// NewDetector is the energy VAD for frames at rate, at MRCP's Sensitivity-Level (0..1).
func NewDetector(rate int, sensitivity float64) Detector {
	return NewVAD(VADConfig{SampleRate: rate, Sensitivity: sensitivity})
}

// VADConfig configures the energy detector. Zero durations take defaults.
type VADConfig struct {
	SampleRate int
	// Sensitivity is MRCP's Sensitivity-Level (RFC 6787 §9.4.5), 0..1: higher detects quieter speech.
	// It maps linearly onto the margin above the noise floor, from 18 dB at 0 to 3 dB at 1.
	Sensitivity float64
	// StartDuration of speech-level energy before SpeechStart (default 60 ms): clicks do not start speech.
	StartDuration time.Duration
	// EndDuration of energy below the threshold before SpeechEnd (hangover, default 300 ms).
	EndDuration time.Duration
}

// VAD is an energy speech detector with an adaptive noise floor: the floor follows quiet frames quickly
// and loud ones slowly, so steady noise is learnt while speech is not.
type VAD struct {
	cfg      VADConfig
	floor    float64 // noise power estimate
	margin   float64 // power ratio above the floor that counts as speech
	absMin   float64 // power below this is never speech
	speaking bool
	above    time.Duration
	below    time.Duration
	frames   int
}

// NewVAD returns a detector.
func NewVAD(cfg VADConfig) *VAD {
	if cfg.SampleRate <= 0 {
		cfg.SampleRate = 8000
	}
	if cfg.StartDuration <= 0 {
		cfg.StartDuration = 60 * time.Millisecond
	}
	if cfg.EndDuration <= 0 {
		cfg.EndDuration = 300 * time.Millisecond
	}
	s := math.Min(math.Max(cfg.Sensitivity, 0), 1)
	marginDB := 18 - 15*s
	absDB := -50 - 10*s // dBFS
	return &VAD{cfg: cfg, margin: math.Pow(10, marginDB/10),
		absMin: math.Pow(10, absDB/10) * 32768 * 32768, floor: math.Pow(10, -60.0/10) * 32768 * 32768}
}

func (v *VAD) String() string { return fmt.Sprintf("VAD(%.2f)", v.cfg.Sensitivity) }

// Speaking reports whether speech is in progress.
func (v *VAD) Speaking() bool { return v.speaking }

// Process classifies one frame (any length; 10-30 ms is typical).
func (v *VAD) Process(pcm []int16) VADEvent {
	if len(pcm) == 0 {
		return VADNone
	}
	var e float64
	for _, s := range pcm {
		e += float64(s) * float64(s)
	}
	e /= float64(len(pcm))
	dur := time.Duration(len(pcm)) * time.Second / time.Duration(v.cfg.SampleRate)
	v.frames++
	// Hysteresis: once speech is on, it stays on down to 4 dB below the start threshold, so the soft
	// ends of words do not cut it short.
	th := v.floor * v.margin
	if v.speaking {
		th /= 2.5
	}
	speech := e > th && e > v.absMin
	// The floor falls fast (a quieter frame is better evidence of the noise) and rises slowly: near the
	// floor (within 3 dB) in about a second, further above it (weak speech between words, or the line
	// getting noisier) ten times slower, and not at all on speech. The first frames seed it quickly.
	switch {
	case e < v.floor:
		v.floor += (e - v.floor) * 0.3
	case v.frames < 10:
		v.floor += (e - v.floor) * 0.2
	case speech:
	case e < 2*v.floor:
		v.floor += (e - v.floor) * 0.02
	default:
		v.floor += (e - v.floor) * 0.002
	}
	v.floor = math.Max(v.floor, 1)
	if speech {
		v.above += dur
		v.below = 0
	} else {
		v.below += dur
		if !v.speaking {
			v.above = 0
		}
	}
	switch {
	case !v.speaking && v.above >= v.cfg.StartDuration:
		v.speaking = true
		return SpeechStart
	case v.speaking && v.below >= v.cfg.EndDuration:
		v.speaking, v.above = false, 0
		return SpeechEnd
	}
	return VADNone
}

// Reset forgets speech state but keeps the learnt noise floor.
func (v *VAD) Reset() {
	v.speaking, v.above, v.below = false, 0, 0
}

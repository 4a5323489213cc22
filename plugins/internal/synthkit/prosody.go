// Package synthkit holds what the in-tree synthesizer plugins (espeak, flite) share: reading
// MRCP's Prosody-* headers, the request's output rate and the hand-off of synthesised audio from
// the engine's thread to the stream's Recv.
package synthkit

import (
	"strconv"
	"strings"
)

// MRCP's Prosody-* headers take SSML's values (RFC 6787 section 8.4.2): a keyword, a relative
// number ("1.5", "+20%") or, for volume, an absolute 0-100. Each engine maps them onto its own
// scale; what a keyword means is the engine's choice, which keywords exist is SSML's.

// Levels are an engine's values for one prosody property's five SSML keywords, lowest first:
// x-slow/x-low/x-soft, slow/low/soft, medium, fast/high/loud, x-fast/x-high/x-loud. The middle one
// also answers an empty header and "default".
type Levels[T any] [5]T

var (
	rateWords   = [5]string{"x-slow", "slow", "medium", "fast", "x-fast"}
	pitchWords  = [5]string{"x-low", "low", "medium", "high", "x-high"}
	volumeWords = [5]string{"x-soft", "soft", "medium", "loud", "x-loud"}
)

// Rate is the engine's value for a Prosody-Rate keyword; false when v is not one.
func (l Levels[T]) Rate(v string) (T, bool) { return l.lookup(rateWords, v) }

// Pitch is the engine's value for a Prosody-Pitch keyword; false when v is not one.
func (l Levels[T]) Pitch(v string) (T, bool) { return l.lookup(pitchWords, v) }

// Volume is the engine's value for a Prosody-Volume keyword; "silent" is zero on every scale.
func (l Levels[T]) Volume(v string) (T, bool) {
	if keyword(v) == "silent" {
		var zero T
		return zero, true
	}
	return l.lookup(volumeWords, v)
}

func (l Levels[T]) lookup(words [5]string, v string) (T, bool) {
	k := keyword(v)
	if k == "" || k == "default" {
		return l[2], true
	}
	for i, w := range words {
		if k == w {
			return l[i], true
		}
	}
	var zero T
	return zero, false
}

func keyword(v string) string { return strings.ToLower(strings.TrimSpace(v)) }

// Relative parses "1.5", "+20%" or "-10%" as a factor; anything else is 1.
func Relative(v string) float64 {
	v = strings.TrimSpace(v)
	if p, ok := strings.CutSuffix(v, "%"); ok {
		if n, err := strconv.ParseFloat(p, 64); err == nil {
			return 1 + n/100
		}
		return 1
	}
	if n, err := strconv.ParseFloat(v, 64); err == nil && n > 0 {
		return n
	}
	return 1
}

// AbsoluteVolume reports an unsigned number as SSML's absolute volume, 0-100 (50 is normal);
// a signed one ("+10", "-5") is relative and false here.
func AbsoluteVolume(v string) (float64, bool) {
	n, err := strconv.ParseFloat(v, 64)
	if err != nil || strings.ContainsAny(v, "+-") {
		return 0, false
	}
	return n, true
}

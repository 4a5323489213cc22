// Package audio holds what works on PCM samples alone: the band-limited resampler, WAV file I/O and
// sample saturation. It links no RTP code, so speech plugins use it without pulling in the media path;
// package media builds its receive and send stages on it.
package audio

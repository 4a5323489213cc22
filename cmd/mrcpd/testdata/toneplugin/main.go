// Command toneplugin is a synthesizer plugin for mrcpd's end-to-end tests: every SPEAK yields a
// known sequence of tones (500, 1000, 1500 Hz, 300 ms each) that the test finds in what arrives.
package main

import (
	"context"
	"io"
	"math"

	"github.com/mrcpd/mrcpd/asr"
	"github.com/mrcpd/mrcpd/asr/plugin"
)

// Tones is the sequence every utterance plays.
var tones = []float64{500, 1000, 1500}

const toneMillis = 300

type synth struct{}

func (synth) Info(context.Context) (asr.SynthesizerInfo, error) {
	return asr.SynthesizerInfo{Name: "tone", SampleRates: []int{8000}, Voices: []asr.Voice{{Name: "tone"}}}, nil
}

func (synth) Synthesize(ctx context.Context, req asr.SynthesizeRequest) (asr.SynthesisStream, error) {
	rate := req.SampleRate
	if rate == 0 {
		rate = 8000
	}
	return &stream{ctx: ctx, rate: rate}, nil
}

type stream struct {
	ctx  context.Context
	rate int
	tone int
	pos  int // samples into the current tone
}

// Recv yields 20 ms chunks.
func (s *stream) Recv() (asr.SynthEvent, error) {
	if err := s.ctx.Err(); err != nil {
		return nil, err
	}
	per := s.rate * toneMillis / 1000
	if s.tone == len(tones) {
		return nil, io.EOF
	}
	n := min(s.rate/50, per-s.pos)
	pcm := make([]int16, n)
	for i := range pcm {
		t := float64(s.pos+i) / float64(s.rate)
		pcm[i] = int16(12000 * math.Sin(2*math.Pi*tones[s.tone]*t))
	}
	s.pos += n
	if s.pos == per {
		s.tone, s.pos = s.tone+1, 0
	}
	return &asr.SynthAudio{PCM: pcm}, nil
}

func (s *stream) Close() error { return nil }

func main() {
	plugin.Serve(plugin.ServeConfig{Synthesizer: synth{}, Logger: plugin.NewLogger()})
}

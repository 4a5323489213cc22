// Package noop is a recognizer that hears nothing: it takes the audio, does no speech work and
// answers every finalized recognition with an empty Final (a no-match). mrcpd serves it in
// process under the reserved name "noop", and plugins/noop serves the same engine as a plugin
// process, so that a load test can tell mrcpd's own cost (SIP, MRCP, RTP, jitter buffer, codecs,
// voice-activity detection) from an engine's, and the plugin boundary's cost from both.
package noop

import (
	"context"
	"io"
	"sync"
	"time"

	"github.com/mrcpd/mrcpd/asr"
)

// Recognizer is the no-op engine.
type Recognizer struct{}

// Info implements asr.Recognizer.
func (Recognizer) Info(context.Context) (asr.RecognizerInfo, error) {
	return asr.RecognizerInfo{Name: "noop", Streaming: true, Finalize: true, MaxAlternatives: 1,
		GrammarTypes: []string{"application/srgs+xml", "application/srgs", "text/plain"},
		Builtins:     []string{"builtin:speech/transcribe", "builtin:grammar/boolean", "builtin:grammar/digits"},
		Languages:    []string{"en-US"}, SampleRates: []int{8000, 16000}}, nil
}

// Recognize implements asr.Recognizer.
func (Recognizer) Recognize(ctx context.Context, req asr.RecognizeRequest) (asr.RecognitionStream, error) {
	rate := req.SampleRate
	if rate <= 0 {
		rate = 8000
	}
	ctx, cancel := context.WithCancel(ctx)
	s := &stream{ctx: ctx, cancel: cancel, rate: rate, events: make(chan asr.Event, 3)}
	s.events <- &asr.Ready{}
	return s, nil
}

// stream needs no goroutine: Send answers FinalizeInput by queueing the Final and the Usage.
type stream struct {
	ctx    context.Context
	cancel context.CancelFunc
	rate   int
	events chan asr.Event

	mu       sync.Mutex
	samples  int
	finished bool
}

func (s *stream) Send(in asr.Input) error {
	if err := s.ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.finished {
		return io.ErrClosedPipe
	}
	switch in := in.(type) {
	case *asr.Audio:
		s.samples += len(in.PCM)
	case *asr.FinalizeInput:
		s.finished = true
		s.events <- &asr.Final{}
		s.events <- &asr.Usage{Audio: time.Duration(s.samples) * time.Second / time.Duration(s.rate)}
		close(s.events)
	}
	return nil
}

func (s *stream) Recv() (asr.Event, error) { return asr.NextEvent(s.ctx, s.events) }

func (s *stream) Close() error {
	s.cancel()
	return nil
}

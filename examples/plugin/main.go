// Command plugin is a minimal third-party recognizer plugin for mrcpd, built only against the
// public contract (packages asr and asr/plugin). Its "engine" is an energy detector: it reports
// speech start and end, and on Finalize a result "speech" whose interpretation is how long the
// caller spoke. Replace detect with a call to your vendor's streaming API.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"strconv"
	"sync"
	"time"

	"github.com/mrcpd/mrcpd/asr"
	"github.com/mrcpd/mrcpd/asr/plugin"
)

// main hands plugin.Main the settings of engines.plugins[] in mrcpd's config to make the backend
// from; plugin.Main serves it until mrcpd stops the plugin.
func main() {
	plugin.Main(func(settings map[string]string, _ *slog.Logger) (plugin.ServeConfig, error) {
		threshold := 500.0
		if v, ok := settings["threshold"]; ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				return plugin.ServeConfig{}, fmt.Errorf("setting threshold=%q: %v", v, err)
			}
			threshold = f
		}
		return plugin.ServeConfig{Recognizer: &detector{threshold: threshold}}, nil
	})
}

type detector struct{ threshold float64 }

// Info declares what the engine can do; mrcpd does the rest (DTMF, timers, NLSML, ...).
func (d *detector) Info(context.Context) (asr.RecognizerInfo, error) {
	return asr.RecognizerInfo{Name: "example-energy", Streaming: true, SpeechEvents: true, Finalize: true,
		MaxAlternatives: 1, Languages: []string{"en-US"}, SampleRates: []int{8000, 16000}}, nil
}

func (d *detector) Recognize(ctx context.Context, req asr.RecognizeRequest) (asr.RecognitionStream, error) {
	if req.SampleRate <= 0 {
		return nil, asr.Errorf(asr.ErrBadParameter, false, "sample rate %d", req.SampleRate)
	}
	// An engine skips what it cannot use and says why, rather than failing the request.
	ready := &asr.Ready{Params: map[string]string{"threshold": fmt.Sprint(d.threshold)}}
	for _, g := range req.Grammars {
		ready.Skipped = append(ready.Skipped, asr.SkippedGrammar{ID: g.ID, Reason: "this engine ignores grammars"})
	}
	s := &stream{ctx: ctx, rate: req.SampleRate, threshold: d.threshold, events: make(chan asr.Event, 16)}
	s.events <- ready
	return s, nil
}

type stream struct {
	ctx       context.Context
	rate      int
	threshold float64
	events    chan asr.Event // buffered; closed after the Final

	mu           sync.Mutex
	samples      int // heard so far
	speechAt     int // sample where speech started, -1 before
	lastLoud     int
	started, end bool
}

// Send is called with audio in batches of any size, in order.
func (s *stream) Send(in asr.Input) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.end {
		return nil
	}
	switch x := in.(type) {
	case *asr.Audio:
		s.detect(x.PCM)
	case *asr.FinalizeInput:
		s.finish()
	}
	return nil
}

// detect looks at 20 ms frames: loud ones are speech, 300 ms of quiet after speech ends it.
func (s *stream) detect(pcm []int16) {
	frame := s.rate / 50
	for len(pcm) > 0 {
		n := min(frame, len(pcm))
		var sum float64
		for _, v := range pcm[:n] {
			sum += float64(v) * float64(v)
		}
		loud := math.Sqrt(sum/float64(n)) > s.threshold
		if loud {
			s.lastLoud = s.samples + n
			if !s.started {
				s.started, s.speechAt = true, s.samples
				s.emit(&asr.SpeechStarted{At: s.dur(s.samples)})
			}
		}
		s.samples += n
		pcm = pcm[n:]
	}
}

func (s *stream) finish() {
	final := &asr.Final{} // no alternatives: no match
	if s.started {
		s.emit(&asr.SpeechEnded{At: s.dur(s.lastLoud)})
		spoke := s.dur(s.lastLoud - s.speechAt)
		final.Alternatives = []asr.Alternative{{Text: "speech", Confidence: 1, Mode: "speech",
			Interpretation: fmt.Sprintf("<duration_ms>%d</duration_ms>", spoke.Milliseconds())}}
	}
	s.emit(final)
	s.emit(&asr.Usage{Audio: s.dur(s.samples)})
	s.end = true
	close(s.events)
}

func (s *stream) emit(ev asr.Event) {
	select {
	case s.events <- ev:
	case <-s.ctx.Done():
	}
}

func (s *stream) dur(samples int) time.Duration {
	return time.Duration(samples) * time.Second / time.Duration(s.rate)
}

// Recv returns events in order, io.EOF after the last, and the context's error on cancel.
func (s *stream) Recv() (asr.Event, error) { return asr.NextEvent(s.ctx, s.events) }

func (s *stream) Close() error { return nil }

package asrtest

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"io"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/mrcpd/mrcpd/asr"
)

// Noop is a recognizer and synthesizer that does no speech work, for measuring what the host and
// the process boundary cost, and for fault injection. It answers Ready at once, counts the audio,
// and on Finalize emits a Final whose text is the digits it heard ("" when none) and a Usage.
//
// Vendor parameters (RecognizeRequest.Params) inject faults:
//
//	noop.exit-after-ms=N    the process exits after N ms of audio (out-of-process crash tests)
//	noop.hang=1             never answer: no Ready, no events
//	noop.limit-after-ms=N   fail with ErrStreamLimit after N ms of audio, as a vendor's stream cap
//	noop.latin1=1           the Final's text ends in a Latin-1 byte (not UTF-8), as a careless engine's
type Noop struct {
	mu      sync.Mutex
	limited int // streams the limit fault has hit
	// LimitStreams is how many streams the limit fault hits (0: all).
	LimitStreams int
	// Settings are echoed in every Ready's Params, so tests can see plugin settings arrive.
	Settings map[string]string
}

func (n *Noop) Info(context.Context) (asr.RecognizerInfo, error) {
	return asr.RecognizerInfo{Name: "noop", Streaming: true, Finalize: true, MaxAlternatives: 1,
		GrammarTypes: []string{"application/srgs+xml", "application/srgs", "text/plain"},
		Builtins:     []string{"builtin:speech/transcribe"},
		Languages:    []string{"en-US"}, SampleRates: []int{8000, 16000}}, nil
}

func (n *Noop) Recognize(ctx context.Context, req asr.RecognizeRequest) (asr.RecognitionStream, error) {
	for _, g := range req.Grammars {
		if g.ContentType == "application/srgs+xml" && !wellFormed(g.Body) {
			return nil, asr.Errorf(asr.ErrBadGrammar, false, "grammar %q is not XML", g.ID)
		}
	}
	rate := req.SampleRate
	if rate <= 0 {
		rate = 8000
	}
	s := &noopStream{ctx: ctx, rate: rate, events: make(chan asr.Event, 8), done: make(chan struct{})}
	s.exitAfter = paramInt(req.Params, "noop.exit-after-ms")
	s.hang = req.Params["noop.hang"] == "1"
	s.latin1 = req.Params["noop.latin1"] == "1"
	if lim := paramInt(req.Params, "noop.limit-after-ms"); lim > 0 {
		n.mu.Lock()
		if n.LimitStreams == 0 || n.limited < n.LimitStreams {
			s.limitAfter = lim
			n.limited++
		}
		n.mu.Unlock()
	}
	if !s.hang {
		p := map[string]string{}
		for k, v := range n.Settings {
			p[k] = v
		}
		for k, v := range req.Params {
			p[k] = v
		}
		s.events <- &asr.Ready{Params: p}
	}
	return s, nil
}

// wellFormed is all the grammar checking a no-op engine does: the XML must parse.
func wellFormed(b []byte) bool {
	d := xml.NewDecoder(bytes.NewReader(b))
	seen := false
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			return seen
		}
		if err != nil {
			return false
		}
		if _, ok := tok.(xml.StartElement); ok {
			seen = true
		}
	}
}

func paramInt(p map[string]string, k string) int {
	v, _ := strconv.Atoi(p[k])
	return v
}

type noopStream struct {
	ctx        context.Context
	rate       int
	samples    int
	digits     []rune
	exitAfter  int
	limitAfter int
	hang       bool
	latin1     bool
	events     chan asr.Event
	done       chan struct{}
	once       sync.Once
	finished   bool
	failed     error
	mu         sync.Mutex
}

func (s *noopStream) Send(in asr.Input) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.finished {
		return nil
	}
	switch x := in.(type) {
	case *asr.Audio:
		s.samples += len(x.PCM)
		heard := s.samples * 1000 / s.rate
		if s.exitAfter > 0 && heard >= s.exitAfter {
			os.Exit(3)
		}
		if s.limitAfter > 0 && heard >= s.limitAfter {
			s.finish(nil, asr.Errorf(asr.ErrStreamLimit, true, "noop stream limit of %d ms", s.limitAfter))
		}
	case *asr.DTMF:
		s.digits = append(s.digits, x.Digit)
	case *asr.FinalizeInput:
		if s.hang {
			return nil
		}
		var f asr.Final
		if len(s.digits) > 0 {
			text := string(s.digits)
			if s.latin1 {
				text += "\xe9"
			}
			f.Alternatives = []asr.Alternative{{Text: text, Confidence: 1, Mode: "dtmf"}}
		}
		s.finish(&f, nil)
	}
	return nil
}

// finish queues the last events; the channel has room since Recv drains it.
func (s *noopStream) finish(f *asr.Final, err error) {
	s.finished = true
	s.failed = err
	if f != nil {
		s.events <- f
		s.events <- &asr.Usage{Audio: time.Duration(s.samples) * time.Second / time.Duration(s.rate)}
	}
	close(s.events)
}

func (s *noopStream) Recv() (asr.Event, error) {
	select {
	case ev, ok := <-s.events:
		if ok {
			return ev, nil
		}
		s.mu.Lock()
		err := s.failed
		s.mu.Unlock()
		if err != nil {
			return nil, err
		}
		return nil, io.EOF
	case <-s.ctx.Done():
		return nil, s.ctx.Err()
	case <-s.done:
		return nil, asr.Errorf(asr.ErrInternal, false, "stream closed")
	}
}

func (s *noopStream) Close() error {
	s.once.Do(func() { close(s.done) })
	return nil
}

// NoopSynth synthesizes silence: 100 ms chunks, one per 10 characters of text.
type NoopSynth struct{}

func (NoopSynth) Info(context.Context) (asr.SynthesizerInfo, error) {
	return asr.SynthesizerInfo{Name: "noop", Voices: []asr.Voice{{Name: "silence", Gender: "neutral", Language: "en-US"}},
		SampleRates: []int{8000, 16000}}, nil
}

func (NoopSynth) Synthesize(ctx context.Context, req asr.SynthesizeRequest) (asr.SynthesisStream, error) {
	if req.Text == "" {
		return nil, asr.Errorf(asr.ErrBadParameter, false, "empty text")
	}
	rate := req.SampleRate
	if rate <= 0 {
		rate = 8000
	}
	return &noopSynthStream{ctx: ctx, left: (len(req.Text) + 9) / 10, chunk: rate / 10}, nil
}

type noopSynthStream struct {
	ctx         context.Context
	left, chunk int
}

func (s *noopSynthStream) Recv() (asr.SynthEvent, error) {
	if err := s.ctx.Err(); err != nil {
		return nil, err
	}
	if s.left == 0 {
		return nil, io.EOF
	}
	s.left--
	return &asr.SynthAudio{PCM: make([]int16, s.chunk)}, nil
}

func (s *noopSynthStream) Close() error { return nil }

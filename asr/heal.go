package asr

import (
	"context"
	"errors"
	"sync"
	"time"
)

// HealOptions tunes Healing.
type HealOptions struct {
	MaxHeals  int           // restarts per stream; default 3
	MaxReplay time.Duration // audio kept for replay, newest first; default 30 s
	OnHeal    func(kind ErrorKind)
}

// Healing wraps r so that a stream the engine ends with ErrStreamLimit or ErrIdleTimeout before its
// Final is reopened with the same request and the buffered audio replayed, unseen by the caller:
// vendors cap stream length and close idle streams, but an utterance is the caller's unit.
func Healing(r Recognizer, o HealOptions) Recognizer {
	if o.MaxHeals <= 0 {
		o.MaxHeals = 3
	}
	if o.MaxReplay <= 0 {
		o.MaxReplay = 30 * time.Second
	}
	return &healer{r: r, o: o}
}

type healer struct {
	r Recognizer
	o HealOptions
}

func (h *healer) Info(ctx context.Context) (RecognizerInfo, error) { return h.r.Info(ctx) }

func (h *healer) Recognize(ctx context.Context, req RecognizeRequest) (RecognitionStream, error) {
	s, err := h.r.Recognize(ctx, req)
	if err != nil {
		return nil, err
	}
	rate := req.SampleRate
	if rate <= 0 {
		rate = 8000
	}
	req.Params = copyParams(req.Params)
	return &healStream{h: h, ctx: ctx, req: req, inner: s, rate: rate}, nil
}

func copyParams(p map[string]string) map[string]string {
	c := make(map[string]string, len(p))
	for k, v := range p {
		c[k] = v
	}
	return c
}

type healStream struct {
	h    *healer
	ctx  context.Context
	rate int

	mu        sync.Mutex // guards everything below; held across a heal's replay
	req       RecognizeRequest
	inner     RecognitionStream
	hist      []Input // audio and DTMF since the replay window's start
	histLen   int     // samples in hist
	dropped   int     // samples before the window: the new stream's offsets start there
	offset    time.Duration
	finalized bool
	heals     int

	// Recv side only.
	sawReady  bool
	sawSpeech bool
	sawFinal  bool
}

func (s *healStream) Send(in Input) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	// The history keeps copies: the caller may reuse its inputs once Send returns (see Audio).
	switch x := in.(type) {
	case *Audio:
		pcm := append([]int16(nil), x.PCM...)
		s.hist = append(s.hist, &Audio{PCM: pcm})
		s.histLen += len(pcm)
		s.trim()
	case *DTMF:
		d := *x
		s.hist = append(s.hist, &d)
	case *ParamsUpdate:
		for k, v := range x.Params {
			s.req.Params[k] = v
		}
	case *FinalizeInput:
		s.finalized = true
	}
	err := s.inner.Send(in)
	if healable(err) {
		return nil // Recv sees the same error and heals; the input is in the history
	}
	return err
}

// trim drops the oldest audio beyond MaxReplay.
func (s *healStream) trim() {
	limit := int(s.h.o.MaxReplay.Seconds() * float64(s.rate))
	for s.histLen > limit && len(s.hist) > 1 {
		if a, ok := s.hist[0].(*Audio); ok {
			s.histLen -= len(a.PCM)
			s.dropped += len(a.PCM)
		}
		s.hist = s.hist[1:]
	}
}

func healable(err error) bool {
	var e *Error
	return errors.As(err, &e) && (e.Kind == ErrStreamLimit || e.Kind == ErrIdleTimeout)
}

func (s *healStream) Recv() (Event, error) {
	for {
		s.mu.Lock()
		inner, offset := s.inner, s.offset
		s.mu.Unlock()
		ev, err := inner.Recv()
		if err != nil {
			if healable(err) && !s.sawFinal && s.ctx.Err() == nil {
				if herr := s.heal(err); herr == nil {
					continue
				}
			}
			return nil, err
		}
		switch e := ev.(type) {
		case *Ready:
			// The caller sees one Ready: a replacement stream's is dropped, unless the first
			// stream failed before its own was read.
			if s.sawReady {
				continue
			}
			s.sawReady = true
		case *SpeechStarted:
			if s.sawSpeech {
				continue // the replayed audio's speech start was already reported
			}
			s.sawSpeech = true
			e.At += offset
		case *SpeechEnded:
			e.At += offset
		case *Final:
			s.sawFinal = true
			for i := range e.Alternatives {
				for j := range e.Alternatives[i].Words {
					e.Alternatives[i].Words[j].Start += offset
					e.Alternatives[i].Words[j].End += offset
				}
			}
		}
		return ev, nil
	}
}

func (s *healStream) heal(cause error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.heals >= s.h.o.MaxHeals {
		return cause
	}
	s.heals++
	s.inner.Close()
	ns, err := s.h.r.Recognize(s.ctx, s.req)
	if err != nil {
		return err
	}
	for _, in := range s.hist {
		if err := ns.Send(in); err != nil {
			ns.Close()
			return err
		}
	}
	if s.finalized {
		if err := ns.Send(&FinalizeInput{}); err != nil {
			ns.Close()
			return err
		}
	}
	s.inner = ns
	s.offset = time.Duration(s.dropped) * time.Second / time.Duration(s.rate)
	if s.h.o.OnHeal != nil {
		s.h.o.OnHeal(KindOf(cause))
	}
	return nil
}

func (s *healStream) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.inner.Close()
}

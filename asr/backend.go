package asr

import (
	"context"
	"fmt"
	"sync"
)

// Stack is the one middleware every backend sits behind, built in or plugin, so that they are
// healed, measured and drained on equal terms. From the engine outwards: stream healing (a
// recognizer's streams that the vendor cuts are reopened and replayed), the metrics, and a Gate.
type Stack struct {
	Metrics *Metrics    // nil: not measured
	Heal    HealOptions // each heal is also counted as a stream restart in Metrics
	Gate    *Gate       // nil: none; a plugin host's, so that a retired host drains first
}

// Register wraps backend (a Recognizer, a Synthesizer, or a value that is both) in the stack and
// adds it to reg under name.
func (s Stack) Register(reg *Registry, name string, backend any) error {
	rec, isRec := backend.(Recognizer)
	syn, isSyn := backend.(Synthesizer)
	if !isRec && !isSyn {
		return fmt.Errorf("asr: %s: %T is neither a Recognizer nor a Synthesizer", name, backend)
	}
	if isRec {
		if err := reg.AddRecognizer(name, s.Recognizer(name, rec)); err != nil {
			return err
		}
	}
	if isSyn {
		return reg.AddSynthesizer(name, s.Synthesizer(name, syn))
	}
	return nil
}

// Recognizer is r inside the stack.
func (s Stack) Recognizer(name string, r Recognizer) Recognizer {
	heal := s.Heal
	if m, on := s.Metrics, heal.OnHeal; m != nil {
		heal.OnHeal = func(k ErrorKind) {
			m.Restarted(name, "stream")
			if on != nil {
				on(k)
			}
		}
	}
	r = Healing(r, heal)
	if s.Metrics != nil {
		r = s.Metrics.Recognizer(name, r)
	}
	if s.Gate != nil {
		r = gatedRecognizer{r, s.Gate}
	}
	return r
}

// Synthesizer is syn inside the stack (synthesis streams are not healed: audio already played
// cannot be replayed).
func (s Stack) Synthesizer(name string, syn Synthesizer) Synthesizer {
	if s.Metrics != nil {
		syn = s.Metrics.Synthesizer(name, syn)
	}
	if s.Gate != nil {
		syn = gatedSynthesizer{syn, s.Gate}
	}
	return syn
}

// Gate counts the streams open on a backend, so that one being replaced (a plugin whose
// configuration a reload changed) is stopped only once its last stream has ended: calls in the
// middle of a recognition or a prompt finish on the process they started on.
type Gate struct {
	onIdle func(why string) // stops the backend; called at most once, by Retire or a stream's end

	mu      sync.Mutex
	open    int
	retired bool
	stopped bool
}

// NewGate calls stop once the gate is retired and no stream is open.
func NewGate(stop func(why string)) *Gate { return &Gate{onIdle: stop} }

// Retire stops the backend now if no stream is open, else when the last one ends; it returns the
// streams still open.
func (g *Gate) Retire() int {
	g.mu.Lock()
	g.retired = true
	stop := g.open == 0 && !g.stopped
	g.stopped = g.stopped || stop
	open := g.open
	g.mu.Unlock()
	if stop {
		g.onIdle("retired")
	}
	return open
}

// Shutdown marks the backend stopped whatever is open (the process is exiting) and reports
// whether it was not already: the caller stops it.
func (g *Gate) Shutdown() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	was := !g.stopped
	g.stopped = true
	return was
}

func (g *Gate) acquire() {
	g.mu.Lock()
	g.open++
	g.mu.Unlock()
}

func (g *Gate) release() {
	g.mu.Lock()
	g.open--
	stop := g.retired && g.open == 0 && !g.stopped
	g.stopped = g.stopped || stop
	g.mu.Unlock()
	if stop {
		g.onIdle("drained")
	}
}

// gatedRecognizer and gatedSynthesizer hold their gate while a stream is open.
type gatedRecognizer struct {
	Recognizer
	g *Gate
}

func (c gatedRecognizer) Recognize(ctx context.Context, req RecognizeRequest) (RecognitionStream, error) {
	st, h, err := holding(c.g, func() (RecognitionStream, error) { return c.Recognizer.Recognize(ctx, req) })
	if err != nil {
		return nil, err
	}
	return &gatedRecStream{st, h}, nil
}

type gatedSynthesizer struct {
	Synthesizer
	g *Gate
}

func (c gatedSynthesizer) Synthesize(ctx context.Context, req SynthesizeRequest) (SynthesisStream, error) {
	st, h, err := holding(c.g, func() (SynthesisStream, error) { return c.Synthesizer.Synthesize(ctx, req) })
	if err != nil {
		return nil, err
	}
	return &gatedSynthStream{st, h}, nil
}

// holding opens a stream with g held; the hold ends with the stream's first Close.
func holding[S any](g *Gate, open func() (S, error)) (S, *hold, error) {
	g.acquire()
	st, err := open()
	if err != nil {
		g.release()
		return st, nil, err
	}
	return st, &hold{g: g}, nil
}

type hold struct {
	g    *Gate
	once sync.Once
}

func (h *hold) end() { h.once.Do(h.g.release) }

type gatedRecStream struct {
	RecognitionStream
	h *hold
}

func (s *gatedRecStream) Close() error { defer s.h.end(); return s.RecognitionStream.Close() }

type gatedSynthStream struct {
	SynthesisStream
	h *hold
}

func (s *gatedSynthStream) Close() error { defer s.h.end(); return s.SynthesisStream.Close() }

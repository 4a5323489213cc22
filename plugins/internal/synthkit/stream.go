package synthkit

import (
	"context"
	"io"

	"github.com/mrcpd/mrcpd/asr"
)

// MaxSampleRate is the highest output rate a synthesizer plugin resamples to.
const MaxSampleRate = 48000

// OutputRate is the rate to synthesise a request at: the requested one, 8 kHz when none is asked.
// engine prefixes the error ("espeak-ng", "flite").
func OutputRate(engine string, requested int) (int, error) {
	if requested <= 0 {
		return 8000, nil
	}
	if requested > MaxSampleRate {
		return 0, asr.Errorf(asr.ErrBadParameter, false, "%s: sample rate %d not supported", engine, requested)
	}
	return requested, nil
}

// Pipe carries one utterance's pieces from the engine's synthesis thread (the producer, which
// blocks while the consumer is behind) to the stream's Recv. Cancelling ctx stops both sides.
type Pipe[T any] struct {
	ctx context.Context
	out chan T
	err error // written before out is closed, read after
}

// NewPipe makes a pipe buffering up to n pieces.
func NewPipe[T any](ctx context.Context, n int) *Pipe[T] {
	return &Pipe[T]{ctx: ctx, out: make(chan T, n)}
}

// Context is the utterance's context: done once the stream is closed.
func (p *Pipe[T]) Context() context.Context { return p.ctx }

// Send hands one piece over; false once the stream is closed, when the producer should stop.
func (p *Pipe[T]) Send(v T) bool {
	select {
	case p.out <- v:
		return true
	case <-p.ctx.Done():
		return false
	}
}

// Fail records the reason synthesis stopped; call it before Close, from the producer.
func (p *Pipe[T]) Fail(err error) { p.err = err }

// Close ends the utterance; the producer calls it once, when it is done.
func (p *Pipe[T]) Close() { close(p.out) }

// Recv is the next piece; at the end the producer's failure, the context's error or io.EOF.
func (p *Pipe[T]) Recv() (T, error) {
	var zero T
	select {
	case v, ok := <-p.out:
		if !ok {
			if p.err != nil {
				return zero, p.err
			}
			if err := p.ctx.Err(); err != nil {
				return zero, err
			}
			return zero, io.EOF
		}
		return v, nil
	case <-p.ctx.Done():
		return zero, p.ctx.Err()
	}
}

package plugin

import (
	"context"
	"errors"
	"io"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/mrcpd/mrcpd/asr"
	pb "github.com/mrcpd/mrcpd/asr/pluginpb"
)

// This file is the host side of one stream: asr.RecognitionStream and asr.SynthesisStream by proxy.

// recStream is the host end of one recognition, a logical stream of the process's Streams RPC:
// its inputs go out through the session's mux, its events come in through the session's
// receive loop, and its context ending (caller cancel, Close, ready timeout, process gone)
// sends the plugin a Cancel, so cancellation crosses the boundary.
type recStream struct {
	ctx    context.Context
	cancel context.CancelCauseFunc
	done   func() // releases the process's active count, once
	id     uint64
	sess   *session

	mu     sync.Mutex // guards the fields below
	mux    muxState
	closed bool
	events []*pb.StreamEvent // received, not yet returned by Recv
	ended  bool              // the plugin ended the stream: no Cancel needed

	over       atomic.Bool   // ctx is done: cheaper to ask per frame than ctx.Err
	signal     chan struct{} // an event arrived
	readyTimer *time.Timer
	gotFirst   bool // Recv side only
	eof        bool // Recv side only: the end was returned
	closeOnce  sync.Once
}

func (s *recStream) Send(in asr.Input) error {
	if a, ok := in.(*asr.Audio); ok {
		s.mu.Lock()
		defer s.mu.Unlock()
		if err := s.usable(); err != nil || s.over.Load() {
			return err
		}
		s.sess.mux.addAudio(&s.mux, s.id, a.PCM)
		return nil
	}
	e := &pb.StreamInput{StreamId: s.id}
	switch x := in.(type) {
	case *asr.DTMF:
		var d [4]byte
		n := utf8.EncodeRune(d[:], x.Digit)
		e.Input = &pb.RecognizeInput{Input: &pb.RecognizeInput_Dtmf{Dtmf: &pb.DTMF{Digit: string(d[:n])}}}
	case *asr.ParamsUpdate:
		u := &pb.ParamsUpdate{Params: x.Params}
		if f := invalidUTF8(u.ProtoReflect()); f != "" {
			return asr.Errorf(asr.ErrBadParameter, false, "plugin: %s of a parameter update is not valid UTF-8", f)
		}
		e.Input = &pb.RecognizeInput{Input: &pb.RecognizeInput_Params{Params: u}}
	case *asr.FinalizeInput:
		e.Input = &pb.RecognizeInput{Input: &pb.RecognizeInput_Finalize{Finalize: &pb.Finalize{}}}
	case *asr.KeepAlive:
		e.Input = &pb.RecognizeInput{Input: &pb.RecognizeInput_KeepAlive{KeepAlive: &pb.KeepAlive{}}}
	default:
		return asr.Errorf(asr.ErrBadParameter, false, "plugin: unknown input %T", in)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch err := s.usable(); {
	case err != nil:
		return err
	case s.over.Load():
		// The stream failed or was cancelled; Recv reports why.
		return nil
	default:
		s.sess.mux.add(&s.mux, e, true)
	}
	return nil
}

func (s *recStream) usable() error {
	if s.closed {
		return asr.Errorf(asr.ErrInternal, false, "plugin: send on a closed stream")
	}
	return nil
}

// deliver queues an event or the end from the session's receive loop; it never blocks.
func (s *recStream) deliver(e *pb.StreamEvent) {
	s.mu.Lock()
	s.events = append(s.events, e)
	if e.End {
		s.ended = true
	}
	s.mu.Unlock()
	select {
	case s.signal <- struct{}{}:
	default:
	}
}

func (s *recStream) next() *pb.StreamEvent {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.events) == 0 {
		return nil
	}
	e := s.events[0]
	s.events[0] = nil
	s.events = s.events[1:]
	return e
}

// Recv returns the events that arrived before the stream's context ended, then why it ended.
func (s *recStream) Recv() (asr.Event, error) {
	if s.eof {
		return nil, io.EOF
	}
	for {
		e := s.next()
		if e == nil {
			select {
			case <-s.signal:
				continue
			case <-s.ctx.Done():
				if e = s.next(); e == nil {
					s.release()
					return nil, fromRPC(s.ctx, s.ctx.Err())
				}
			}
		}
		if e.End {
			s.eof = true
			s.release()
			return nil, io.EOF
		}
		if !s.gotFirst {
			s.gotFirst = true
			s.readyTimer.Stop()
		}
		ev, err := eventFromPB(e.Event)
		if err != nil {
			s.release()
			return nil, err
		}
		return ev, nil
	}
}

func (s *recStream) release() { s.closeOnce.Do(s.done) }

func (s *recStream) Close() error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.readyTimer.Stop()
	s.cancel(context.Canceled)
	s.release()
	return nil
}

// stopped runs once the stream's context ends: the session forgets the stream, and the plugin
// cancels its engine stream unless it already ended it.
func (s *recStream) stopped() {
	s.over.Store(true)
	s.sess.remove(s.id)
	s.sess.mux.untrack(&s.mux)
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.ended {
		s.sess.mux.add(&s.mux, &pb.StreamInput{StreamId: s.id, Input: &pb.RecognizeInput{
			Input: &pb.RecognizeInput_Cancel{Cancel: &pb.Cancel{}}}}, true)
	}
}

type synStream struct {
	ctx       context.Context
	cancel    context.CancelCauseFunc
	rpc       pb.Synthesizer_SynthesizeClient
	done      func()
	closeOnce sync.Once
	first     bool
	timer     *time.Timer
}

func (s *synStream) Recv() (asr.SynthEvent, error) {
	for {
		m, err := s.rpc.Recv()
		if err != nil {
			s.closeOnce.Do(s.done)
			if errors.Is(err, io.EOF) {
				// A stream must end with Done or Error; ending without is a broken plugin.
				return nil, asr.Errorf(asr.ErrUnavailable, true, "plugin ended the stream without done")
			}
			return nil, fromRPC(s.ctx, err)
		}
		if !s.first {
			s.first = true
			s.timer.Stop()
		}
		switch e := m.Event.(type) {
		case *pb.SynthesizeEvent_Audio:
			return &asr.SynthAudio{PCM: decodePCM(e.Audio.Pcm)}, nil
		case *pb.SynthesizeEvent_Mark:
			return &asr.Mark{Name: e.Mark.Name}, nil
		case *pb.SynthesizeEvent_Done:
			s.closeOnce.Do(s.done)
			return nil, io.EOF
		case *pb.SynthesizeEvent_Error:
			s.closeOnce.Do(s.done)
			return nil, errorFromPB(e.Error)
		}
	}
}

func (s *synStream) Close() error {
	s.timer.Stop()
	s.cancel(context.Canceled)
	s.closeOnce.Do(s.done)
	return nil
}

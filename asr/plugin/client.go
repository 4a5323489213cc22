package plugin

import (
	"context"
	"errors"
	"io"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/mrcpd/mrcpd/asr"
	pb "github.com/mrcpd/mrcpd/asr/pluginpb"
)

// This file is the host side of one stream: asr.RecognitionStream and asr.SynthesisStream by proxy.

// recStream is the host end of one recognition. Its control (start, cancel by context) and its
// events use the stream's own RPC; its inputs go through the process's mux, after the first event.
type recStream struct {
	ctx    context.Context
	cancel context.CancelCauseFunc
	rpc    pb.Recognizer_RecognizeClient
	done   func() // releases the process's active count, once
	id     uint64
	mux    *mux

	mu      sync.Mutex // guards the fields below
	ready   bool
	last    *pb.StreamInput // this stream's audio entry in the mux's open batch
	lastSeq uint64
	queued  []*pb.StreamInput
	closed  bool

	readyTimer *time.Timer
	gotFirst   bool // Recv side only
	closeOnce  sync.Once
}

func (s *recStream) Send(in asr.Input) error {
	if a, ok := in.(*asr.Audio); ok {
		s.mu.Lock()
		defer s.mu.Unlock()
		if err := s.usable(); err != nil || s.ctx.Err() != nil {
			return err
		}
		if s.ready {
			s.mux.addAudio(s.id, a.PCM, &s.last, &s.lastSeq)
		} else {
			s.queued = append(s.queued, &pb.StreamInput{StreamId: s.id, Pcm: appendPCM(nil, a.PCM)})
		}
		return nil
	}
	e := &pb.StreamInput{StreamId: s.id}
	switch x := in.(type) {
	case *asr.DTMF:
		var d [4]byte
		n := utf8.EncodeRune(d[:], x.Digit)
		e.Input = &pb.RecognizeInput{Input: &pb.RecognizeInput_Dtmf{Dtmf: &pb.DTMF{Digit: string(d[:n])}}}
	case *asr.ParamsUpdate:
		e.Input = &pb.RecognizeInput{Input: &pb.RecognizeInput_Params{Params: &pb.ParamsUpdate{Params: x.Params}}}
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
	case s.ctx.Err() != nil:
		// The stream failed or was cancelled; Recv reports why.
		return nil
	case !s.ready:
		s.queued = append(s.queued, e)
	default:
		s.mux.add(e, e.Input != nil)
	}
	return nil
}

func (s *recStream) usable() error {
	if s.closed {
		return asr.Errorf(asr.ErrInternal, false, "plugin: send on a closed stream")
	}
	return nil
}

func (s *recStream) Recv() (asr.Event, error) {
	m, err := s.rpc.Recv()
	if err != nil {
		s.release()
		if errors.Is(err, io.EOF) {
			return nil, io.EOF
		}
		return nil, fromRPC(s.ctx, err)
	}
	if !s.gotFirst {
		s.gotFirst = true
		s.readyTimer.Stop()
		s.mu.Lock()
		s.ready = true
		s.mux.addAll(s.queued)
		s.queued = nil
		s.mu.Unlock()
	}
	ev, err := eventFromPB(m)
	if err != nil {
		s.release()
		return nil, err
	}
	return ev, nil
}

func (s *recStream) release() { s.closeOnce.Do(s.done) }

func (s *recStream) Close() error {
	s.mu.Lock()
	s.closed = true
	s.queued = nil
	s.mu.Unlock()
	s.readyTimer.Stop()
	s.cancel(context.Canceled)
	s.release()
	return nil
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

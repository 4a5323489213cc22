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

var errStreamEnded = errors.New("plugin ended the stream")

// recStream batches audio: a gRPC message per 20 ms frame costs more CPU than the engine of a
// no-op plugin, so frames are held until batch worth of audio is buffered or the oldest has
// waited maxWait, whichever comes first. Any other input flushes the batch first, keeping order.
type recStream struct {
	ctx    context.Context
	cancel context.CancelCauseFunc
	rpc    pb.Recognizer_RecognizeClient
	done   func() // releases the instance's active count, once

	mu         sync.Mutex // guards the send side below and rpc.Send
	buf        []byte
	batchBytes int
	maxWait    time.Duration
	timer      *time.Timer
	armedAt    time.Time
	msg        pb.RecognizeInput
	audio      pb.AudioBatch
	sendErr    error
	closed     bool
	waitHook   func(time.Duration) // test/benchmark probe: how long the oldest sample waited

	readyTimer *time.Timer
	gotFirst   bool // Recv side only
	closeOnce  sync.Once
}

func (s *recStream) Send(in asr.Input) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return asr.Errorf(asr.ErrInternal, false, "plugin: send on a closed stream")
	}
	if s.sendErr == errStreamEnded {
		return nil
	}
	if s.sendErr != nil {
		return s.sendErr
	}
	var m *pb.RecognizeInput
	switch x := in.(type) {
	case *asr.Audio:
		if len(s.buf) == 0 {
			s.armedAt = time.Now()
			s.arm()
		}
		s.buf = appendPCM(s.buf, x.PCM)
		if len(s.buf) >= s.batchBytes {
			return s.flushLocked()
		}
		return nil
	case *asr.DTMF:
		var d [4]byte
		n := utf8.EncodeRune(d[:], x.Digit)
		m = &pb.RecognizeInput{Input: &pb.RecognizeInput_Dtmf{Dtmf: &pb.DTMF{Digit: string(d[:n])}}}
	case *asr.ParamsUpdate:
		m = &pb.RecognizeInput{Input: &pb.RecognizeInput_Params{Params: &pb.ParamsUpdate{Params: x.Params}}}
	case *asr.FinalizeInput:
		m = &pb.RecognizeInput{Input: &pb.RecognizeInput_Finalize{Finalize: &pb.Finalize{}}}
	case *asr.KeepAlive:
		m = &pb.RecognizeInput{Input: &pb.RecognizeInput_KeepAlive{KeepAlive: &pb.KeepAlive{}}}
	default:
		return asr.Errorf(asr.ErrBadParameter, false, "plugin: unknown input %T", in)
	}
	if err := s.flushLocked(); err != nil {
		return err
	}
	return s.sendLocked(m)
}

func (s *recStream) arm() {
	if s.timer == nil {
		s.timer = time.AfterFunc(s.maxWait, s.flushTimer)
		return
	}
	s.timer.Reset(s.maxWait)
}

func (s *recStream) flushTimer() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closed && s.sendErr == nil {
		// A failure is kept in sendErr for the next Send and reported by Recv.
		_ = s.flushLocked()
	}
}

func (s *recStream) flushLocked() error {
	if len(s.buf) == 0 {
		return nil
	}
	if s.timer != nil {
		s.timer.Stop()
	}
	if s.waitHook != nil {
		s.waitHook(time.Since(s.armedAt))
	}
	s.audio.Pcm = s.buf
	s.msg.Input = &pb.RecognizeInput_Audio{Audio: &s.audio}
	err := s.sendLocked(&s.msg)
	// gRPC has serialised the message when Send returns, so the buffer is free again.
	s.buf = s.buf[:0]
	return err
}

func (s *recStream) sendLocked(m *pb.RecognizeInput) error {
	err := s.rpc.Send(m)
	if err == nil {
		return nil
	}
	if errors.Is(err, io.EOF) {
		// The plugin ended the stream (a Final, or an error event); Recv reports which. Later
		// inputs are dropped, as they would be by an engine that has finished.
		s.sendErr = errStreamEnded
		return nil
	}
	s.sendErr = fromRPC(s.ctx, err)
	return s.sendErr
}

func (s *recStream) Recv() (asr.Event, error) {
	m, err := s.rpc.Recv()
	if err != nil {
		if errors.Is(err, io.EOF) {
			s.release()
			return nil, io.EOF
		}
		s.release()
		return nil, fromRPC(s.ctx, err)
	}
	if !s.gotFirst {
		s.gotFirst = true
		s.readyTimer.Stop()
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
	if s.timer != nil {
		s.timer.Stop()
	}
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

package plugin

import (
	"context"
	"errors"
	"io"
	"sync"
	"unicode/utf8"

	"github.com/mrcpd/mrcpd/asr"
	pb "github.com/mrcpd/mrcpd/asr/pluginpb"
)

// This file is the plugin side: gRPC servers that drive the plugin's asr.Recognizer and
// asr.Synthesizer. Each RPC's context is cancelled by the host (stream cancel or process exit), and
// the engine's stream is created under it, so cancellation crosses the boundary.

func asError(err error) (*asr.Error, bool) {
	var e *asr.Error
	ok := errors.As(err, &e)
	return e, ok
}

type recognizerServer struct {
	pb.UnimplementedRecognizerServer
	impl    asr.Recognizer
	mu      sync.Mutex
	streams map[uint64]*inbox
}

// inbox queues one stream's inputs from the Inputs multiplex. It never blocks the multiplex: one
// slow engine must not hold up the other streams' audio.
type inbox struct {
	mu     sync.Mutex
	queue  []asr.Input
	signal chan struct{}
}

func (b *inbox) push(in asr.Input) {
	b.mu.Lock()
	b.queue = append(b.queue, in)
	b.mu.Unlock()
	select {
	case b.signal <- struct{}{}:
	default:
	}
}

func (b *inbox) take(dst []asr.Input) []asr.Input {
	b.mu.Lock()
	defer b.mu.Unlock()
	dst = append(dst[:0], b.queue...)
	clear(b.queue)
	b.queue = b.queue[:0]
	return dst
}

func (s *recognizerServer) Info(ctx context.Context, _ *pb.InfoRequest) (*pb.RecognizerInfo, error) {
	info, err := s.impl.Info(ctx)
	if err != nil {
		return nil, toStatus(err)
	}
	return recInfoToPB(info), nil
}

// Inputs dispatches the multiplexed inputs to their streams' inboxes.
func (s *recognizerServer) Inputs(srv pb.Recognizer_InputsServer) error {
	for {
		b, err := srv.Recv()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return srv.SendAndClose(&pb.InputsDone{})
			}
			return err
		}
		s.mu.Lock()
		for _, e := range b.Inputs {
			box := s.streams[e.StreamId]
			if box == nil {
				continue // the stream has ended: its late inputs have no reader
			}
			if e.Input != nil {
				if in := inputFromPB(e.Input); in != nil {
					box.push(in)
				}
				continue
			}
			box.push(&asr.Audio{PCM: decodePCM(e.Pcm)})
		}
		s.mu.Unlock()
	}
}

func (s *recognizerServer) register(id uint64) *inbox {
	box := &inbox{signal: make(chan struct{}, 1)}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.streams == nil {
		s.streams = map[uint64]*inbox{}
	}
	s.streams[id] = box
	return box
}

func (s *recognizerServer) unregister(id uint64) {
	s.mu.Lock()
	delete(s.streams, id)
	s.mu.Unlock()
}

func (s *recognizerServer) Recognize(srv pb.Recognizer_RecognizeServer) error {
	first, err := srv.Recv()
	if err != nil {
		return err
	}
	start := first.GetStart()
	if start == nil {
		return srv.Send(&pb.RecognizeEvent{Event: &pb.RecognizeEvent_Error{Error: errorToPB(
			asr.Errorf(asr.ErrBadParameter, false, "first message of a Recognize stream must be start"))}})
	}
	ctx, cancel := context.WithCancel(srv.Context())
	defer cancel()
	// Registered before the engine can answer: the host sends inputs only after the first event.
	box := s.register(start.StreamId)
	defer s.unregister(start.StreamId)
	stream, err := s.impl.Recognize(ctx, startFromPB(start))
	if err != nil {
		return srv.Send(&pb.RecognizeEvent{Event: &pb.RecognizeEvent_Error{Error: errorToPB(err)}})
	}
	defer stream.Close()

	// Inputs reach the engine from their own goroutine; events are sent from this one, which
	// owns srv.Send. The RPC ends when the engine's stream ends.
	go s.watch(ctx, srv, box, cancel)
	go feed(ctx, box, stream)
	for {
		ev, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return srv.Send(&pb.RecognizeEvent{Event: &pb.RecognizeEvent_Error{Error: errorToPB(err)}})
		}
		if m := eventToPB(ev); m != nil {
			if err := srv.Send(m); err != nil {
				return err
			}
		}
	}
}

// watch reads the stream's own RPC: inputs sent there (older hosts, or Cancel) and its end, which
// is the host cancelling.
func (s *recognizerServer) watch(ctx context.Context, srv pb.Recognizer_RecognizeServer, box *inbox, cancel context.CancelFunc) {
	for {
		m, err := srv.Recv()
		if err != nil || m.GetCancel() != nil {
			cancel()
			return
		}
		if in := inputFromPB(m); in != nil {
			box.push(in)
		}
	}
}

// feed passes queued inputs to the engine in order until the stream ends.
func feed(ctx context.Context, box *inbox, stream asr.RecognitionStream) {
	var batch []asr.Input
	for {
		select {
		case <-ctx.Done():
			stream.Close()
			return
		case <-box.signal:
		}
		batch = box.take(batch)
		for _, in := range batch {
			// A failed Send is the engine's to report through Recv; keep draining.
			_ = stream.Send(in)
		}
		clear(batch)
	}
}

func inputFromPB(m *pb.RecognizeInput) asr.Input {
	switch x := m.Input.(type) {
	case *pb.RecognizeInput_Audio:
		return &asr.Audio{PCM: decodePCM(x.Audio.Pcm)}
	case *pb.RecognizeInput_Dtmf:
		d, _ := utf8.DecodeRuneInString(x.Dtmf.Digit)
		return &asr.DTMF{Digit: d}
	case *pb.RecognizeInput_Params:
		return &asr.ParamsUpdate{Params: x.Params.Params}
	case *pb.RecognizeInput_Finalize:
		return &asr.FinalizeInput{}
	case *pb.RecognizeInput_KeepAlive:
		return &asr.KeepAlive{}
	}
	return nil
}

type synthesizerServer struct {
	pb.UnimplementedSynthesizerServer
	impl asr.Synthesizer
}

func (s *synthesizerServer) Info(ctx context.Context, _ *pb.InfoRequest) (*pb.SynthesizerInfo, error) {
	info, err := s.impl.Info(ctx)
	if err != nil {
		return nil, toStatus(err)
	}
	return synInfoToPB(info), nil
}

func (s *synthesizerServer) Synthesize(srv pb.Synthesizer_SynthesizeServer) error {
	first, err := srv.Recv()
	if err != nil {
		return err
	}
	start := first.GetStart()
	if start == nil {
		return srv.Send(&pb.SynthesizeEvent{Event: &pb.SynthesizeEvent_Error{Error: errorToPB(
			asr.Errorf(asr.ErrBadParameter, false, "first message of a Synthesize stream must be start"))}})
	}
	ctx, cancel := context.WithCancel(srv.Context())
	defer cancel()
	go func() {
		// Cancel or the host closing its side stops the utterance.
		for {
			m, err := srv.Recv()
			if err != nil || m.GetCancel() != nil {
				cancel()
				return
			}
		}
	}()
	stream, err := s.impl.Synthesize(ctx, synStartFromPB(start))
	if err != nil {
		return srv.Send(&pb.SynthesizeEvent{Event: &pb.SynthesizeEvent_Error{Error: errorToPB(err)}})
	}
	defer stream.Close()
	var buf []byte
	for {
		ev, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return srv.Send(&pb.SynthesizeEvent{Event: &pb.SynthesizeEvent_Done{Done: &pb.Done{}}})
		}
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return srv.Send(&pb.SynthesizeEvent{Event: &pb.SynthesizeEvent_Error{Error: errorToPB(err)}})
		}
		var m *pb.SynthesizeEvent
		switch e := ev.(type) {
		case *asr.SynthAudio:
			buf = appendPCM(buf[:0], e.PCM)
			m = &pb.SynthesizeEvent{Event: &pb.SynthesizeEvent_Audio{Audio: &pb.AudioBatch{Pcm: buf}}}
		case *asr.Mark:
			m = &pb.SynthesizeEvent{Event: &pb.SynthesizeEvent_Mark{Mark: &pb.Mark{Name: e.Name}}}
		default:
			continue
		}
		if err := srv.Send(m); err != nil {
			return err
		}
	}
}

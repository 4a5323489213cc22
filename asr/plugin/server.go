package plugin

import (
	"context"
	"errors"
	"io"
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
	impl asr.Recognizer
}

func (s *recognizerServer) Info(ctx context.Context, _ *pb.InfoRequest) (*pb.RecognizerInfo, error) {
	info, err := s.impl.Info(ctx)
	if err != nil {
		return nil, toStatus(err)
	}
	return recInfoToPB(info), nil
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
	stream, err := s.impl.Recognize(ctx, startFromPB(start))
	if err != nil {
		return srv.Send(&pb.RecognizeEvent{Event: &pb.RecognizeEvent_Error{Error: errorToPB(err)}})
	}
	defer stream.Close()

	// Inputs are forwarded from their own goroutine; events are sent from this one, which owns
	// srv.Send. The RPC ends when the engine's stream ends.
	go s.pump(ctx, srv, stream, cancel)
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

func (s *recognizerServer) pump(ctx context.Context, srv pb.Recognizer_RecognizeServer, stream asr.RecognitionStream, cancel context.CancelFunc) {
	for {
		m, err := srv.Recv()
		if err != nil {
			// The host went away or closed its side: end the engine stream.
			cancel()
			stream.Close()
			return
		}
		var in asr.Input
		switch x := m.Input.(type) {
		case *pb.RecognizeInput_Audio:
			in = &asr.Audio{PCM: decodePCM(x.Audio.Pcm)}
		case *pb.RecognizeInput_Dtmf:
			d, _ := utf8.DecodeRuneInString(x.Dtmf.Digit)
			in = &asr.DTMF{Digit: d}
		case *pb.RecognizeInput_Params:
			in = &asr.ParamsUpdate{Params: x.Params.Params}
		case *pb.RecognizeInput_Finalize:
			in = &asr.FinalizeInput{}
		case *pb.RecognizeInput_KeepAlive:
			in = &asr.KeepAlive{}
		case *pb.RecognizeInput_Cancel:
			cancel()
			stream.Close()
			return
		default:
			continue
		}
		if err := stream.Send(in); err != nil {
			if ctx.Err() != nil {
				return
			}
			// The engine's Recv reports the failure; keep draining so the host's Sends don't block.
			continue
		}
	}
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

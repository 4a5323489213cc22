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
	impl  asr.Recognizer
	codec *codec // nil on connections without it (NewTestHost)
}

func (s *recognizerServer) Info(ctx context.Context, _ *pb.InfoRequest) (*pb.RecognizerInfo, error) {
	info, err := s.impl.Info(ctx)
	if err != nil {
		return nil, toStatus(err)
	}
	return recInfoToPB(info), nil
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
		return sendSynth(srv, &pb.SynthesizeEvent{Event: &pb.SynthesizeEvent_Error{Error: errorToPB(
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
		return sendSynth(srv, &pb.SynthesizeEvent{Event: &pb.SynthesizeEvent_Error{Error: errorToPB(err)}})
	}
	defer stream.Close()
	var buf []byte
	for {
		ev, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return sendSynth(srv, &pb.SynthesizeEvent{Event: &pb.SynthesizeEvent_Done{Done: &pb.Done{}}})
		}
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return sendSynth(srv, &pb.SynthesizeEvent{Event: &pb.SynthesizeEvent_Error{Error: errorToPB(err)}})
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
		if err := sendSynth(srv, m); err != nil {
			return err
		}
	}
}

// sendSynth sends a synthesis event with any string that is not UTF-8 (an engine's error or mark
// name) repaired, which protobuf would otherwise refuse to marshal.
func sendSynth(srv pb.Synthesizer_SynthesizeServer, m *pb.SynthesizeEvent) error {
	fixUTF8(m.ProtoReflect())
	return srv.Send(m)
}

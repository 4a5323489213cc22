package plugin

import (
	"context"
	"maps"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mrcpd/mrcpd/asr"
	pb "github.com/mrcpd/mrcpd/asr/pluginpb"
)

// maxStartSize bounds a recognition start on the wire. gRPC refuses a message over 4 MB; the mux
// closes a batch before an input that would take it over maxBatchBytes, so starts of up to
// 1.5 MiB, however many arrive at once, go out in messages under the limit.
// mrcpd's own limits (mrcp.max_channel_params, mrcp.max_channel_grammars, mrcp.max_message_size)
// keep a RECOGNIZE under it by default.
const maxStartSize = 3 << 20 / 2

type hostRecognizer struct{ h *Host }

// Info returns what the plugin declared at its last start.
func (r *hostRecognizer) Info(context.Context) (asr.RecognizerInfo, error) {
	for _, in := range r.h.instances {
		if g := in.current(); g != nil && g.recInfo != nil {
			return *g.recInfo, nil
		}
	}
	return asr.RecognizerInfo{}, asr.Errorf(asr.ErrUnavailable, true, "plugin %s: no process running", r.h.cfg.Name)
}

func (r *hostRecognizer) Recognize(ctx context.Context, req asr.RecognizeRequest) (asr.RecognitionStream, error) {
	g, err := r.h.pick()
	if err != nil {
		return nil, err
	}
	if g.recInfo == nil {
		return nil, asr.Errorf(asr.ErrUnavailable, false, "plugin %s serves no recognizer", r.h.cfg.Name)
	}
	req.Params = maps.Clone(req.Params) // the start is encoded later, on the mux's goroutine
	start := startToPB(req)
	if f := invalidUTF8(start.ProtoReflect()); f != "" {
		return nil, asr.Errorf(asr.ErrBadParameter, false, "plugin %s: %s of the recognition is not valid UTF-8", r.h.cfg.Name, f)
	}
	if n := proto.Size(start); n > maxStartSize {
		// One process's streams share one gRPC stream, which a message over gRPC's limit
		// (4 MB) would end for all of them: this recognition fails alone.
		return nil, asr.Errorf(asr.ErrBadParameter, false, "plugin %s: a recognition start of %d bytes (grammars and parameters) is over %d", r.h.cfg.Name, n, maxStartSize)
	}
	sctx, cancel := streamContext(ctx, g)
	cfg := r.h.cfg
	g.add(1)
	s := &recStream{ctx: sctx, cancel: cancel, done: func() { g.add(-1) },
		id: g.nextID.Add(1), sess: g.sess, signal: make(chan struct{}, 1)}
	s.readyTimer = time.AfterFunc(cfg.ReadyTimeout, func() {
		cancel(asr.Errorf(asr.ErrUnavailable, true, "plugin %s did not answer a recognition within %v", cfg.Name, cfg.ReadyTimeout))
	})
	start.StreamId = s.id
	g.sess.add(s)
	s.mux.id = s.id
	g.sess.mux.track(&s.mux)
	// The start goes out before the stream's first input: the mux keeps each stream's order.
	g.sess.mux.add(&s.mux, &pb.StreamInput{StreamId: s.id, Input: &pb.RecognizeInput{Input: &pb.RecognizeInput_Start{Start: start}}}, true)
	context.AfterFunc(sctx, s.stopped)
	return s, nil
}

// streamContext derives a stream's context from the caller's and cancels it, with an
// ErrUnavailable cause, when the process behind it dies.
func streamContext(ctx context.Context, g *gen) (context.Context, context.CancelCauseFunc) {
	sctx, cancel := context.WithCancelCause(ctx)
	stop := context.AfterFunc(g.ctx, func() { cancel(context.Cause(g.ctx)) })
	return sctx, func(cause error) { stop(); cancel(cause) }
}

type hostSynthesizer struct{ h *Host }

func (s *hostSynthesizer) Info(context.Context) (asr.SynthesizerInfo, error) {
	for _, in := range s.h.instances {
		if g := in.current(); g != nil && g.synInfo != nil {
			return *g.synInfo, nil
		}
	}
	return asr.SynthesizerInfo{}, asr.Errorf(asr.ErrUnavailable, true, "plugin %s: no process running", s.h.cfg.Name)
}

func (s *hostSynthesizer) Synthesize(ctx context.Context, req asr.SynthesizeRequest) (asr.SynthesisStream, error) {
	g, err := s.h.pick()
	if err != nil {
		return nil, err
	}
	if g.synInfo == nil {
		return nil, asr.Errorf(asr.ErrUnavailable, false, "plugin %s serves no synthesizer", s.h.cfg.Name)
	}
	start := synStartToPB(req)
	if f := invalidUTF8(start.ProtoReflect()); f != "" {
		return nil, asr.Errorf(asr.ErrBadParameter, false, "plugin %s: %s of the synthesis is not valid UTF-8", s.h.cfg.Name, f)
	}
	sctx, cancel := streamContext(ctx, g)
	rpc, err := g.cl.syn.Synthesize(sctx)
	if err != nil {
		cancel(nil)
		return nil, fromRPC(sctx, err)
	}
	cfg := s.h.cfg
	g.add(1)
	st := &synStream{ctx: sctx, cancel: cancel, rpc: rpc, done: func() { g.add(-1) }}
	st.timer = time.AfterFunc(cfg.ReadyTimeout, func() {
		cancel(asr.Errorf(asr.ErrUnavailable, true, "plugin %s sent no audio within %v", cfg.Name, cfg.ReadyTimeout))
	})
	if err := rpc.Send(&pb.SynthesizeInput{Input: &pb.SynthesizeInput_Start{Start: start}}); err != nil {
		st.Close()
		return nil, fromRPC(sctx, err)
	}
	return st, nil
}

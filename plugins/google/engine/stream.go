package engine

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"

	"cloud.google.com/go/speech/apiv1/speechpb"

	"github.com/mrcpd/mrcpd/asr"
	"github.com/mrcpd/mrcpd/plugins/internal/vendorkit"
)

// maxReplay bounds the audio kept for a retry on another endpoint until Google first answers.
const maxReplay = 30 * time.Second

// stream is one StreamingRecognize call. Send and Recv run on different goroutines, as gRPC
// allows; sendMu also covers the CloseSend that Recv issues after END_OF_SINGLE_UTTERANCE and the
// switch to another endpoint.
//
// A call that fails with a retryable error before Google answered anything (quota or an endpoint
// going away at the start) is reopened on the next endpoint and the audio sent so far replayed:
// nothing has reached the caller yet, so the failover is invisible.
type stream struct {
	ctx    context.Context
	cancel context.CancelFunc
	open   func() (call, error)
	eps    *vendorkit.Endpoints
	cfg    Config
	rate   int
	gs     *vendorkit.Grammars
	log    *slog.Logger

	sendMu     sync.Mutex
	cl         speechpb.Speech_StreamingRecognizeClient // replaced only by Recv, under sendMu
	ep         string
	halfClosed bool
	samples    int
	answered   bool      // Google sent something: no more transparent failover
	replay     [][]int16 // audio sent before the first answer
	retries    int

	// Recv side only.
	queue   []asr.Event
	finals  []*speechpb.StreamingRecognitionResult
	spoke   bool
	ended   bool
	billed  time.Duration
	done    bool
	lastErr error
}

func newStream(ctx context.Context, cancel context.CancelFunc, c call, open func() (call, error), eps *vendorkit.Endpoints,
	cfg Config, req asr.RecognizeRequest, gs *vendorkit.Grammars, sc *speechpb.StreamingRecognitionConfig, log *slog.Logger) *stream {
	rc := sc.GetConfig()
	params := map[string]string{"language": rc.GetLanguageCode(), "model": rc.GetModel(),
		"single-utterance": boolStr(sc.GetSingleUtterance()), "interim-results": boolStr(sc.GetInterimResults())}
	s := &stream{ctx: ctx, cancel: cancel, open: open, eps: eps, cl: c.cl, ep: c.ep, cfg: cfg, rate: req.SampleRate, gs: gs,
		log: log.With("channel", req.ChannelID), retries: cfg.Backoff.Attempts - 1}
	s.queue = append(s.queue, &asr.Ready{Params: params})
	return s
}

func boolStr(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

func (s *stream) Send(in asr.Input) error {
	s.sendMu.Lock()
	defer s.sendMu.Unlock()
	if s.halfClosed {
		return nil // after Finalize or the end of a single utterance Google takes no more audio
	}
	var pcm []int16
	switch x := in.(type) {
	case *asr.Audio:
		pcm = x.PCM
	case *asr.KeepAlive:
		pcm = vendorkit.KeepAliveSilence(s.rate) // Google has no keep-alive message; silence resets its audio timeout
	case *asr.FinalizeInput:
		s.halfClosed = true
		return s.sendErr(s.cl.CloseSend())
	default:
		return nil // DTMF belongs to the host; the config cannot change mid-call
	}
	if len(pcm) == 0 {
		return nil
	}
	for _, c := range vendorkit.Chunks(pcm, s.rate/10) {
		s.samples += len(c)
		if !s.answered && time.Duration(s.samples)*time.Second/time.Duration(max(s.rate, 1)) <= maxReplay {
			s.replay = append(s.replay, append([]int16(nil), c...))
		}
		if err := s.sendErr(s.sendAudio(s.cl, c)); err != nil {
			return err
		}
	}
	return nil
}

func (s *stream) sendAudio(cl speechpb.Speech_StreamingRecognizeClient, pcm []int16) error {
	return cl.Send(&speechpb.StreamingRecognizeRequest{
		StreamingRequest: &speechpb.StreamingRecognizeRequest_AudioContent{AudioContent: vendorkit.AppendPCM(nil, pcm)}})
}

// failover reopens the call on the next endpoint and replays the audio, if err allows it: nothing
// was answered yet, the error is retryable, the replay buffer is complete and attempts remain.
func (s *stream) failover(err error) bool {
	s.sendMu.Lock()
	defer s.sendMu.Unlock()
	replayed := 0
	for _, c := range s.replay {
		replayed += len(c)
	}
	// Stream limits and idle timeouts are the host's to heal; only another endpoint helps here.
	kind := asr.KindOf(err)
	if s.answered || s.retries <= 0 || replayed != s.samples || s.ctx.Err() != nil || !vendorkit.Retryable(err) ||
		(kind != asr.ErrQuota && kind != asr.ErrUnavailable) {
		return false
	}
	s.retries--
	s.eps.Failed(s.ep)
	s.log.Warn("google: call failed before any answer; failing over", "endpoint", s.ep, "err", err)
	c, oerr := s.open()
	if oerr != nil {
		return false
	}
	for _, pcm := range s.replay {
		if s.sendAudio(c.cl, pcm) != nil {
			break // the new call's Recv reports it
		}
	}
	if s.halfClosed {
		c.cl.CloseSend()
	}
	s.cl, s.ep = c.cl, c.ep
	return true
}

// sendErr: gRPC reports a broken call to Send as io.EOF and gives the status to Recv, which
// classifies it; Send itself then has nothing to add.
func (s *stream) sendErr(err error) error {
	if err == nil || errors.Is(err, io.EOF) {
		return nil
	}
	if s.ctx.Err() != nil {
		return s.ctx.Err()
	}
	return mapError(err)
}

func (s *stream) Recv() (asr.Event, error) {
	for len(s.queue) == 0 {
		if s.done {
			return nil, s.lastErr
		}
		resp, err := s.cl.Recv()
		if err != nil {
			if s.failover(mapError(err)) {
				continue
			}
			s.finish(err)
			continue
		}
		s.sendMu.Lock()
		s.answered, s.replay = true, nil
		s.sendMu.Unlock()
		if resp.GetError() != nil && resp.GetError().GetCode() != 0 {
			s.done, s.lastErr = true, mapStatusProto(resp.GetError().GetCode(), resp.GetError().GetMessage())
			continue
		}
		s.response(resp)
	}
	ev := s.queue[0]
	s.queue = s.queue[1:]
	return ev, nil
}

// finish ends the call: a clean end of stream yields the utterance's Final, anything else an error.
func (s *stream) finish(err error) {
	s.done = true
	defer func() {
		s.log.Debug("google: stream ended", "audio_samples", s.sentSamples(), "finals", len(s.finals), "err", s.lastErr)
	}()
	if s.ctx.Err() != nil {
		s.lastErr = s.ctx.Err()
		return
	}
	if !errors.Is(err, io.EOF) {
		s.lastErr = mapError(err)
		return
	}
	s.lastErr = io.EOF
	audio := time.Duration(s.sentSamples()) * time.Second / time.Duration(max(s.rate, 1))
	s.queue = append(s.queue, &asr.Usage{Audio: max(audio, s.billed)}, s.final())
}

func (s *stream) sentSamples() int {
	s.sendMu.Lock()
	defer s.sendMu.Unlock()
	return s.samples
}

// response turns one StreamingRecognizeResponse into events.
func (s *stream) response(r *speechpb.StreamingRecognizeResponse) {
	if d := r.GetTotalBilledTime(); d != nil {
		s.billed = d.AsDuration()
	}
	at := r.GetSpeechEventTime().AsDuration()
	switch r.GetSpeechEventType() {
	case speechpb.StreamingRecognizeResponse_SPEECH_ACTIVITY_BEGIN:
		s.started(at)
	case speechpb.StreamingRecognizeResponse_SPEECH_ACTIVITY_END:
		s.stopped(at)
	case speechpb.StreamingRecognizeResponse_END_OF_SINGLE_UTTERANCE:
		// Google hears no more: stop sending and wait for the last final results and the end of
		// the call (the documented single_utterance client behaviour).
		s.stopped(at)
		s.sendMu.Lock()
		if !s.halfClosed {
			s.halfClosed = true
			s.cl.CloseSend()
		}
		s.sendMu.Unlock()
	}
	var interim []string
	for _, res := range r.GetResults() {
		if len(res.GetAlternatives()) == 0 {
			continue
		}
		if res.GetIsFinal() {
			s.finals = append(s.finals, res)
			continue
		}
		interim = append(interim, res.GetAlternatives()[0].GetTranscript())
	}
	if len(r.GetResults()) > 0 && !s.spoke {
		s.started(0)
	}
	if s.cfg.Interim && len(interim) > 0 {
		var parts []string
		for _, f := range s.finals {
			parts = append(parts, f.GetAlternatives()[0].GetTranscript())
		}
		text := strings.Join(strings.Fields(strings.Join(append(parts, interim...), " ")), " ")
		s.queue = append(s.queue, &asr.Partial{Text: text})
	}
}

func (s *stream) started(at time.Duration) {
	if !s.spoke {
		s.spoke = true
		s.queue = append(s.queue, &asr.SpeechStarted{At: at})
	}
}

func (s *stream) stopped(at time.Duration) {
	if s.spoke && !s.ended {
		s.ended = true
		s.queue = append(s.queue, &asr.SpeechEnded{At: at})
	}
}

// final assembles the utterance: Google's transcript of an utterance is its finalized results
// concatenated. With one result its n-best list is kept; with several, only the best path is.
func (s *stream) final() *asr.Final {
	if len(s.finals) == 0 {
		return &asr.Final{}
	}
	var alts []asr.Alternative
	if len(s.finals) == 1 {
		for _, a := range s.finals[0].GetAlternatives() {
			alts = append(alts, alternative(a))
		}
	} else {
		parts := make([]asr.Alternative, 0, len(s.finals))
		for _, f := range s.finals {
			parts = append(parts, alternative(f.GetAlternatives()[0]))
		}
		alts = []asr.Alternative{vendorkit.Concat(parts)}
	}
	return &asr.Final{Alternatives: s.gs.Apply(alts)}
}

func alternative(a *speechpb.SpeechRecognitionAlternative) asr.Alternative {
	out := asr.Alternative{Text: strings.TrimSpace(a.GetTranscript()), Confidence: float64(a.GetConfidence()), Mode: "speech"}
	if out.Confidence <= 0 || out.Confidence > 1 {
		// Google leaves confidence unset (0) on all but the top alternative.
		out.Confidence = min(max(out.Confidence, 0), 1)
	}
	for _, w := range a.GetWords() {
		out.Words = append(out.Words, asr.Word{Text: w.GetWord(), Start: w.GetStartTime().AsDuration(),
			End: w.GetEndTime().AsDuration(), Confidence: float64(w.GetConfidence())})
	}
	return out
}

func (s *stream) Close() error {
	s.cancel()
	return nil
}

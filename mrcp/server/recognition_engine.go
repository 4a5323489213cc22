package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"

	"github.com/mrcpd/mrcpd/asr"
	"github.com/mrcpd/mrcpd/media"
	"github.com/mrcpd/mrcpd/mrcp/server/recog"
)

// engineSource opens engine streams for a session's recognitions.
type engineSource struct {
	ctx  context.Context
	wg   *sync.WaitGroup
	post func(func()) // runs f on the session goroutine
	// pick resolves the request's engine= (or the call's default) once, with its declaration.
	pick          func(engine string) (asr.Recognizer, asr.RecognizerInfo, string, error)
	newEndpointer func(rate int, sensitivity float64) media.Detector
	rate          int
}

// engineStream is a recognition's voice engine: frames go through a queue so that a slow engine
// never blocks the session goroutine, and its events come back through post. Every method is
// safe on a nil *engineStream (a DTMF-only request has none).
type engineStream struct {
	log       *slog.Logger
	stream    asr.RecognitionStream
	cancel    context.CancelFunc
	frames    chan asr.Input
	endpoint  media.Detector
	finalized bool // FinalizeInput was queued: the engine gets nothing after it
}

// startVoice opens the engine stream for the voice grammars.
func (rec *recognition) startVoice(voice []*grammarDef) error {
	src := rec.env.engines
	engine, _ := vendorKey(rec.vendor, engineParam)
	backend, info, name, err := src.pick(engine)
	if err != nil {
		return err
	}
	rec.env.log.Debug("recognizer chosen", "request-id", rec.id, "engine", name)
	rec.detail.engine = name
	req := asr.RecognizeRequest{ChannelID: rec.env.channel, Language: rec.language, SampleRate: src.rate,
		NBest: max(rec.nbest, 1), ConfidenceThreshold: rec.set.Threshold, Sensitivity: rec.sensitivity,
		Interim: rec.interim, Hints: rec.hints, Params: rec.vendor}
	for _, d := range voice {
		g := asr.Grammar{ID: d.id, ContentType: d.contentType, Body: d.body, Mode: d.mode}
		if strings.HasPrefix(d.id, "builtin:") {
			g.URI = d.id
		}
		req.Grammars = append(req.Grammars, g)
	}
	ctx, cancel := context.WithCancel(src.ctx)
	stream, err := backend.Recognize(ctx, req)
	if err != nil {
		cancel()
		return err
	}
	rec.detail.opened = rec.env.now()
	es := &engineStream{log: rec.env.log, stream: stream, cancel: cancel, frames: make(chan asr.Input, 512)}
	// The host endpointer runs even beside an engine with speech events: an engine that declares
	// them may still never send SpeechEnded (or send it late), and whichever ends speech first
	// starts Speech-Complete-Timeout.
	if src.newEndpointer != nil {
		es.endpoint = src.newEndpointer(src.rate, rec.sensitivity)
	}
	rec.set.EngineSpeechEvents = info.SpeechEvents
	rec.engine = es
	src.wg.Add(2)
	go func() { defer src.wg.Done(); es.writeLoop(ctx, rec.id) }()
	go func() { defer src.wg.Done(); es.readLoop(rec) }()
	return nil
}

func (es *engineStream) writeLoop(ctx context.Context, id uint32) {
	for {
		select {
		case <-ctx.Done():
			return
		case in := <-es.frames:
			if _, audio := in.(*asr.Audio); !audio {
				es.log.Debug("recognizer input", "request-id", id, "input", fmt.Sprintf("%T", in))
			}
			if err := es.stream.Send(in); err != nil {
				es.log.Debug("recognizer send failed", "request-id", id, "err", err)
				return // Recv reports the failure
			}
		}
	}
}

// readLoop hands the engine's events to the recognition on the session goroutine.
func (es *engineStream) readLoop(rec *recognition) {
	for {
		ev, err := es.stream.Recv()
		rec.env.engines.post(func() {
			if rec.env.active(rec) {
				rec.onEngine(ev, err)
			}
		})
		if err != nil {
			return
		}
	}
}

// onEngine turns what the engine says into the machine's inputs.
func (rec *recognition) onEngine(ev asr.Event, err error) {
	rec.env.log.Debug("recognizer event", "request-id", rec.id, "event", fmt.Sprintf("%T", ev), "err", err)
	if err != nil {
		if errors.Is(err, io.EOF) {
			rec.handle(recog.EngineEnded{})
			return
		}
		rec.env.log.Warn("recognizer failed", "err", err)
		rec.handle(recog.EngineEnded{Err: err})
		return
	}
	switch e := ev.(type) {
	case *asr.SpeechStarted:
		rec.handle(recog.SpeechStarted{Engine: true})
	case *asr.SpeechEnded:
		rec.handle(recog.SpeechEnded{Engine: true})
	case *asr.Partial:
		rec.handle(recog.Partial{Text: e.Text})
	case *asr.Final:
		rec.handle(recog.Final{Alternatives: e.Alternatives})
	}
}

// audio feeds the engine and the host endpointer, whose speech start and end drive
// START-OF-INPUT and Speech-Complete-Timeout (§9.4.15).
func (rec *recognition) audio(pcm []int16) {
	es := rec.engine
	if es == nil || rec.done {
		return
	}
	es.queue(&asr.Audio{PCM: pcm})
	if es.endpoint == nil {
		return
	}
	switch es.endpoint.Process(pcm) {
	case media.SpeechStart:
		rec.handle(recog.SpeechStarted{})
	case media.SpeechEnd:
		rec.handle(recog.SpeechEnded{})
	}
}

func (es *engineStream) queue(in asr.Input) {
	if es == nil || es.finalized {
		return
	}
	if _, ok := in.(*asr.FinalizeInput); ok {
		es.finalized = true
	}
	select {
	case es.frames <- in:
	default:
		es.log.Warn("recognizer falls behind: dropping audio")
	}
}

// finalize asks the engine for its Final; nothing is sent to it afterwards.
func (es *engineStream) finalize() { es.queue(&asr.FinalizeInput{}) }

func (es *engineStream) close() {
	if es == nil {
		return
	}
	es.cancel()
	es.stream.Close()
}

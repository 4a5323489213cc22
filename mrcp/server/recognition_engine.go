package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
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
	// postEvent queues f for the session goroutine without blocking (from the media worker).
	postEvent     func(func())
	newEndpointer func(rate int, sensitivity float64) media.Detector
	rate          int
	// input is the channel's receiving stream, nil without one.
	input func() media.Stream
}

// engineStream is a recognition's voice engine. The media worker writes frames into a queue
// through a tap on the channel's stream, so that a slow engine never blocks it, and the tap's host
// endpointer reports speech as events; the engine's own events come back through post. Every
// method is safe on a nil *engineStream (a DTMF-only request has none).
type engineStream struct {
	log       *slog.Logger
	stream    asr.RecognitionStream
	cancel    context.CancelFunc
	frames    chan asr.Input
	tap       *media.Tap
	tapOn     media.Stream // where tap is installed; nil when the session feeds it (a file)
	finalized bool         // FinalizeInput was queued: the engine gets nothing after it
}

// startVoice opens the engine stream for the voice grammars.
func (rec *recognition) startVoice(voice []*grammarDef) error {
	src := rec.env.engines
	backend, info, name, err := rec.pick.get()
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
	rec.set.EngineSpeechEvents = info.SpeechEvents
	rec.engine = es
	es.startInput(rec)
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

// startInput builds the engine's tap and installs it on the channel's stream, before the engine's
// goroutines start: frames go from the media worker to the engine's queue, and the host
// endpointer runs on them there; its speech start and end drive START-OF-INPUT and
// Speech-Complete-Timeout (§9.4.15). It runs even beside an engine with speech events: an engine
// that declares them may still never send SpeechEnded (or send it late), and whichever ends speech
// first starts Speech-Complete-Timeout.
func (es *engineStream) startInput(rec *recognition) {
	src := rec.env.engines
	es.tap = &media.Tap{Writer: &engineWriter{frames: es.frames, log: es.log}}
	if src.newEndpointer != nil {
		es.tap.VAD = src.newEndpointer(src.rate, rec.sensitivity)
		es.tap.Events = tapEvents(func(ev media.Event) {
			src.postEvent(func() {
				if !rec.env.active(rec) {
					return
				}
				switch ev.Kind {
				case media.EventSpeechStart:
					rec.handle(recog.SpeechStarted{})
				case media.EventSpeechEnd:
					rec.handle(recog.SpeechEnded{})
				}
			})
		})
	}
	if rec.detail.inputURI != "" {
		return // the input is a file, fed through the tap by the session (inputwave.go)
	}
	if st := src.input(); st != nil {
		es.tapOn = st
		st.AddTap(es.tap)
	}
}

// stopInput removes the tap: once it returns no frame reaches the engine's queue any more.
func (es *engineStream) stopInput() {
	if es.tapOn != nil {
		es.tapOn.RemoveTap(es.tap)
		es.tapOn = nil
	}
}

// fileFrame feeds a frame of an Input-Waveform-URI file, on the session goroutine, through the
// same tap the media worker would run.
func (es *engineStream) fileFrame(pcm []int16) {
	if es != nil && !es.finalized && es.tapOn == nil {
		es.tap.Frame(pcm)
	}
}

// engineWriter queues the worker's frames for the engine's writer goroutine; a full queue (an
// engine far behind real time) drops the frame rather than hold the worker.
type engineWriter struct {
	frames chan asr.Input
	log    *slog.Logger
}

func (w *engineWriter) WriteFrame(pcm []int16) {
	select {
	case w.frames <- &asr.Audio{PCM: slices.Clone(pcm)}:
	default:
		w.log.Warn("recognizer falls behind: dropping audio")
	}
}

// finalize asks the engine for its Final; nothing is sent to it afterwards.
func (es *engineStream) finalize() {
	if es == nil || es.finalized {
		return
	}
	es.finalized = true
	es.stopInput()
	select {
	case es.frames <- &asr.FinalizeInput{}:
	default:
		es.log.Warn("recognizer falls behind: FinalizeInput dropped")
	}
}

func (es *engineStream) close() {
	if es == nil {
		return
	}
	es.stopInput()
	es.cancel()
	es.stream.Close()
}

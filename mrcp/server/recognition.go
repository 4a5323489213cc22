package server

import (
	"context"
	"log/slog"
	"strings"
	"time"

	"github.com/mrcpd/mrcpd/asr/clock"
	"github.com/mrcpd/mrcpd/mrcp"
	"github.com/mrcpd/mrcpd/mrcp/nlsml"
	"github.com/mrcpd/mrcpd/mrcp/server/recog"
)

// recognition is one RECOGNIZE in progress (§9.9): the request's state machine (package recog)
// and what carries out its effects on the session goroutine: timers on the session clock, events
// on the channel, and the engine stream.
type recognition struct {
	env           recogEnv
	id            uint32
	started       time.Time
	cancelIfQueue bool // §9.4.27
	set           recog.Settings
	grammars      []*grammarDef
	m             *recog.Machine
	timers        map[recog.Timer]clock.Timer
	pick          *enginePick // the request's recognizer, resolved once
	done          bool        // the machine completed or the request was stopped

	// The voice engine's request and stream (recognition_engine.go).
	sensitivity float64
	nbest       int
	language    string
	vendor      map[string]string // Vendor-Specific-Parameters, passed to the engine
	interim     bool
	hints       []string
	engine      *engineStream

	detail recDetail // detail record and Save-Waveform capture (detail.go, waveform.go)
}

// recogEnv is what a recognition needs from its channel and server, given to it instead of a
// path back through them.
type recogEnv struct {
	channel  string
	log      *slog.Logger
	now      func() time.Time
	after    func(time.Duration, func()) clock.Timer // runs f on the session goroutine
	send     func(*mrcp.Message)
	complete func(rec *recognition, cause mrcp.RecogCause, res *nlsml.Result)
	// active reports whether rec is still the channel's recognition: a timer or engine event of
	// a finished one does nothing.
	active   func(rec *recognition) bool
	finalize time.Duration // bound on the engine's answer to FinalizeInput
	freeText bool          // Config.FreeText: the default of free-text
	engines  engineSource
}

func newRecognition(env recogEnv, m *mrcp.Message, p *params) *recognition {
	rec := &recognition{env: env, id: m.RequestID, started: env.now(), timers: map[recog.Timer]clock.Timer{}}
	rec.cancelIfQueue = p.bool(mrcp.HeaderCancelIfQueue)
	rec.set = recog.Settings{
		TimersOn:         p.bool(mrcp.HeaderStartInputTimers),
		NoInput:          p.ms(mrcp.HeaderNoInputTimeout),
		Recognition:      p.ms(mrcp.HeaderRecognitionTimeout),
		SpeechComplete:   p.ms(mrcp.HeaderSpeechCompleteTimeout),
		SpeechIncomplete: p.ms(mrcp.HeaderSpeechIncompleteTimeout),
		Interdigit:       p.ms(mrcp.HeaderDTMFInterdigitTimeout),
		TermTimeout:      p.ms(mrcp.HeaderDTMFTermTimeout),
		Threshold:        p.unit(mrcp.HeaderConfidenceThreshold),
		Finalize:         env.finalize,
		FreeText:         env.freeText,
	}
	rec.sensitivity = p.unit(mrcp.HeaderSensitivityLevel)
	rec.nbest = int(p.uint(mrcp.HeaderNBestListLength))
	rec.language = p.raw(mrcp.HeaderSpeechLanguage)
	rec.vendor = p.vendor()
	rec.readVendor()
	rec.set.TermChar = p.termChar()
	return rec
}

// readVendor takes what no standard header says from Vendor-Specific-Parameters, in the names the
// UniMRCP vendor plugins use: interim results, hints, and free text for constrained grammars.
func (rec *recognition) readVendor() {
	if v, ok := vendorKey(rec.vendor, "interim", "interim-results", "partial-results"); ok {
		rec.interim = strings.EqualFold(v, "true") || v == "1"
	}
	if v, ok := vendorKey(rec.vendor, "hints", "speech-contexts", "phrases"); ok {
		for h := range strings.SplitSeq(v, ",") {
			if h = strings.TrimSpace(h); h != "" {
				rec.hints = append(rec.hints, h)
			}
		}
	}
	if v, ok := vendorKey(rec.vendor, freeTextParam); ok {
		rec.set.FreeText = strings.EqualFold(v, "true") || v == "1"
	}
}

// freeTextParam keeps a transcript that no grammar accepts as a success with the transcript as
// its instance, instead of 001 no-match.
const freeTextParam = "free-text"

// start builds the state machine once the grammars are known and the engine stream, if any, is
// open, and runs its first effects (No-Input-Timeout with the timers on).
func (rec *recognition) start(grammars []*grammarDef) {
	rec.grammars = grammars
	gs := make([]recog.Grammar, len(grammars))
	for i, d := range grammars {
		gs[i] = recog.Grammar{ID: d.id, G: d.g}
	}
	rec.set.Engine = rec.engine != nil
	rec.m = recog.New(rec.set, gs)
	rec.apply(rec.m.Start())
}

// handle runs one input through the machine and carries out its effects.
func (rec *recognition) handle(in recog.Input) {
	if rec.done || rec.m == nil {
		return
	}
	rec.apply(rec.m.Handle(in))
}

func (rec *recognition) apply(effects []recog.Effect) {
	for _, e := range effects {
		switch x := e.(type) {
		case recog.SendStartOfInput:
			rec.env.send(mrcp.NewEvent(mrcp.EventStartOfInput, rec.id, mrcp.StateInProgress, rec.env.channel))
		case recog.StartTimer:
			rec.detail.timer(x.Timer, rec.env.now)
			rec.stopTimer(x.Timer)
			fired := recog.TimerFired{Timer: x.Timer, Seq: x.Seq}
			rec.timers[x.Timer] = rec.env.after(x.After, func() {
				if rec.env.active(rec) {
					rec.handle(fired)
				}
			})
		case recog.StopTimer:
			rec.stopTimer(x.Timer)
		case recog.FinalizeEngine:
			rec.engine.finalize()
		case recog.Complete:
			rec.logCompletion(x)
			rec.env.complete(rec, x.Cause, x.Result)
		}
	}
}

func (rec *recognition) logCompletion(c recog.Complete) {
	if c.Reason == "" {
		return
	}
	level := slog.LevelDebug
	if c.Cause == mrcp.RecogRecognizerError {
		level = slog.LevelWarn
	}
	rec.env.log.Log(context.Background(), level, "recognition ended", "request-id", rec.id, "cause", c.Cause.String(), "reason", c.Reason)
}

func (rec *recognition) stopTimer(t recog.Timer) {
	if tm := rec.timers[t]; tm != nil {
		tm.Stop()
		delete(rec.timers, t)
	}
}

// digit hands a DTMF key to the machine (§9.4.17-19).
func (rec *recognition) digit(d rune) { rec.handle(recog.Digit{Key: d}) }

// startInputTimers is START-INPUT-TIMERS (§9.13).
func (rec *recognition) startInputTimers() { rec.handle(recog.StartInputTimers{}) }

// close releases timers and the engine stream; it sends nothing.
func (rec *recognition) close() {
	if rec.done {
		return
	}
	rec.done = true
	for t := range rec.timers {
		rec.stopTimer(t)
	}
	rec.engine.close()
}

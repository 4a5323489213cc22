package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/mrcpd/mrcpd/asr"
	"github.com/mrcpd/mrcpd/asr/grammar"
	"github.com/mrcpd/mrcpd/mrcp"
	"github.com/mrcpd/mrcpd/mrcp/nlsml"
)

// recognition is one RECOGNIZE in progress (§9.9) with its timers (§9.4.6-9.4.16).
type recognition struct {
	r       *recognizer
	id      uint32
	started time.Time

	cancelIfQueue  bool
	timersOn       bool // Start-Input-Timers or START-INPUT-TIMERS (§9.4.14)
	noInput        time.Duration
	recogTimeout   time.Duration
	speechComplete time.Duration
	speechIncomp   time.Duration
	interdigit     time.Duration
	termTimeout    time.Duration
	termChar       rune
	threshold      float64
	sensitivity    float64
	nbest          int
	language       string
	vendor         map[string]string // Vendor-Specific-Parameters, passed to the engine
	interim        bool
	hints          []string
	inputStarted   bool
	maxtime        bool
	noInputT       Timer
	recogT         Timer
	dtmfT          Timer
	speechT        Timer
	finalT         Timer

	dtmf  []*dtmfGrammar
	voice []*grammarDef

	// voice backend stream; frames go through a queue so that a slow engine never blocks the
	// session goroutine.
	stream    asr.RecognitionStream
	cancel    context.CancelFunc
	frames    chan asr.Input
	endpoint  Endpointer
	engineVAD bool   // the engine declares its own speech events
	partial   string // the engine's latest hypothesis, for Speech-Incomplete-Timeout
	finalized bool
	closed    bool
}

type dtmfGrammar struct {
	def *grammarDef
	m   *grammar.DTMFMatcher
}

func newRecognition(r *recognizer, m *mrcp.Message, p *params) *recognition {
	rec := &recognition{r: r, id: m.RequestID, started: r.ch.se.srv.cfg.Clock.Now()}
	rec.cancelIfQueue = p.bool(mrcp.HeaderCancelIfQueue)
	rec.timersOn = p.bool(mrcp.HeaderStartInputTimers)
	rec.noInput = p.ms(mrcp.HeaderNoInputTimeout)
	rec.recogTimeout = p.ms(mrcp.HeaderRecognitionTimeout)
	rec.speechComplete = p.ms(mrcp.HeaderSpeechCompleteTimeout)
	rec.speechIncomp = p.ms(mrcp.HeaderSpeechIncompleteTimeout)
	rec.interdigit = p.ms(mrcp.HeaderDTMFInterdigitTimeout)
	rec.termTimeout = p.ms(mrcp.HeaderDTMFTermTimeout)
	rec.threshold = p.unit(mrcp.HeaderConfidenceThreshold)
	rec.sensitivity = p.unit(mrcp.HeaderSensitivityLevel)
	rec.nbest = int(p.uint(mrcp.HeaderNBestListLength))
	rec.language = p.raw(mrcp.HeaderSpeechLanguage)
	rec.vendor = p.vendor()
	// No standard header asks for interim results or hints: vendor parameters do, in the names
	// the UniMRCP vendor plugins use.
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
	if v := p.raw(mrcp.HeaderDTMFTermChar); v != "" {
		c, err := parseTermChar(v)
		p.keep(err)
		rec.termChar = c
	}
	return rec
}

func (rec *recognition) after(d time.Duration, f func()) Timer {
	return rec.r.ch.se.after(d, func() {
		if rec.r.active == rec { // a timer of a finished recognition does nothing
			f()
		}
	})
}

func stopTimer(t *Timer) {
	if *t != nil {
		(*t).Stop()
		*t = nil
	}
}

// armNoInput starts No-Input-Timeout (§9.4.6); 0 disables it.
func (rec *recognition) armNoInput() {
	stopTimer(&rec.noInputT)
	if rec.noInput > 0 && !rec.inputStarted {
		rec.noInputT = rec.after(rec.noInput, func() { rec.r.complete(mrcp.RecogNoInputTimeout, nil) })
	}
}

// startOfInput sends START-OF-INPUT once (§9.13) and starts Recognition-Timeout (§9.4.7).
func (rec *recognition) startOfInput() {
	if rec.inputStarted {
		return
	}
	rec.inputStarted = true
	stopTimer(&rec.noInputT)
	rec.r.ch.send(rec.r.ch.event(mrcp.EventStartOfInput, rec.id, mrcp.StateInProgress))
	if rec.recogTimeout > 0 {
		rec.recogT = rec.after(rec.recogTimeout, rec.onMaxtime)
	}
}

// onMaxtime: Recognition-Timeout expired. DTMF input is judged now; a voice engine is asked to
// finalize and its answer becomes 008 success-maxtime or 015 no-match-maxtime.
func (rec *recognition) onMaxtime() {
	rec.maxtime = true
	if res, ok := rec.dtmfResult(); ok {
		rec.r.complete(mrcp.RecogSuccessMaxtime, res)
		return
	}
	if rec.stream == nil {
		rec.r.complete(mrcp.RecogNoMatchMaxtime, nil)
		return
	}
	rec.queue(&asr.FinalizeInput{})
	// An engine that never answers must not hold the channel.
	rec.recogT = rec.after(rec.r.ch.se.srv.cfg.FinalizeTimeout, rec.engineSilent)
}

// digit runs one DTMF key against the DTMF grammars (§9.4.15-9.4.17).
func (rec *recognition) digit(d rune) {
	if len(rec.dtmf) == 0 {
		return
	}
	rec.startOfInput()
	stopTimer(&rec.dtmfT)
	if rec.termChar != 0 && d == rec.termChar {
		if res, ok := rec.dtmfResult(); ok {
			rec.r.complete(mrcp.RecogSuccess, res)
		} else {
			rec.r.complete(mrcp.RecogNoMatch, nil)
		}
		return
	}
	best := grammar.NoMatch
	for _, g := range rec.dtmf {
		if g.m.State() == grammar.NoMatch && len(g.m.Digits()) > 0 {
			continue
		}
		if s := g.m.Push(d); s > best {
			best = s
		}
	}
	switch best {
	case grammar.Final:
		res, _ := rec.dtmfResult()
		rec.r.complete(mrcp.RecogSuccess, res)
	case grammar.Complete:
		if rec.termTimeout <= 0 {
			res, _ := rec.dtmfResult()
			rec.r.complete(mrcp.RecogSuccess, res)
			return
		}
		rec.dtmfT = rec.after(rec.termTimeout, func() {
			res, _ := rec.dtmfResult()
			rec.r.complete(mrcp.RecogSuccess, res)
		})
	case grammar.Incomplete:
		if rec.interdigit > 0 {
			rec.dtmfT = rec.after(rec.interdigit, func() { rec.r.complete(mrcp.RecogPartialMatch, nil) })
		}
	default:
		rec.r.complete(mrcp.RecogNoMatch, nil)
	}
}

// dtmfResult is the NLSML of the first DTMF grammar the digits complete (§9.6, mode="dtmf").
func (rec *recognition) dtmfResult() (*nlsml.Result, bool) {
	for _, g := range rec.dtmf {
		s := g.m.State()
		if s != grammar.Complete && s != grammar.Final {
			continue
		}
		digits := g.m.Digits()
		inst := g.m.Interpretation()
		if inst == "" {
			inst = digits
		}
		return &nlsml.Result{Interpretations: []nlsml.Interpretation{{
			Grammar: g.def.id, Confidence: 1, Instance: inst, Input: digits, Mode: "dtmf"}}}, true
	}
	return nil, false
}

// startVoice opens the engine stream for the voice grammars. The stream's events come back on the
// session goroutine through post.
func (rec *recognition) startVoice() error {
	se := rec.r.ch.se
	engine, _ := vendorKey(rec.vendor, engineParam)
	backend, name, err := se.recognizerFor(engine)
	if err != nil {
		return err
	}
	rec.r.ch.log.Debug("recognizer chosen", "request-id", rec.id, "engine", name)
	info, _ := se.srv.recognizerInfo(name, backend)
	rec.engineVAD = info.SpeechEvents
	// The host endpointer runs even beside an engine with speech events: an engine that declares
	// them may still never send SpeechEnded (or send it late), and whichever ends speech first
	// starts Speech-Complete-Timeout.
	if se.srv.cfg.NewEndpointer != nil {
		rec.endpoint = se.srv.cfg.NewEndpointer(se.srv.cfg.InputRate, rec.sensitivity)
	}
	req := asr.RecognizeRequest{ChannelID: rec.r.ch.id, Language: rec.language, SampleRate: se.srv.cfg.InputRate,
		NBest: max(rec.nbest, 1), ConfidenceThreshold: rec.threshold, Sensitivity: rec.sensitivity,
		Interim: rec.interim, Hints: rec.hints, Params: rec.vendor}
	for _, d := range rec.voice {
		g := asr.Grammar{ID: d.id, ContentType: d.contentType, Body: d.body, Mode: d.mode}
		if strings.HasPrefix(d.id, "builtin:") {
			g.URI = d.id
		}
		req.Grammars = append(req.Grammars, g)
	}
	ctx, cancel := context.WithCancel(se.ctx)
	stream, err := backend.Recognize(ctx, req)
	if err != nil {
		cancel()
		return err
	}
	rec.stream, rec.cancel = stream, cancel
	rec.frames = make(chan asr.Input, 512)
	se.wg.Add(2)
	go func() { defer se.wg.Done(); rec.writeLoop(ctx) }()
	go func() { defer se.wg.Done(); rec.readLoop() }()
	return nil
}

func (rec *recognition) writeLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case in := <-rec.frames:
			if _, audio := in.(*asr.Audio); !audio {
				rec.r.ch.log.Debug("recognizer input", "request-id", rec.id, "input", fmt.Sprintf("%T", in))
			}
			if err := rec.stream.Send(in); err != nil {
				rec.r.ch.log.Debug("recognizer send failed", "request-id", rec.id, "err", err)
				return // Recv reports the failure
			}
		}
	}
}

func (rec *recognition) readLoop() {
	se := rec.r.ch.se
	for {
		ev, err := rec.stream.Recv()
		se.post(func() { rec.onEvent(ev, err) })
		if err != nil {
			return
		}
	}
}

func (rec *recognition) queue(in asr.Input) {
	if rec.frames == nil || rec.finalized {
		return // FinalizeInput ends the utterance: the engine gets nothing after it
	}
	if _, ok := in.(*asr.FinalizeInput); ok {
		rec.finalized = true
	}
	select {
	case rec.frames <- in:
	default:
		rec.r.ch.log.Warn("recognizer falls behind: dropping audio")
	}
}

// onEvent handles what the engine says, on the session goroutine.
func (rec *recognition) onEvent(ev asr.Event, err error) {
	if rec.r.active != rec {
		return
	}
	rec.r.ch.log.Debug("recognizer event", "request-id", rec.id, "event", fmt.Sprintf("%T", ev), "err", err)
	if err != nil {
		if errors.Is(err, io.EOF) {
			rec.r.complete(rec.noMatchCause(), nil)
			return
		}
		rec.r.ch.log.Warn("recognizer failed", "err", err)
		rec.r.complete(causeOf(err), nil)
		return
	}
	switch e := ev.(type) {
	case *asr.SpeechStarted:
		rec.startOfInput()
		// Only an engine that declares speech events may hold the utterance open: others (Vosk)
		// report "speech" with their first partial, often after the host heard it end.
		if rec.engineVAD {
			stopTimer(&rec.speechT)
		}
	case *asr.SpeechEnded:
		if rec.engineVAD {
			rec.speechEnded()
		}
	case *asr.Partial:
		rec.partial = e.Text
	case *asr.Final:
		rec.final(e)
	}
}

func (rec *recognition) noMatchCause() mrcp.RecogCause {
	if rec.maxtime {
		return mrcp.RecogNoMatchMaxtime
	}
	return mrcp.RecogNoMatch
}

// final turns the engine's n-best list into NLSML, dropping alternatives below
// Confidence-Threshold (§9.4.1).
func (rec *recognition) final(f *asr.Final) {
	res := &nlsml.Result{}
	for _, a := range f.Alternatives {
		if a.Confidence < rec.threshold {
			continue
		}
		inst, gid := a.Interpretation, a.Grammar
		if inst == "" {
			// Engines that only transcribe leave semantics to us: SISR tags of the grammar
			// the words match (e.g. out="billing";) give the <instance>.
			inst, gid = rec.interpret(a.Text, gid)
		}
		mode := a.Mode
		if mode == "" {
			mode = "speech"
		}
		res.Interpretations = append(res.Interpretations, nlsml.Interpretation{Grammar: gid,
			Confidence: a.Confidence, Instance: inst, Input: a.Text, Mode: mode})
	}
	if len(res.Interpretations) == 0 {
		rec.r.complete(rec.noMatchCause(), nil)
		return
	}
	if !rec.inputStarted {
		rec.startOfInput()
	}
	cause := mrcp.RecogSuccess
	if rec.maxtime {
		cause = mrcp.RecogSuccessMaxtime
	}
	rec.r.complete(cause, res)
}

// interpret runs text through the voice grammars' semantic tags; without a match the instance
// is the text itself.
func (rec *recognition) interpret(text, gid string) (string, string) {
	toks := strings.Fields(text)
	for _, d := range rec.voice {
		if d.g == nil || (gid != "" && gid != d.id) {
			continue
		}
		if inst, ok := d.g.Interpret(toks); ok {
			return inst, d.id
		}
	}
	if gid == "" && len(rec.voice) > 0 {
		gid = rec.voice[0].id
	}
	return text, gid
}

// audio feeds the engine and, when the engine has no speech detection of its own, the
// endpointer that drives START-OF-INPUT and Speech-Complete-Timeout (§9.4.9).
func (rec *recognition) audio(pcm []int16) {
	if rec.stream == nil {
		return
	}
	rec.queue(&asr.Audio{PCM: pcm})
	if rec.endpoint == nil {
		return
	}
	switch rec.endpoint.Process(pcm) {
	case SpeechStart:
		stopTimer(&rec.speechT)
		rec.startOfInput()
	case SpeechEnd:
		rec.speechEnded()
	}
}

// speechEnded starts Speech-Complete-Timeout (§9.4.9), or Speech-Incomplete-Timeout (§9.4.10)
// when the engine's latest hypothesis does not complete a grammar: silence that long after speech
// ends the utterance, and the engine is asked for its result. A timer already running (the other
// detector ended speech first) is kept.
func (rec *recognition) speechEnded() {
	rec.r.ch.log.Debug("speech ended", "request-id", rec.id, "started", rec.inputStarted)
	if !rec.inputStarted || rec.speechT != nil || rec.finalized {
		return
	}
	d := rec.speechComplete
	if rec.incomplete() {
		d = rec.speechIncomp
	}
	rec.speechT = rec.after(d, rec.finalize)
}

// finalize asks the engine for its Final; an engine that never answers must not hold the
// channel until Recognition-Timeout.
func (rec *recognition) finalize() {
	rec.speechT = nil
	rec.queue(&asr.FinalizeInput{})
	if rec.finalT == nil {
		rec.finalT = rec.after(rec.r.ch.se.srv.cfg.FinalizeTimeout, rec.engineSilent)
	}
}

// engineSilent ends a recognition whose engine was asked for its Final and gave none within
// Config.FinalizeTimeout. The engine failed, so the cause is 006 recognizer-error (§9.4.11): a
// no-match would tell the application the caller said something outside the grammar.
func (rec *recognition) engineSilent() {
	rec.r.ch.log.Warn("recognizer gave no result after finalize", "timeout", rec.r.ch.se.srv.cfg.FinalizeTimeout)
	rec.r.complete(mrcp.RecogRecognizerError, nil)
}

// incomplete reports whether the engine's latest partial is a prefix that no voice grammar we
// can read accepts yet. Without partials, or with grammars only the engine reads, speech counts
// as complete.
func (rec *recognition) incomplete() bool {
	toks := strings.Fields(strings.ToLower(rec.partial))
	if len(toks) == 0 {
		return false
	}
	judged := false
	for _, d := range rec.voice {
		if d.g == nil {
			continue
		}
		judged = true
		if _, ok := d.g.Interpret(toks); ok {
			return false
		}
	}
	return judged
}

// close releases timers and the engine stream; it sends nothing.
func (rec *recognition) close() {
	if rec.closed {
		return
	}
	rec.closed = true
	stopTimer(&rec.noInputT)
	stopTimer(&rec.recogT)
	stopTimer(&rec.dtmfT)
	stopTimer(&rec.speechT)
	stopTimer(&rec.finalT)
	if rec.stream != nil {
		rec.cancel()
		rec.stream.Close()
	}
}

// listed reports whether a STOP's Active-Request-Id-List (§6.2.2) includes id; no list means all.
func listed(m *mrcp.Message, id uint32) bool {
	v, ok := m.Header.Get(mrcp.HeaderActiveRequestIDList)
	if !ok {
		return true
	}
	for _, s := range strings.Split(v, ",") {
		if n, err := strconv.ParseUint(strings.TrimSpace(s), 10, 32); err == nil && uint32(n) == id {
			return true
		}
	}
	return false
}

func itoa(id uint32) string { return strconv.FormatUint(uint64(id), 10) }

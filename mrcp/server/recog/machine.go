// Package recog is the state machine of one RECOGNIZE request (RFC 6787 §9.9 to §9.14): what the
// recognizer does with DTMF keys, speech events, the engine's answers and its own timers, and when
// and why the request completes (§9.4.11).
//
// The machine is pure: it owns no goroutine, clock, connection or engine. Handle takes one input
// and returns the effects the caller must carry out (send START-OF-INPUT, start or stop a timer,
// ask the engine for its final result, complete the request), so every transition is a plain
// table test. mrcp/server runs it on the session goroutine and carries out its effects; the
// model is sipgo's transaction state machines.
package recog

import (
	"time"

	"github.com/mrcpd/mrcpd/asr"
	"github.com/mrcpd/mrcpd/asr/grammar"
	"github.com/mrcpd/mrcpd/mrcp"
	"github.com/mrcpd/mrcpd/mrcp/nlsml"
)

// State is where a RECOGNIZE is in the RECOGNIZING state of §9.1.
type State int

const (
	// Waiting for input: nothing heard yet. No-Input-Timeout (§9.4.6) runs once the input timers
	// are on (§9.4.14).
	Waiting State = iota
	// Receiving: START-OF-INPUT was sent (§9.12); Recognition-Timeout (§9.4.7) runs.
	Receiving
	// Trailing: speech ended; Speech-Complete-Timeout or Speech-Incomplete-Timeout (§9.4.15,
	// §9.4.16) runs, and new speech takes the machine back to Receiving.
	Trailing
	// Finalizing: the engine was asked for its final result and nothing more goes to it; the
	// finalize bound runs so that a silent engine cannot hold the channel.
	Finalizing
	// Done: RECOGNITION-COMPLETE was decided (§9.14). Every input is ignored.
	Done
)

func (s State) String() string {
	switch s {
	case Waiting:
		return "waiting"
	case Receiving:
		return "receiving"
	case Trailing:
		return "trailing"
	case Finalizing:
		return "finalizing"
	case Done:
		return "done"
	}
	return "state(?)"
}

// Settings are the request's timers and thresholds, resolved from its headers and the channel's
// SET-PARAMS; a zero duration disables its timer.
type Settings struct {
	TimersOn         bool          // Start-Input-Timers (§9.4.14)
	NoInput          time.Duration // §9.4.6
	Recognition      time.Duration // §9.4.7
	SpeechComplete   time.Duration // §9.4.15
	SpeechIncomplete time.Duration // §9.4.16
	Interdigit       time.Duration // §9.4.17
	TermTimeout      time.Duration // §9.4.18
	TermChar         rune          // §9.4.19; 0: none
	Threshold        float64       // Confidence-Threshold (§9.4.1)
	// Finalize bounds the wait for the engine's final result after it was asked for it.
	Finalize time.Duration
	// Engine: an engine stream serves the voice grammars.
	Engine bool
	// EngineSpeechEvents: the engine declares its own speech events, and its end of speech
	// may end the utterance.
	EngineSpeechEvents bool
	// FreeText keeps a transcript that no grammar accepts as its own instance (a success)
	// instead of a no-match; only a request or configuration that asks for it sets it.
	FreeText bool
}

// Grammar is one grammar of the request. G is nil for a type only the engine reads.
type Grammar = grammar.Ref

// Machine is one RECOGNIZE in progress. It is not safe for concurrent use.
type Machine struct {
	set     Settings
	state   State
	dtmf    []dtmfGrammar
	voice   []Grammar
	maxtime bool   // Recognition-Timeout expired (§9.4.7): causes become the -maxtime ones
	partial string // the engine's latest hypothesis, for Speech-Incomplete-Timeout
	running [numTimers]uint64
	seq     uint64
	out     []Effect
}

type dtmfGrammar struct {
	id string
	m  *grammar.DTMFMatcher
}

// New builds the machine for one RECOGNIZE. DTMF-mode grammars are matched here; the others are
// the engine's.
func New(set Settings, grammars []Grammar) *Machine {
	m := &Machine{set: set}
	for _, g := range grammars {
		if g.G != nil && g.G.Mode == grammar.ModeDTMF {
			m.dtmf = append(m.dtmf, dtmfGrammar{id: g.ID, m: g.G.NewDTMFMatcher()})
		} else {
			m.voice = append(m.voice, g)
		}
	}
	return m
}

// State is the machine's state.
func (m *Machine) State() State { return m.state }

// Start is the RECOGNIZE's IN-PROGRESS (§9.9): with the input timers on, No-Input-Timeout starts.
func (m *Machine) Start() []Effect {
	m.out = nil
	m.armNoInput()
	return m.flush()
}

// Handle runs one input through the machine and returns what the caller must do, in order.
func (m *Machine) Handle(in Input) []Effect {
	m.out = nil
	if m.state == Done {
		return nil
	}
	switch x := in.(type) {
	case Digit:
		m.digit(x.Key)
	case SpeechStarted:
		m.speechStarted(x.Engine)
	case SpeechEnded:
		if !x.Engine || m.set.EngineSpeechEvents {
			m.speechEnded()
		}
	case Partial:
		m.partial = x.Text
	case Final:
		m.final(x.Alternatives)
	case EngineEnded:
		m.engineEnded(x.Err)
	case TimerFired:
		if m.running[x.Timer] == x.Seq && x.Seq != 0 {
			m.running[x.Timer] = 0
			m.fired(x.Timer)
		}
	case StartInputTimers:
		m.startInputTimers()
	case Cancel:
		// §9.4.27 Cancel-If-Queue: a new RECOGNIZE replaces this one.
		m.complete(mrcp.RecogCancelled, nil, "replaced by a new RECOGNIZE")
	}
	return m.flush()
}

func (m *Machine) flush() []Effect {
	out := m.out
	m.out = nil
	return out
}

func (m *Machine) emit(e Effect) { m.out = append(m.out, e) }

// startInputTimers is START-INPUT-TIMERS (§9.13): the prompt is over, No-Input-Timeout starts
// unless input already did.
func (m *Machine) startInputTimers() {
	if m.set.TimersOn {
		return
	}
	m.set.TimersOn = true
	m.armNoInput()
}

func (m *Machine) armNoInput() {
	if m.set.TimersOn && m.state == Waiting && m.set.NoInput > 0 {
		m.startTimer(NoInputTimer, m.set.NoInput)
	}
}

// startOfInput sends START-OF-INPUT once (§9.12) and starts Recognition-Timeout (§9.4.7).
func (m *Machine) startOfInput() {
	if m.state != Waiting {
		return
	}
	m.state = Receiving
	m.stopTimer(NoInputTimer)
	m.emit(SendStartOfInput{})
	if m.set.Recognition > 0 {
		m.startTimer(RecognitionTimer, m.set.Recognition)
	}
}

// speechStarted: START-OF-INPUT if it is the first input; speech resuming within the trailing
// silence holds the utterance open. Only an engine that declares speech events may do that:
// others (Vosk) report speech with their first partial, often after the host heard it end.
func (m *Machine) speechStarted(engine bool) {
	m.startOfInput()
	if m.state == Trailing && (!engine || m.set.EngineSpeechEvents) {
		m.stopTimer(SpeechTimer)
		m.state = Receiving
	}
}

// speechEnded starts Speech-Complete-Timeout (§9.4.15), or Speech-Incomplete-Timeout (§9.4.16)
// when the engine's latest hypothesis does not complete a grammar. A timer already running (the
// other detector ended speech first) is kept.
func (m *Machine) speechEnded() {
	if m.state != Receiving {
		return
	}
	d := m.set.SpeechComplete
	if incomplete(m.voice, m.partial) {
		d = m.set.SpeechIncomplete
	}
	m.state = Trailing
	m.startTimer(SpeechTimer, d)
}

// finalize asks the engine for its result; nothing more goes to it, and the finalize bound
// starts so that an engine that never answers cannot hold the channel.
func (m *Machine) finalize() {
	if m.state == Finalizing {
		return
	}
	m.stopTimer(SpeechTimer)
	m.state = Finalizing
	m.emit(FinalizeEngine{})
	if m.set.Finalize > 0 {
		m.startTimer(FinalizeTimer, m.set.Finalize)
	}
}

func (m *Machine) fired(t Timer) {
	switch t {
	case NoInputTimer:
		m.complete(mrcp.RecogNoInputTimeout, nil, "") // §9.4.6
	case RecognitionTimer:
		m.maxtime = true
		m.onMaxtime()
	case SpeechTimer:
		m.finalize()
	case InterdigitTimer:
		m.complete(mrcp.RecogPartialMatch, nil, "") // §9.4.17
	case TermTimer:
		m.completeDTMF(mrcp.RecogSuccess) // §9.4.18
	case FinalizeTimer:
		// The engine failed, so 006 recognizer-error: a no-match would tell the application
		// that the caller said something outside the grammar.
		m.complete(mrcp.RecogRecognizerError, nil, "the recognizer gave no result after it was asked for one")
	}
}

// onMaxtime is Recognition-Timeout (§9.4.7): DTMF input is judged now (§9.4.11 008, 014, 015);
// an engine is asked for its result, which becomes 008 success-maxtime or 015 no-match-maxtime.
func (m *Machine) onMaxtime() {
	switch s := m.dtmfState(); {
	case s == grammar.Complete || s == grammar.Final:
		m.completeDTMF(mrcp.RecogSuccessMaxtime)
		return
	case s == grammar.Incomplete && !m.set.Engine:
		m.complete(mrcp.RecogPartialMatchMaxtime, nil, "")
		return
	}
	if !m.set.Engine {
		m.complete(mrcp.RecogNoMatchMaxtime, nil, "")
		return
	}
	m.finalize()
}

func (m *Machine) noMatchCause() mrcp.RecogCause {
	if m.maxtime {
		return mrcp.RecogNoMatchMaxtime
	}
	return mrcp.RecogNoMatch
}

// engineEnded: the engine's stream ended without a final result. Its end of input is a no-match
// (§9.4.11 001/015); a failure maps onto its own cause (005, 010, 006).
func (m *Machine) engineEnded(err error) {
	if err == nil {
		m.complete(m.noMatchCause(), nil, "")
		return
	}
	m.complete(CauseOf(err), nil, err.Error())
}

// CauseOf maps an engine failure onto §9.4.11.
func CauseOf(err error) mrcp.RecogCause {
	switch asr.KindOf(err) {
	case asr.ErrBadGrammar:
		return mrcp.RecogGrammarCompilationFailure
	case asr.ErrLanguage:
		return mrcp.RecogLanguageUnsupported
	}
	return mrcp.RecogRecognizerError
}

// complete decides RECOGNITION-COMPLETE (§9.14): every running timer stops first.
func (m *Machine) complete(cause mrcp.RecogCause, res *nlsml.Result, reason string) {
	for t := range m.running {
		m.stopTimer(Timer(t))
	}
	m.state = Done
	m.emit(Complete{Cause: cause, Result: res, Reason: reason})
}

func (m *Machine) startTimer(t Timer, d time.Duration) {
	m.stopTimer(t)
	m.seq++
	m.running[t] = m.seq
	m.emit(StartTimer{Timer: t, After: d, Seq: m.seq})
}

func (m *Machine) stopTimer(t Timer) {
	if m.running[t] != 0 {
		m.running[t] = 0
		m.emit(StopTimer{Timer: t})
	}
}

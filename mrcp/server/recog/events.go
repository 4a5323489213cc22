package recog

import (
	"fmt"
	"time"

	"github.com/mrcpd/mrcpd/asr"
	"github.com/mrcpd/mrcpd/mrcp"
	"github.com/mrcpd/mrcpd/mrcp/nlsml"
)

// Timer names the machine's timers; at most one of each runs.
type Timer int

const (
	NoInputTimer     Timer = iota // No-Input-Timeout (§9.4.6)
	RecognitionTimer              // Recognition-Timeout (§9.4.7)
	SpeechTimer                   // Speech-Complete- or Speech-Incomplete-Timeout (§9.4.15-16)
	InterdigitTimer               // DTMF-Interdigit-Timeout (§9.4.17)
	TermTimer                     // DTMF-Term-Timeout (§9.4.18)
	FinalizeTimer                 // the bound on the engine's answer to FinalizeEngine
	numTimers
)

var timerNames = [numTimers]string{"no-input", "recognition", "speech", "interdigit", "term", "finalize"}

func (t Timer) String() string {
	if t >= 0 && t < numTimers {
		return timerNames[t]
	}
	return "timer(?)"
}

// Input is what the machine reacts to.
type Input interface{ input() }

// Digit is a DTMF key the media path detected (RFC 4733 or in-band).
type Digit struct{ Key rune }

// SpeechStarted and SpeechEnded come from the host's endpointer (Engine false) or from an engine
// that reports speech (Engine true).
type SpeechStarted struct{ Engine bool }
type SpeechEnded struct{ Engine bool }

// Partial is the engine's latest interim hypothesis.
type Partial struct{ Text string }

// Final is the engine's n-best result.
type Final struct{ Alternatives []asr.Alternative }

// EngineEnded: the engine's stream ended without a Final; Err nil is a plain end of input.
type EngineEnded struct{ Err error }

// TimerFired reports a timer the machine started; Seq is StartTimer's, so that a timer stopped
// after it fired (its report already on the way) is recognised and ignored.
type TimerFired struct {
	Timer Timer
	Seq   uint64
}

// StartInputTimers is the START-INPUT-TIMERS request (§9.13).
type StartInputTimers struct{}

// Cancel: a new RECOGNIZE with Cancel-If-Queue replaces this one (§9.4.27).
type Cancel struct{}

func (Digit) input()            {}
func (SpeechStarted) input()    {}
func (SpeechEnded) input()      {}
func (Partial) input()          {}
func (Final) input()            {}
func (EngineEnded) input()      {}
func (TimerFired) input()       {}
func (StartInputTimers) input() {}
func (Cancel) input()           {}

// Effect is what the caller must carry out.
type Effect interface{ effect() }

// SendStartOfInput: send the START-OF-INPUT event (§9.12).
type SendStartOfInput struct{}

// StartTimer: start (or restart) Timer; when it fires, hand TimerFired{Timer, Seq} back.
type StartTimer struct {
	Timer Timer
	After time.Duration
	Seq   uint64
}

// StopTimer: stop Timer; a TimerFired for it that is already on its way is ignored anyway.
type StopTimer struct{ Timer Timer }

// FinalizeEngine: stop sending audio to the engine and ask it for its final result.
type FinalizeEngine struct{}

// Complete: send RECOGNITION-COMPLETE (§9.14) with Cause and Result, and release the engine.
// Reason, when set, says why for the log and Completion-Reason.
type Complete struct {
	Cause  mrcp.RecogCause
	Result *nlsml.Result
	Reason string
}

func (SendStartOfInput) effect() {}
func (StartTimer) effect()       {}
func (StopTimer) effect()        {}
func (FinalizeEngine) effect()   {}
func (Complete) effect()         {}

func (e StartTimer) String() string { return fmt.Sprintf("start %s %v", e.Timer, e.After) }
func (e StopTimer) String() string  { return "stop " + e.Timer.String() }
func (SendStartOfInput) String() string {
	return "START-OF-INPUT"
}
func (FinalizeEngine) String() string { return "finalize" }
func (e Complete) String() string     { return "complete " + e.Cause.String() }

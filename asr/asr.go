// Package asr is the contract between mrcpd and its speech backends.
//
// In-process backends (the no-op recognizer) and out-of-process plugins (go-plugin over gRPC)
// implement the same two interfaces, so the session layer cannot tell them apart. Audio crosses the
// contract as signed 16-bit mono PCM at a rate the backend declared; the host resamples.
//
// The split follows what vendor integrations converge on: the host owns the MRCP state machine,
// timers, a fallback voice-activity detector, DTMF grammars, NLSML, Completion-Cause, waveforms and
// restarts; a backend only adapts an engine.
package asr

import (
	"context"
	"time"
)

// Recognizer is a speech recognition engine.
type Recognizer interface {
	// Info declares what the engine can do. It is called once per process start and may be cached.
	Info(ctx context.Context) (RecognizerInfo, error)
	// Recognize opens one recognition stream. Cancelling ctx cancels the stream on both sides of
	// any process boundary; the stream's Recv then returns ctx.Err() or a *Error.
	Recognize(ctx context.Context, req RecognizeRequest) (RecognitionStream, error)
}

// RecognitionStream is one utterance's bidirectional stream.
//
// Send and Recv may be called from different goroutines; Send is never called concurrently with
// itself, nor Recv with itself. The input belongs to the caller again when Send returns (see
// Audio). The first event is always a Ready. Recv returns io.EOF after the
// last event (normally a Final) and a *Error when the engine failed.
type RecognitionStream interface {
	Send(in Input) error
	Recv() (Event, error)
	// Close cancels the stream and releases it; it is safe to call more than once.
	Close() error
}

// Synthesizer is a speech synthesis engine.
type Synthesizer interface {
	Info(ctx context.Context) (SynthesizerInfo, error)
	// Synthesize starts one utterance. Cancelling ctx stops it. PAUSE and RESUME stay in the host,
	// which simply stops reading.
	Synthesize(ctx context.Context, req SynthesizeRequest) (SynthesisStream, error)
}

// SynthesisStream yields Audio chunks and optional Marks, then io.EOF, or a *Error.
type SynthesisStream interface {
	Recv() (SynthEvent, error)
	Close() error
}

// RecognizerInfo is a recognizer's declaration of capabilities.
type RecognizerInfo struct {
	Name              string
	Streaming         bool          // results while audio flows, not only after Finalize
	InterimResults    bool          // Partial events
	SpeechEvents      bool          // the engine sends SpeechStarted/SpeechEnded itself
	Finalize          bool          // honours Finalize by flushing a Final promptly
	GrammarTypes      []string      // media types accepted, e.g. application/srgs+xml, application/srgs, text/plain (phrase list)
	Builtins          []string      // builtin: URIs it implements, e.g. builtin:speech/transcribe
	MaxAlternatives   int           // n-best ceiling
	Languages         []string      // BCP 47 tags
	SampleRates       []int         // preferred first
	MaxStreamDuration time.Duration // 0: none. The host restarts the stream before or when it is hit
	IdleTimeout       time.Duration // 0: none. The host sends KeepAlive inside it
}

// Grammar is one grammar in force for a recognition, already resolved by the host (session:
// references replaced by the DEFINE-GRAMMAR body).
type Grammar struct {
	ID          string  // Content-Id, or the URI for builtin and remote grammars
	URI         string  // builtin:..., session:..., http(s):..., or "" for inline
	ContentType string  // application/srgs+xml, application/srgs, ... ("" for builtin)
	Body        []byte  // grammar text for inline and session grammars
	Weight      float64 // 0 means 1.0
	Mode        string  // "voice" or "dtmf"
}

// RecognizeRequest starts a recognition. Parameters from SET-PARAMS are merged into it by the host.
type RecognizeRequest struct {
	ChannelID           string            // for logs and metrics only
	Language            string            // Speech-Language
	SampleRate          int               // of the Audio that will follow; one of Info().SampleRates
	Interim             bool              // send Partial events
	Grammars            []Grammar         // empty means dictation
	Hints               []string          // phrases the engine should favour
	NBest               int               // N-Best-List-Length, at least 1
	ConfidenceThreshold float64           // 0..1; below it a result is a no-match
	Sensitivity         float64           // 0..1; for engines with their own speech detection
	Params              map[string]string // Vendor-Specific-Parameters, passed through
}

// Input is what the host sends on a RecognitionStream: *Audio, *DTMF, *ParamsUpdate, *FinalizeInput or *KeepAlive.
type Input interface{ isInput() }

// Audio is a batch of PCM samples at the request's rate.
//
// The samples are lent for the duration of Send: once Send returns, the caller may overwrite
// them (the plugin process decodes every batch of audio into buffers it reuses, which halves
// its cost). An engine that keeps samples past Send (a replay buffer, a queue to a worker
// goroutine, a vendor client that sends later) copies them, and keeps no pointer to the Audio.
type Audio struct{ PCM []int16 }

// DTMF is one digit (0-9, *, #, A-D) heard on the line.
type DTMF struct{ Digit rune }

// ParamsUpdate changes vendor parameters mid-stream.
type ParamsUpdate struct{ Params map[string]string }

// FinalizeInput says the caller stopped speaking: the engine should emit its Final now.
type FinalizeInput struct{}

// KeepAlive keeps an idle stream open while the caller is silent.
type KeepAlive struct{}

func (*Audio) isInput()         {}
func (*DTMF) isInput()          {}
func (*ParamsUpdate) isInput()  {}
func (*FinalizeInput) isInput() {}
func (*KeepAlive) isInput()     {}

// Event is what a RecognitionStream yields: *Ready, *SpeechStarted, *SpeechEnded, *Partial, *Final or *Usage.
type Event interface{ isEvent() }

// Ready acknowledges the start with the parameters in force.
type Ready struct {
	Params  map[string]string
	Skipped []SkippedGrammar
}

// SkippedGrammar names a grammar the engine could not use, and why.
type SkippedGrammar struct {
	ID     string
	Reason string
}

// SpeechStarted and SpeechEnded are the engine's own speech detection, at an offset into the stream.
type SpeechStarted struct{ At time.Duration }
type SpeechEnded struct{ At time.Duration }

// Partial is an interim hypothesis.
type Partial struct{ Text string }

// Final is the result of the utterance. No alternatives means no match.
type Final struct {
	Alternatives []Alternative
}

// Alternative is one n-best entry.
type Alternative struct {
	Text           string
	Confidence     float64 // 0..1
	Interpretation string  // SISR result (a string or XML); "" means Text
	Grammar        string  // ID of the grammar matched
	Mode           string  // "speech" or "dtmf"
	Words          []Word
}

// Word carries word timing and confidence where the engine gives them.
type Word struct {
	Text       string
	Start, End time.Duration
	Confidence float64
}

// Usage reports what the stream consumed, for billing and metrics.
type Usage struct{ Audio time.Duration }

func (*Ready) isEvent()         {}
func (*SpeechStarted) isEvent() {}
func (*SpeechEnded) isEvent()   {}
func (*Partial) isEvent()       {}
func (*Final) isEvent()         {}
func (*Usage) isEvent()         {}

// SynthesizerInfo declares a synthesizer's voices and formats.
type SynthesizerInfo struct {
	Name        string
	Voices      []Voice
	SampleRates []int
	SSML        bool
	Marks       bool
}

// Voice is one voice a synthesizer offers.
type Voice struct {
	Name     string
	Gender   string // male, female, neutral
	Language string
}

// SynthesizeRequest starts one utterance.
type SynthesizeRequest struct {
	ChannelID   string
	ContentType string // text/plain, application/ssml+xml or application/synthesis+ssml
	Text        string
	Voice       string // Voice-Name; "" or "default" lets the engine choose
	Gender      string
	Language    string
	Rate        string // Prosody-Rate: x-slow..x-fast, default, or a relative number
	Volume      string
	Pitch       string
	SampleRate  int
	Params      map[string]string
}

// SynthEvent is *SynthAudio or *Mark.
type SynthEvent interface{ isSynthEvent() }

// SynthAudio is a chunk of PCM at the request's rate.
type SynthAudio struct{ PCM []int16 }

// Mark is an SSML <mark/> reached in the audio stream.
type Mark struct{ Name string }

func (*SynthAudio) isSynthEvent() {}
func (*Mark) isSynthEvent()       {}

package vendorkit

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"time"

	"github.com/mrcpd/mrcpd/asr"
	"github.com/mrcpd/mrcpd/asr/grammar"
)

// GrammarTypes are the grammar media types CompileGrammars takes, for RecognizerInfo.
func GrammarTypes() []string {
	return []string{grammar.TypeSRGSXML, grammar.TypeSRGSABNF, TypePhraseList}
}

// Builtins are the builtin grammars a free-transcription vendor serves through CompileGrammars and
// Apply, for RecognizerInfo.
func Builtins() []string {
	return []string{"builtin:speech/transcribe", "builtin:grammar/boolean", "builtin:grammar/digits"}
}

// Concat is one utterance a vendor returned as several results: their texts joined with a space,
// the mean confidence and all the words, in order.
func Concat(results []asr.Alternative) asr.Alternative {
	best := asr.Alternative{Mode: "speech"}
	texts := make([]string, 0, len(results))
	for _, r := range results {
		texts = append(texts, r.Text)
		best.Confidence += r.Confidence / float64(len(results))
		best.Words = append(best.Words, r.Words...)
	}
	best.Text = strings.Join(texts, " ")
	return best
}

// keepAliveSilence is how much silence KeepAlive sends to a vendor that has no keep-alive message:
// enough to reset an audio or proxy idle timeout, too little to be heard as an utterance's end.
const keepAliveSilence = 100 * time.Millisecond

// KeepAliveSilence is the silent audio to send for a KeepAlive at rate.
func KeepAliveSilence(rate int) []int16 {
	return make([]int16, int(keepAliveSilence.Seconds()*float64(rate)))
}

// DialFailed classifies a connection attempt that got no answer from the vendor: the caller's own
// cancellation or deadline is returned as it is, anything else (refused, reset, TLS) is a
// retryable ErrUnavailable, worth another endpoint.
func DialFailed(vendor string, err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return asr.Errorf(asr.ErrUnavailable, true, "%s: %v", vendor, err)
}

// WriteFailed classifies a failed write on a stream whose context is ctx: once the stream is
// cancelled that is the cause; otherwise the connection broke, a retryable ErrUnavailable.
func WriteFailed(ctx context.Context, vendor string, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return asr.Errorf(asr.ErrUnavailable, true, "%s: write: %v", vendor, err)
}

// Prepare is how every vendor's Recognize begins: the request's own configuration from
// forRequest (its Vendor-Specific-Parameters laid over settings; a bad one is ErrBadParameter),
// its grammars compiled, and req.SampleRate defaulted to the first of the plugin's rates.
func Prepare[C any](req *asr.RecognizeRequest, settings map[string]string, forRequest func(base, params map[string]string) (C, error), rates []int) (C, *Grammars, error) {
	cfg, err := forRequest(settings, req.Params)
	if err != nil {
		return cfg, nil, asr.Errorf(asr.ErrBadParameter, false, "%v", err)
	}
	gs, err := CompileGrammars(req.Grammars)
	if err != nil {
		return cfg, nil, err
	}
	if req.SampleRate <= 0 {
		req.SampleRate = rates[0]
	}
	return cfg, gs, nil
}

// Base is what each vendor recognizer's Engine holds beside its own Config: the plugin's settings
// (which a request's parameters overlay in Prepare), its logger, and its endpoints with failover.
type Base struct {
	Settings  map[string]string
	Log       *slog.Logger
	Endpoints *Endpoints
}

// NewBase is the Base of an engine whose configuration lists endpoints and a backoff.
func NewBase(settings map[string]string, log *slog.Logger, endpoints []string, b Backoff) Base {
	return Base{Settings: settings, Log: log, Endpoints: NewEndpoints(endpoints, b)}
}

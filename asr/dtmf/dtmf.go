// Package dtmf is the in-process DTMF recognizer: an asr.Recognizer whose streams take the keys
// the media layer detected (RFC 4733 events or in-band tones) and match them against the
// request's DTMF grammars (dtmf-mode SRGS and builtin:dtmf/*) with grammar.DTMFMatcher.
//
// Timers stay in the host (RFC 6787 §9.4.14-§9.4.16 DTMF-Interdigit-Timeout, DTMF-Term-Timeout,
// DTMF-Term-Char): the host strips the DTMF-Term-Char before sending keys and sends
// *asr.FinalizeInput when the term char arrives or a DTMF timer fires. The stream then emits the
// first Complete match in request order, or a no-match Final (no alternatives). Without waiting
// for the host, it emits a Final as soon as a grammar is grammar.Final (the keys cannot extend
// it), and a no-match as soon as no grammar can match any more, including when the request has
// no DTMF grammar at all (the host should then not route keys here).
//
// A Final carries one Alternative: Text is the keys as pressed, concatenated ("1234"),
// Interpretation the grammar's SISR result (the keys themselves for grammars without tags, "true"
// or "false" for builtin:dtmf/boolean), Grammar the request's grammar ID, Mode "dtmf",
// Confidence 1.
package dtmf

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"

	"github.com/mrcpd/mrcpd/asr"
	"github.com/mrcpd/mrcpd/asr/grammar"
)

// Recognizer is the DTMF recognizer. The zero value is not usable; call New.
type Recognizer struct {
	log *slog.Logger
}

// New returns a DTMF recognizer logging to log.
func New(log *slog.Logger) *Recognizer {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Recognizer{log: log}
}

// Info declares the DTMF grammars this recognizer handles.
func (r *Recognizer) Info(ctx context.Context) (asr.RecognizerInfo, error) {
	return asr.RecognizerInfo{
		Name:            "dtmf",
		Streaming:       true,
		Finalize:        true,
		GrammarTypes:    []string{grammar.TypeSRGSXML, grammar.TypeSRGSABNF},
		Builtins:        []string{grammar.BuiltinDTMFDigits, grammar.BuiltinDTMFBoolean},
		MaxAlternatives: 1,
	}, ctx.Err()
}

type compiled struct {
	id string
	m  *grammar.DTMFMatcher
}

// Recognize compiles the request's DTMF grammars. Voice grammars, and grammars that do not parse
// unless the host marked them dtmf, are listed in Ready.Skipped: the speech engine judges those.
// A dtmf grammar that fails to compile fails the request with asr.ErrBadGrammar.
func (r *Recognizer) Recognize(ctx context.Context, req asr.RecognizeRequest) (asr.RecognitionStream, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var gs []compiled
	var skipped []asr.SkippedGrammar
	for _, rg := range req.Grammars {
		g, err := load(rg)
		id := rg.ID
		if id == "" {
			id = rg.URI
		}
		switch {
		case err != nil && rg.Mode == grammar.ModeDTMF:
			return nil, &asr.Error{Kind: asr.ErrBadGrammar, Message: fmt.Sprintf("grammar %s: %v", id, err)}
		case err != nil:
			skipped = append(skipped, asr.SkippedGrammar{ID: id, Reason: err.Error()})
		case g.Mode != grammar.ModeDTMF:
			skipped = append(skipped, asr.SkippedGrammar{ID: id, Reason: "voice grammar"})
		default:
			gs = append(gs, compiled{id: id, m: g.NewDTMFMatcher()})
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	s := &stream{ctx: ctx, cancel: cancel, grammars: gs, events: make(chan asr.Event, 2), log: r.log.With("channel", req.ChannelID)}
	s.events <- &asr.Ready{Skipped: skipped}
	if len(gs) == 0 {
		s.log.Debug("dtmf: no dtmf grammar in request", "skipped", len(skipped))
	}
	return s, nil
}

func load(g asr.Grammar) (*grammar.Grammar, error) {
	if strings.HasPrefix(strings.ToLower(g.URI), "builtin:") {
		return grammar.Builtin(g.URI)
	}
	if len(g.Body) == 0 {
		return nil, fmt.Errorf("no grammar body for %q", g.URI)
	}
	ct := g.ContentType
	if ct == "" {
		// A session grammar whose DEFINE-GRAMMAR type the host did not keep: the forms are
		// unambiguous from their first bytes.
		ct = grammar.TypeSRGSXML
		if strings.HasPrefix(strings.TrimSpace(strings.TrimPrefix(string(g.Body), "\ufeff")), "#ABNF") {
			ct = grammar.TypeSRGSABNF
		}
	}
	return grammar.Parse(ct, g.Body)
}

// stream owns its matchers under mu: Send runs on the host's sending goroutine while Recv waits
// on the event channel. No goroutine of its own: events are produced synchronously by Send.
type stream struct {
	ctx    context.Context
	cancel context.CancelFunc
	log    *slog.Logger
	events chan asr.Event // Ready, then at most one Final; closed after the Final

	mu       sync.Mutex
	grammars []compiled
	done     bool
}

// Send feeds a key or a finalize. Keys after the Final are ignored: the recognition is over.
func (s *stream) Send(in asr.Input) error {
	if err := s.ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done {
		return nil
	}
	switch in := in.(type) {
	case *asr.DTMF:
		s.key(in.Digit)
	case *asr.FinalizeInput:
		s.finish(s.best(grammar.Complete))
	case *asr.Audio, *asr.ParamsUpdate, *asr.KeepAlive:
	default:
		return fmt.Errorf("dtmf: unexpected input %T", in)
	}
	return nil
}

func (s *stream) key(d rune) {
	live := false
	for _, g := range s.grammars {
		st := g.m.Push(d)
		live = live || st != grammar.NoMatch
	}
	if f := s.best(grammar.Final); f != nil {
		s.finish(f)
		return
	}
	if !live {
		// No grammar can match any more: waiting for a timeout would only delay the no-match.
		s.finish(nil)
	}
}

// best returns the first grammar, in request order, whose matcher is in state want or beyond.
func (s *stream) best(want grammar.MatchState) *compiled {
	for i := range s.grammars {
		if s.grammars[i].m.State() >= want {
			return &s.grammars[i]
		}
	}
	return nil
}

func (s *stream) finish(g *compiled) {
	final := &asr.Final{}
	if g != nil {
		final.Alternatives = []asr.Alternative{{
			Text:           g.m.Digits(),
			Interpretation: g.m.Interpretation(),
			Grammar:        g.id,
			Mode:           "dtmf",
			Confidence:     1,
		}}
	}
	s.log.Debug("dtmf: final", "matched", g != nil)
	s.done = true
	s.events <- final // never blocks: capacity 2 holds Ready and this Final
	close(s.events)
}

// Recv returns Ready, then the Final, then io.EOF; ctx.Err() once the stream's context ends.
func (s *stream) Recv() (asr.Event, error) {
	if err := s.ctx.Err(); err != nil {
		return nil, err
	}
	select {
	case ev, ok := <-s.events:
		if !ok {
			return nil, io.EOF
		}
		return ev, nil
	case <-s.ctx.Done():
		return nil, s.ctx.Err()
	}
}

// Close cancels the stream; safe to call more than once.
func (s *stream) Close() error {
	s.cancel()
	return nil
}

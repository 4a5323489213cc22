// Package engine is an in-process asr.Recognizer on Debian's libpocketsphinx 0.8 (cgo).
//
// Every stream owns one decoder from a pool for its lifetime. Grammar decoders carry only the
// words of the grammars they have seen; dictation decoders carry the whole dictionary and the
// en-us language model. Confidence compares the grammar's acoustic score with a phone loop run on
// the same audio, because ps_get_prob is always 0 for grammar searches.
package engine

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/mrcpd/mrcpd/asr"
)

// BuiltinTranscribe selects dictation on the language model.
const BuiltinTranscribe = "builtin:speech/transcribe"

// searchDictation and searchPhones name the decoder searches that are not grammars.
const (
	searchDictation = "_dictation"
	searchPhones    = "_phones"
)

// Engine is the PocketSphinx recognizer.
type Engine struct {
	cfg     Config
	cmn     []float32
	lex     *lexicon
	pool    *pool
	compile func(asr.Grammar) (*compiled, error)
	beams   map[string]float64
}

// compiled is a grammar ready for a decoder.
type compiled struct {
	id        string // asr.Grammar.ID, reported back in results
	search    string // decoder search name: identifies the JSGF text and its word insertion penalty
	jsgf      string
	words     []string
	interpret func(tokens []string) (instance string, ok bool)
	wip       float64
	digits    bool // made only of digit words: DigitWIP and DigitConfidenceOffset apply
	dictation bool // builtin:speech/transcribe
}

// New loads the dictionary and prepares the decoder pool; decoders are created on demand.
func New(cfg Config) (*Engine, error) {
	cfg.fill()
	cmn, err := cfg.cmnVector()
	if err != nil {
		return nil, err
	}
	beams, err := cfg.beams()
	if err != nil {
		return nil, err
	}
	if cfg.MLLR != "" && cfg.Means != "" {
		// pocketsphinx would apply the transform to means that already hold it.
		return nil, errors.New("pocketsphinx: settings mllr and means both set: the means already hold the transform, set one")
	}
	if slices.Contains(cfg.Args, "-logfn") {
		// ps_init hands -logfn to err_set_logfile, which closes sphinxbase's process-wide log FILE
		// and opens another while other decoders write to it: the plugin crashed, or deadlocked on
		// glibc's stream locks while still answering pings (newDecoder turns the log off instead).
		return nil, errors.New("pocketsphinx: setting args: -logfn is not allowed: every decoder would reopen the process-wide log that the others write to")
	}
	if cfg.DigitMeans != "" && cfg.Means == "" {
		// The digit means are a second pass on top of the means, and calibrated with them.
		return nil, errors.New("pocketsphinx: setting digit_means needs means (the means it was estimated on)")
	}
	if cfg.MixtureWeights != "" && cfg.Means == "" {
		// Estimated together with the means: the weights are over the adapted codebooks.
		return nil, errors.New("pocketsphinx: setting mixture_weights needs means (the means it was estimated with)")
	}
	for k, f := range map[string]string{"mllr": cfg.MLLR, "means": cfg.Means, "digit_means": cfg.DigitMeans, "mixture_weights": cfg.MixtureWeights} {
		if f == "" {
			continue
		}
		if _, err := os.Stat(f); err != nil {
			return nil, fmt.Errorf("pocketsphinx: setting %s: %w", k, err)
		}
	}
	lex, err := loadLexicon(cfg.Dictionary, !cfg.PlainDictionary)
	if err != nil {
		return nil, err
	}
	fp, err := cfg.featParams()
	if err != nil {
		return nil, err
	}
	e := &Engine{cfg: cfg, cmn: cmn, lex: lex, beams: beams}
	e.compile = e.compileGrammar
	e.pool = newPool(cfg.PoolSize, cfg.IdleDecoders, func(kind decoderKind) (*decoder, error) {
		return newDecoder(cfg.args(kind, fp), cmn, kind)
	})
	return e, nil
}

// Close frees idle decoders. Streams still open keep theirs until they end.
func (e *Engine) Close() error {
	e.pool.close()
	return nil
}

// Info implements asr.Recognizer.
func (e *Engine) Info(context.Context) (asr.RecognizerInfo, error) {
	return asr.RecognizerInfo{
		Name:            "pocketsphinx",
		Streaming:       true,
		InterimResults:  true,
		SpeechEvents:    true,
		Finalize:        true,
		GrammarTypes:    []string{"application/srgs+xml", "application/srgs"},
		Builtins:        []string{BuiltinTranscribe, "builtin:grammar/boolean", "builtin:grammar/digits"},
		MaxAlternatives: 10,
		Languages:       []string{"en-US"},
		// The acoustic model is 16 kHz only: the host upsamples telephone audio with its
		// band-limited resampler (-samprate 8000 with this model gives garbage).
		SampleRates: []int{16000},
	}, nil
}

// plan is what one recognition decodes.
type plan struct {
	dictation bool
	kind      decoderKind // of the decoder the stream takes from the pool
	grammars  []*compiled // voice grammars; the first is decoded as audio streams, the others after
	skipped   []asr.SkippedGrammar
	prons     map[string][]string
}

// Recognize implements asr.Recognizer. Grammars whose words are not in the dictionary fail here
// with ErrBadGrammar naming the words.
func (e *Engine) Recognize(ctx context.Context, req asr.RecognizeRequest) (asr.RecognitionStream, error) {
	if req.SampleRate != 0 && req.SampleRate != 16000 {
		return nil, asr.Errorf(asr.ErrBadParameter, false, "pocketsphinx: sample rate %d Hz, want 16000", req.SampleRate)
	}
	if l := strings.ToLower(req.Language); l != "" && !strings.HasPrefix(l, "en") {
		return nil, asr.Errorf(asr.ErrLanguage, false, "pocketsphinx: language %q not supported (en-US only)", req.Language)
	}
	p, err := e.plan(req.Grammars)
	if err != nil {
		return nil, err
	}
	return startStream(ctx, e, req, p), nil
}

func (e *Engine) plan(gs []asr.Grammar) (*plan, error) {
	p := &plan{prons: map[string][]string{}}
	var missing []string
	for _, g := range gs {
		if g.Mode == "dtmf" {
			p.skipped = append(p.skipped, asr.SkippedGrammar{ID: g.ID, Reason: "dtmf grammar: matched by the host"})
			continue
		}
		if isTranscribe(g.URI) {
			p.dictation = true
			continue
		}
		c, err := e.compile(g)
		if err != nil {
			return nil, err
		}
		if c == nil { // a DTMF grammar named by URI
			p.skipped = append(p.skipped, asr.SkippedGrammar{ID: g.ID, Reason: "dtmf grammar: matched by the host"})
			continue
		}
		if c.dictation {
			p.dictation = true
			continue
		}
		found, miss := e.lex.lookup(c.words)
		for w, pr := range found {
			p.prons[w] = pr
		}
		for _, m := range miss {
			if !slices.Contains(missing, m) {
				missing = append(missing, m)
			}
		}
		p.grammars = append(p.grammars, c)
	}
	if len(missing) > 0 {
		return nil, asr.Errorf(asr.ErrBadGrammar, false, "pocketsphinx: words not in the dictionary: %s", strings.Join(missing, ", "))
	}
	if len(p.grammars) == 0 {
		p.dictation = true // no grammar: dictation
	}
	if p.dictation && len(p.grammars) > 0 {
		for _, g := range p.grammars {
			p.skipped = append(p.skipped, asr.SkippedGrammar{ID: g.id, Reason: "dictation requested: grammars not combined with builtin:speech/transcribe"})
		}
		p.grammars = nil
	}
	p.kind = e.decoderKind(p)
	return p, nil
}

// decoderKind is the decoder p needs: with digit_means, grammars made only of digit words get a
// decoder of their own (another grammar in the same request would be decoded with the digit
// means, which cost yes/no answers: see Config.DigitMeans).
func (e *Engine) decoderKind(p *plan) decoderKind {
	if p.dictation {
		return dictationDecoder
	}
	if e.cfg.DigitMeans == "" {
		return grammarDecoder
	}
	for _, g := range p.grammars {
		if !g.digits {
			return grammarDecoder
		}
	}
	return digitDecoder
}

func isTranscribe(uri string) bool {
	base, _, _ := strings.Cut(uri, "?")
	return base == BuiltinTranscribe
}

// newCompiled fills in the search name and word insertion penalty of a grammar's JSGF.
func (e *Engine) newCompiled(id, jsgf string, words []string, interpret func([]string) (string, bool)) *compiled {
	wip := e.cfg.WIP
	digits := onlyDigits(words)
	if digits && e.cfg.DigitWIP > 0 {
		wip = e.cfg.DigitWIP
	}
	h := sha256.Sum256([]byte(fmt.Sprintf("%g\x00%s", wip, jsgf)))
	return &compiled{id: id, search: "g" + hex.EncodeToString(h[:8]), jsgf: jsgf, words: words, interpret: interpret, wip: wip, digits: digits}
}

var digitWords = map[string]bool{"zero": true, "oh": true, "one": true, "two": true, "three": true, "four": true,
	"five": true, "six": true, "seven": true, "eight": true, "nine": true}

func onlyDigits(words []string) bool {
	for _, w := range words {
		if !digitWords[strings.ToLower(w)] {
			return false
		}
	}
	return len(words) > 0
}

// frameDur is pocketsphinx's frame shift (-frate 100).
const frameDur = 10 * time.Millisecond

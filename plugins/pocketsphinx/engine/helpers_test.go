package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/mrcpd/mrcpd/asr"
	"github.com/mrcpd/mrcpd/media/audio"
	"github.com/mrcpd/mrcpd/plugins/pocketsphinx/speechset"
)

// phraseGrammar is a hand-written JSGF grammar with an interpretation table, standing in for
// asr/grammar in tests of the engine alone.
type phraseGrammar struct {
	jsgf   string
	words  []string
	accept func(tokens []string) (string, bool)
}

func (g phraseGrammar) Words() []string                     { return g.words }
func (g phraseGrammar) ToJSGF() (string, error)             { return g.jsgf, nil }
func (g phraseGrammar) Interpret(t []string) (string, bool) { return g.accept(t) }

var digitWordList = []string{"zero", "oh", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"}

func digitsGrammar() phraseGrammar {
	return phraseGrammar{
		jsgf:  "#JSGF V1.0;\ngrammar digits;\npublic <digits> = <d> <d> <d> <d>;\n<d> = zero | oh | one | two | three | four | five | six | seven | eight | nine;\n",
		words: digitWordList,
		accept: func(t []string) (string, bool) {
			if len(t) != 4 {
				return "", false
			}
			for _, w := range t {
				if !digitWords[w] {
					return "", false
				}
			}
			return strings.Join(t, " "), true
		},
	}
}

func listGrammar(name string, phrases map[string]string) phraseGrammar {
	var alts []string
	var words []string
	for p := range phrases {
		alts = append(alts, p)
		words = append(words, strings.Fields(p)...)
	}
	return phraseGrammar{
		jsgf:  fmt.Sprintf("#JSGF V1.0;\ngrammar %s;\npublic <%s> = %s;\n", name, name, strings.Join(alts, " | ")),
		words: words,
		accept: func(t []string) (string, bool) {
			v, ok := phrases[strings.Join(t, " ")]
			return v, ok
		},
	}
}

func booleanGrammar() phraseGrammar {
	return listGrammar("boolean", map[string]string{"yes": "true", "no": "false"})
}

func menuGrammar() phraseGrammar {
	return listGrammar("dept", map[string]string{"billing": "billing", "sales": "sales",
		"technical support": "support", "support": "support", "operator": "operator"})
}

// withTestGrammars makes the engine resolve grammar IDs "digits", "boolean" and "menu" to the
// hand-written grammars above.
func withTestGrammars(e *Engine) {
	e.compile = func(g asr.Grammar) (*compiled, error) {
		switch g.ID {
		case "digits":
			return e.compileSource(g.ID, digitsGrammar())
		case "boolean":
			return e.compileSource(g.ID, booleanGrammar())
		case "menu":
			return e.compileSource(g.ID, menuGrammar())
		}
		return e.compileGrammar(g)
	}
}

// upsample converts 8 kHz telephone audio the way the host does (media's band-limited resampler).
func upsample(pcm []int16) []int16 {
	return audio.NewResampler(8000, 16000).Process(nil, pcm)
}

// result is what one recognition produced.
type result struct {
	final    *asr.Final
	partials []string
	started  bool
	ended    bool
}

// recognize streams pcm (16 kHz) in 20 ms batches and finalizes.
func recognize(ctx context.Context, r asr.Recognizer, req asr.RecognizeRequest, pcm []int16) (*result, error) {
	req.SampleRate = 16000
	st, err := r.Recognize(ctx, req)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	return recognizeOn(st, pcm)
}

// recognizeOn streams pcm on an open stream, finalizes and collects its events.
func recognizeOn(st asr.RecognitionStream, pcm []int16) (*result, error) {
	res := &result{}
	errc := make(chan error, 1)
	go func() {
		for i := 0; i < len(pcm); i += 320 {
			if err := st.Send(&asr.Audio{PCM: pcm[i:min(i+320, len(pcm))]}); err != nil {
				errc <- err
				return
			}
		}
		errc <- st.Send(&asr.FinalizeInput{})
	}()
	for {
		ev, err := st.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		switch ev := ev.(type) {
		case *asr.Final:
			res.final = ev
		case *asr.Partial:
			res.partials = append(res.partials, ev.Text)
		case *asr.SpeechStarted:
			res.started = true
		case *asr.SpeechEnded:
			res.ended = true
		}
	}
	if err := <-errc; err != nil {
		return nil, err
	}
	return res, nil
}

func top(f *asr.Final) (asr.Alternative, bool) {
	if f == nil || len(f.Alternatives) == 0 {
		return asr.Alternative{}, false
	}
	return f.Alternatives[0], true
}

func newTestEngine(t testing.TB, cfg Config) *Engine {
	t.Helper()
	e, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	withTestGrammars(e)
	t.Cleanup(func() { e.Close() })
	return e
}

// The telephone-channel transform and the MAP-adapted means are estimated once per test binary,
// the way "pocketsphinx adapt -synthesize -means" does: on speechset's adaptation voices, none of
// which speaks the test set or the held-out set. Under `make test` (MRCPD_BIN_DIR) the files
// `make build` estimated with the same command are used instead of estimating them again.
var (
	mllrOnce sync.Once
	mllrDir  string // estimated here: removed by TestMain
	adapted  MAPFiles
	mllrErr  error
)

// mapFilesIn is the files named name.mllr, .means, .digit.means and .mixw in dir.
func mapFilesIn(dir, name string) MAPFiles {
	p := filepath.Join(dir, name)
	return MAPFiles{MLLR: p + ".mllr", Means: p + ".means", DigitMeans: p + ".digit.means", MixtureWeights: p + ".mixw"}
}

// parseSettings reads "key=value;key=value" as the plugin's settings.
func parseSettings(list string) map[string]string {
	settings := map[string]string{}
	for _, kv := range strings.Split(list, ";") {
		if k, v, ok := strings.Cut(kv, "="); ok {
			settings[strings.TrimSpace(k)] = v
		}
	}
	return settings
}

func estimateAdaptation() {
	opt := speechset.DefaultAdaptation
	var err error
	if v := os.Getenv("MRCPD_ACCURACY_ADAPT_RANDOM"); v != "" { // tuning: more or fewer drawn speakers
		if opt.Random, err = strconv.Atoi(v); err != nil {
			mllrErr = fmt.Errorf("MRCPD_ACCURACY_ADAPT_RANDOM: %w", err)
			return
		}
	}
	if v := os.Getenv("MRCPD_ACCURACY_ADAPT_CHANNELS"); v != "" { // tuning: lines drawn or not
		if opt.Channels, err = strconv.ParseBool(v); err != nil {
			mllrErr = fmt.Errorf("MRCPD_ACCURACY_ADAPT_CHANNELS: %w", err)
			return
		}
	}
	if bin := os.Getenv("MRCPD_BIN_DIR"); bin != "" && opt == speechset.DefaultAdaptation && os.Getenv("MRCPD_ACCURACY_ADAPT_SNR") == "" && os.Getenv("MRCPD_ACCURACY_ADAPT_SETTINGS") == "" {
		f := mapFilesIn(filepath.Join(bin, "plugins"), "pocketsphinx")
		files := []string{f.MLLR, f.Means, f.DigitMeans, f.MixtureWeights}
		if !slices.ContainsFunc(files, func(f string) bool { _, err := os.Stat(f); return err != nil }) {
			adapted = f
			return
		}
	}
	dir, err := os.MkdirTemp("", "mllr-")
	if err != nil {
		mllrErr = err
		return
	}
	mllrDir = dir
	ctx := context.Background()
	us, err := speechset.GenerateAdaptation(ctx, dir, opt)
	if err != nil {
		mllrErr = err
		return
	}
	if v := os.Getenv("MRCPD_ACCURACY_ADAPT_SNR"); v != "" { // tuning: noisy copies too
		var snrs []float64
		for _, f := range strings.Split(v, ",") {
			x, err := strconv.ParseFloat(f, 64)
			if err != nil {
				mllrErr = fmt.Errorf("MRCPD_ACCURACY_ADAPT_SNR: %w", err)
				return
			}
			snrs = append(snrs, x)
		}
		us = speechset.WithNoise(us, snrs)
	}
	utts := make([]AdaptUtterance, len(us))
	for i, u := range us {
		utts[i] = AdaptUtterance{Text: u.Text, PCM: upsample(u.PCM)}
	}
	cfg := DefaultConfig()
	if v := os.Getenv("MRCPD_ACCURACY_ADAPT_SETTINGS"); v != "" { // tuning: the front end adapted with
		if cfg, err = FromSettings(parseSettings(v)); err != nil {
			mllrErr = fmt.Errorf("MRCPD_ACCURACY_ADAPT_SETTINGS: %w", err)
			return
		}
	}
	e, err := New(cfg)
	if err != nil {
		mllrErr = err
		return
	}
	defer e.Close()
	out := mapFilesIn(dir, "telephone")
	if mllrErr = e.AdaptMAP(ctx, dir, out, utts); mllrErr == nil {
		adapted = out
	}
}

// telephoneAdaptation is the transform, the MAP means and mixture weights estimated with it, and
// the digit means of the second pass on top of them.
func telephoneAdaptation(t testing.TB) MAPFiles {
	t.Helper()
	mllrOnce.Do(estimateAdaptation)
	if errors.Is(mllrErr, speechset.ErrNoSynth) || errors.Is(mllrErr, ErrNoSphinxTrain) {
		t.Skip(mllrErr)
	}
	if mllrErr != nil {
		t.Fatal(mllrErr)
	}
	return adapted
}

// adaptedConfig is DefaultConfig with the MAP-adapted means, as conf/mrcpd.yaml runs the plugin
// (the mixture weights and the digit means are not set there).
func adaptedConfig(t testing.TB) Config {
	cfg := DefaultConfig()
	cfg.Means = telephoneAdaptation(t).Means
	return cfg
}

// scoredSeg is a hypothesis or phone-loop segment with its acoustic score, for the confidence
// tests.
func scoredSeg(w string, sf, ef int, ascr int32) segment {
	return segment{word: w, sf: sf, ef: ef, ascr: ascr}
}

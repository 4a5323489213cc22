package engine

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
)

// Model paths of Debian's pocketsphinx-en-us package.
const (
	DefaultAcousticModel = "/usr/share/pocketsphinx/model/en-us/en-us"
	DefaultDictionary    = "/usr/share/pocketsphinx/model/en-us/cmudict-en-us.dict"
	DefaultLanguageModel = "/usr/share/pocketsphinx/model/en-us/en-us.lm.bin"
)

// DefaultCMNInit is the initial cepstral mean for telephone speech upsampled from 8 kHz: the
// model's own value (41,-5.29,...) and the library default (40,3,-1) are means of wideband
// speech; with no energy above 4 kHz the higher cepstra sit elsewhere, and live CMN needs most
// of an utterance to get there, so short answers ("yes", "sales") were misrecognised.
// Measured on the speechset accuracy set (see ACCURACY.md).
const DefaultCMNInit = "40,3,-1"

// Config is the engine's configuration. Zero fields take the defaults of DefaultConfig.
type Config struct {
	AcousticModel string // -hmm directory (16 kHz model)
	Dictionary    string // pronunciation dictionary (cmudict format)
	LanguageModel string // dictation language model
	PhoneLoop     bool   // confidence from a phone loop (off: every result has confidence 1)
	PoolSize      int    // decoders in use at once; further streams wait for one
	IdleDecoders  int    // decoders kept loaded while idle
	CMNInit       string // -cmninit for every utterance
	LowerF        float64
	UpperF        float64 // -upperf; 3500 keeps the mel filters inside the telephone band
	RemoveNoise   bool
	// NoiseSuppression is how far (dB) speexdsp's preprocessor may take stationary noise down
	// before the front end, on a line with steady noise (denoise.go); 0 leaves the audio as it
	// is. 20 is what the confidence's shift for denoised audio was read off (denoisedShift).
	NoiseSuppression float64
	// PlainDictionary leaves accentVariants out of the grammars' pronunciations (lexicon.go).
	PlainDictionary bool
	// BandExtension is the gain of the spectral folding that fills the empty 4-8 kHz band of
	// upsampled telephone audio (0 disables it); see bandext.go.
	BandExtension float64
	// FricativeGain raises the folding gain with the share of energy above 2.5 kHz: a telephone
	// /s/ keeps only its bottom edge, while the model expects most of its energy above 4 kHz.
	FricativeGain float64
	// GrammarBeams are pocketsphinx beam arguments for grammar searches: with small grammars
	// wide beams cost little and keep the right path alive through mismatched narrowband audio.
	GrammarBeams []string
	// RescanPasses is how many more times a grammar utterance is decoded, each pass starting
	// from the cepstral mean the previous one ended on (0 disables it; see stream.go rescan).
	RescanPasses int
	DigitWIP     float64  // -wip for grammars made only of digit words (fewer inserted "oh")
	WIP          float64  // -wip for other grammars and dictation
	Args         []string // further pocketsphinx arguments, "-name value" pairs
	// MLLR is a transform of the model's means for the telephone channel (pocketsphinx -mllr),
	// estimated by Adapt ("pocketsphinx adapt"); empty: the model as shipped.
	MLLR string
	// Means replaces the model's Gaussian means (pocketsphinx -mean) with those AdaptMAP
	// ("pocketsphinx adapt -map") estimated: the transform and a MAP re-estimate on top of it. The
	// engine treats it as adapted, like MLLR; set one or the other.
	Means string
	// DigitMeans replaces Means in decoders of grammars made only of digit words: the means of a
	// second MAP pass on the adaptation set's digit strings ("pocketsphinx adapt -digit-means"),
	// which hear digits better and yes/no answers worse than Means. Needs Means.
	DigitMeans string
	// MixtureWeights replaces the model's mixture weights (pocketsphinx -sendump) with those
	// AdaptMAP re-estimated in the same pass as Means (MAPFiles.MixtureWeights). Needs Means.
	MixtureWeights string
	// ConfidenceScale and ConfidenceOffset map the per-frame acoustic score gap between the
	// grammar and the phone loop to a 0..1 confidence (a logistic curve).
	// DigitConfidenceOffset replaces ConfidenceOffset for grammars made only of digit words: a
	// right digit string stays much further below the phone loop (tuning set: gap -18..-2 per
	// frame, wrong strings -22..-16) than a right word of a menu (-4..10; out of grammar -18..-6).
	// Zero offsets take the calibration of the model in use (plain, or with the MLLR transform:
	// calibratedOffsets).
	// DictationConfidenceOffset is the offset for dictation: a transcript is rarely wrong as a
	// whole, and its gap does not tell a right one from a poor one (tuning set with the transform:
	// exact transcripts -16.7..-5.1 per frame, half-wrong ones -16.2..-4.9; without it -27.6..22),
	// so 0.5 sits below almost all of them (at -26) and only audio no sentence fits falls under it.
	// DigitPosteriorWeight weighs the least word posterior of a digit string (natural log, from
	// the search's lattice: results.go, "Word posteriors") in the digit curve; 0 leaves it out.
	// Calibrated with the MAP means only: unset, it is 0.54 with them and 0 otherwise.
	// CoverageWeight weighs the log of the share of the speech a word grammar's answer spans
	// (coverage.go) in the words' curve; 0 leaves it out. Calibrated with the MAP means only:
	// unset, it is calibratedCoverage's with them and 0 otherwise.
	ConfidenceScale           float64
	ConfidenceOffset          float64
	DigitConfidenceOffset     float64
	DigitPosteriorWeight      float64
	digitPosteriorSet         bool
	CoverageWeight            float64
	coverageSet               bool
	DictationConfidenceOffset float64
	Logger                    *slog.Logger
}

// DefaultConfig returns the settings measured on the speechset accuracy set.
func DefaultConfig() Config {
	return Config{
		AcousticModel:    DefaultAcousticModel,
		Dictionary:       DefaultDictionary,
		LanguageModel:    DefaultLanguageModel,
		PhoneLoop:        true,
		PoolSize:         max(4, 4*runtime.NumCPU()),
		IdleDecoders:     max(2, runtime.NumCPU()),
		CMNInit:          DefaultCMNInit,
		LowerF:           130,
		UpperF:           6800,
		RemoveNoise:      false,
		NoiseSuppression: 20,
		BandExtension:    0.3,
		FricativeGain:    30,
		GrammarBeams:     []string{"-beam", "1e-80", "-pbeam", "1e-80", "-wbeam", "1e-60"},
		RescanPasses:     4,
		DigitWIP:         1e-3,
		WIP:              0.65,
		ConfidenceScale:  0.3,
	}
}

// FromSettings overlays the plugin's settings (config file "settings:" keys) on DefaultConfig.
func FromSettings(s map[string]string) (Config, error) {
	c := DefaultConfig()
	for k, v := range s {
		var err error
		switch k {
		case "acoustic_model":
			c.AcousticModel = v
		case "dictionary":
			c.Dictionary = v
		case "language_model":
			c.LanguageModel = v
		case "phone_loop":
			c.PhoneLoop, err = strconv.ParseBool(v)
		case "pool_size":
			c.PoolSize, err = strconv.Atoi(v)
		case "idle_decoders":
			c.IdleDecoders, err = strconv.Atoi(v)
		case "cmninit":
			c.CMNInit = v
		case "lowerf":
			c.LowerF, err = strconv.ParseFloat(v, 64)
		case "upperf":
			c.UpperF, err = strconv.ParseFloat(v, 64)
		case "rescan_passes":
			c.RescanPasses, err = strconv.Atoi(v)
		case "fricative_gain":
			c.FricativeGain, err = strconv.ParseFloat(v, 64)
		case "band_extension":
			c.BandExtension, err = strconv.ParseFloat(v, 64)
		case "grammar_beams":
			c.GrammarBeams = strings.Fields(v)
		case "noise_suppression":
			c.NoiseSuppression, err = strconv.ParseFloat(v, 64)
		case "accent_variants":
			var on bool
			on, err = strconv.ParseBool(v)
			c.PlainDictionary = !on
		case "remove_noise":
			c.RemoveNoise, err = strconv.ParseBool(v)
		case "digit_wip":
			c.DigitWIP, err = strconv.ParseFloat(v, 64)
		case "wip":
			c.WIP, err = strconv.ParseFloat(v, 64)
		case "confidence_scale":
			c.ConfidenceScale, err = strconv.ParseFloat(v, 64)
		case "confidence_offset":
			c.ConfidenceOffset, err = strconv.ParseFloat(v, 64)
		case "digit_confidence_offset":
			c.DigitConfidenceOffset, err = strconv.ParseFloat(v, 64)
		case "digit_posterior_weight":
			c.DigitPosteriorWeight, err = strconv.ParseFloat(v, 64)
			c.digitPosteriorSet = true
		case "coverage_weight":
			c.CoverageWeight, err = strconv.ParseFloat(v, 64)
			c.coverageSet = true
		case "dictation_confidence_offset":
			c.DictationConfidenceOffset, err = strconv.ParseFloat(v, 64)
		case "args":
			c.Args = strings.Fields(v)
		case "mllr":
			c.MLLR = v // New checks that it exists
		case "means":
			c.Means = v // New checks that it exists
		case "digit_means":
			c.DigitMeans = v
		case "mixture_weights":
			c.MixtureWeights = v
		default:
			return c, fmt.Errorf("pocketsphinx: unknown setting %q", k)
		}
		if err != nil {
			return c, fmt.Errorf("pocketsphinx: setting %s=%q: %w", k, v, err)
		}
	}
	return c, nil
}

func (c *Config) fill() {
	d := DefaultConfig()
	if c.AcousticModel == "" {
		c.AcousticModel = d.AcousticModel
	}
	if c.Dictionary == "" {
		c.Dictionary = d.Dictionary
	}
	if c.LanguageModel == "" {
		c.LanguageModel = d.LanguageModel
	}
	if c.PoolSize <= 0 {
		c.PoolSize = d.PoolSize
	}
	if c.IdleDecoders <= 0 {
		c.IdleDecoders = d.IdleDecoders
	}
	if c.CMNInit == "" {
		c.CMNInit = d.CMNInit
	}
	if c.UpperF == 0 {
		c.UpperF, c.LowerF = d.UpperF, d.LowerF
	}
	if c.GrammarBeams == nil {
		c.GrammarBeams = d.GrammarBeams
	}
	if c.WIP == 0 {
		c.WIP = d.WIP
	}
	if c.ConfidenceScale == 0 {
		c.ConfidenceScale = d.ConfidenceScale
	}
	if !c.coverageSet && c.CoverageWeight == 0 {
		c.CoverageWeight = c.calibratedCoverage()
	}
	off, digitOff, post := c.calibratedOffsets()
	if !c.digitPosteriorSet && c.DigitPosteriorWeight == 0 {
		c.DigitPosteriorWeight = post
	}
	if c.ConfidenceOffset == 0 {
		c.ConfidenceOffset = off
	}
	if c.DigitConfidenceOffset == 0 {
		c.DigitConfidenceOffset = digitOff
	}
	if c.DictationConfidenceOffset == 0 {
		c.DictationConfidenceOffset = dictationOffset
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// args builds the pocketsphinx command line of a decoder from featArgs (featParams as arguments).
// Pocketsphinx 0.8 reads the model's feat.params after the command line, so its -cmn, -cmninit
// and -upperf would win over ours: the model's front-end settings are given on the command line
// with ours in their place, and -featparams points at an empty file so that nothing overrides
// them (and no temporary file is left behind by a plugin that is killed).
func (c *Config) args(kind decoderKind, featArgs []string) []string {
	a := append([]string{
		"-hmm", c.AcousticModel,
		"-featparams", os.DevNull,
	}, featArgs...)
	a = append(a,
		"-samprate", "16000",
		"-remove_noise", yesno(c.RemoveNoise),
		"-wip", fmt.Sprint(c.WIP),
	)
	if kind == dictationDecoder {
		a = append(a, "-dict", c.Dictionary, "-lm", c.LanguageModel)
	}
	if c.MLLR != "" {
		a = append(a, "-mllr", c.MLLR)
	}
	switch {
	case kind == digitDecoder && c.DigitMeans != "":
		a = append(a, "-mean", c.DigitMeans)
	case c.Means != "":
		a = append(a, "-mean", c.Means)
	}
	if c.MixtureWeights != "" {
		a = append(a, "-sendump", c.MixtureWeights)
	}
	return append(a, c.Args...)
}

// featParams is the model's feat.params with our front-end settings in place of its own, as
// "-name value" pairs.
func (c *Config) featParams() ([]string, error) {
	b, err := os.ReadFile(filepath.Join(c.AcousticModel, "feat.params"))
	if err != nil {
		return nil, fmt.Errorf("pocketsphinx: acoustic model: %w", err)
	}
	ours := map[string]string{
		"-cmn": "live", "-cmninit": c.CMNInit,
		"-lowerf": fmt.Sprint(c.LowerF), "-upperf": fmt.Sprint(c.UpperF),
	}
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		k, v, _ := strings.Cut(strings.TrimSpace(line), " ")
		if _, over := ours[k]; over || k == "" {
			continue
		}
		if !strings.HasPrefix(k, "-") {
			return nil, fmt.Errorf("pocketsphinx: acoustic model: feat.params line %q", line)
		}
		out = append(out, k, strings.TrimSpace(v))
	}
	for _, k := range []string{"-cmn", "-cmninit", "-lowerf", "-upperf"} {
		out = append(out, k, ours[k])
	}
	return out, nil
}

// beams parses GrammarBeams ("-beam 1e-80 ...") into search parameters.
func (c *Config) beams() (map[string]float64, error) {
	if len(c.GrammarBeams)%2 != 0 {
		return nil, fmt.Errorf("pocketsphinx: grammar_beams %q: want -name value pairs", c.GrammarBeams)
	}
	m := map[string]float64{}
	for i := 0; i < len(c.GrammarBeams); i += 2 {
		v, err := strconv.ParseFloat(c.GrammarBeams[i+1], 64)
		if err != nil {
			return nil, fmt.Errorf("pocketsphinx: grammar_beams %s: %w", c.GrammarBeams[i], err)
		}
		m[c.GrammarBeams[i]] = v
	}
	return m, nil
}

func (c *Config) cmnVector() ([]float32, error) {
	parts := strings.Split(c.CMNInit, ",")
	v := make([]float32, len(parts))
	for i, p := range parts {
		f, err := strconv.ParseFloat(strings.TrimSpace(p), 32)
		if err != nil {
			return nil, fmt.Errorf("pocketsphinx: cmninit %q: %w", c.CMNInit, err)
		}
		v[i] = float32(f)
	}
	return v, nil
}

// adapted says the model is adapted to the telephone channel (a transform, or means estimated
// with one): the rescan and the confidence calibration differ.
func (c *Config) adapted() bool { return c.MLLR != "" || c.Means != "" }

func yesno(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// calibratedOffsets are the confidence offsets (at ConfidenceScale 0.3) calibrated on tuning sets
// kept apart from the test set (ACCURACY.md, "Confidence"). The transform moves both the grammar
// and the phone loop, so the gap where right answers end moves too: with it, right yes/no and
// menu answers reach down to -6.5 per frame and out-of-grammar speech up to -7.2 (0.5 at -7);
// right digit strings down to -18.7 while out-of-grammar speech stays under -20.7 (0.5 at -19).
// Without it: 0.5 at -5.0 and at -16.3.
//
// With the MAP-adapted means (issue 14, speechset.TuningSet at ulaw and 15 dB SNR, none of the
// held-out set): the grammar fits right answers better than the phone loop does, wrong and
// out-of-grammar ones too, so 0.5 moves up by 3 per frame: out-of-grammar speech against yes/no
// and digits reached 0.70 with the transform's offsets, right yes/no and menu answers never fell
// under 0.83, right digit strings under 0.87 in three of four.
//
// Dictation: dictationOffset, 0.5 at -26 with or without the transform (see
// DictationConfidenceOffset).
//
// With 100 drawn adaptation speakers and the word posterior (speechset.TuningSet, whose drawn
// speakers the adaptation set does not have, ulaw and 15 dB SNR, 80 digit strings): a logistic
// fit on the gap and the least word posterior gives 0.31 per frame, 0.54 per unit of log
// posterior and an offset of 5.9 (the gap alone: 0.37 and 5.5; words 0.31 and 1.0, so their
// curve stays). The digit offset puts 0.5 where the fit says 0.8, as a wrong digit string costs
// more than a repeated question: 26 of 80 right strings pass with 1 wrong (at the fit's 0.5, 37
// with 6 wrong; the gap alone at its 0.8, 23 with 2).
//
// With the digit means (DigitMeans; the whole tuning set at ulaw and 15 dB SNR, 240 digit strings
// of 1-10 digits): the fit at the shared slope of 0.3 per frame gives 0.8 per unit of log
// posterior and an offset of 6.9, and the digit offset puts 0.5 where it says 0.9 (6.9 - ln 9 =
// 4.7): 96 of 240 right strings pass with 3 wrong (1.25%, the bound is 2%), where the
// means with their curve pass 88 with 5 wrong. At the fit's 0.8 (5.5) 115 would pass with 11 wrong.
// A digit grammar decoded with the means (next to another grammar, see Engine.decoderKind) keeps
// the means' curve (meansDigitOffset, meansDigitPosterior).
func (c *Config) calibratedOffsets() (offset, digitOffset, digitPosterior float64) {
	offset = 1.2
	switch {
	case c.CoverageWeight > 0 && c.MixtureWeights != "":
		offset = mixwCoverageOffset
	case c.CoverageWeight > 0:
		offset = coverageOffset
	case c.MixtureWeights != "":
		offset = mixwOffset
	}
	switch {
	case c.Means != "" && c.DigitMeans != "":
		return offset, 4.7, 0.8
	case c.Means != "":
		return offset, meansDigitOffset, meansDigitPosterior
	case c.MLLR != "":
		return 2.1, 5.7, 0
	}
	return 1.5, 4.9, 0
}

const dictationOffset = 7.8

// calibratedCoverage is CoverageWeight unless set: calibrated with the MAP means, and left out
// without them. Fitted (a logistic regression at the shared slope of 0.3 per frame of gap) on
// speechset.TuningSet, every yes/no, menu7 and out-of-grammar item against words at ulaw, band
// and 15 dB SNR (378): at the fit's 0.5, 65.9% of the items are right answers accepted and 3.4%
// wrong answers or out-of-grammar phrases accepted, against 61.6% and 4.8% with the gap alone at
// the offset of before (1.2), and at most 2% wrong: 61.4% against 49.7% for a refitted gap
// alone. Digit grammars leave it out: it moved their fit by one string in 456.
func (c *Config) calibratedCoverage() float64 {
	switch {
	case c.Means != "" && c.MixtureWeights != "":
		return mixwCoverageWeight
	case c.Means != "":
		return meansCoverageWeight
	}
	return 0
}

// The words' curve with coverage: offset at full coverage, weight of its log; with the mixture
// weights fitted the same way on the same items (65.1% and 3.7% at 0.5; at most 2% wrong, 61.1%
// against 59.3% for the gap alone).
const (
	coverageOffset      = 4.1
	meansCoverageWeight = 4.0
	mixwCoverageOffset  = 3.8
	mixwCoverageWeight  = 2.2
)

// mixwOffset is the words' offset with the adapted mixture weights (Config.MixtureWeights;
// speechset.TuningSet at ulaw, band and 15 dB SNR, 120 yes/no answers and 90 out-of-grammar
// phrases against words): the grammar fits right answers better and 0.5 of a fit at the shared
// slope sits at 2.0; at 1.8, as many right answers pass as with the means alone at 1.2 (103),
// and fewer wrong ones (7 yes/no answers and 4 out-of-grammar phrases; 9 and 5 before). The
// digit curve of the means stays: on the same set's 390 digit strings it passes 196 right and
// 7 wrong (50.3%, 1.8%), the means alone 172 and 6, and no refit did better at 2%.
const mixwOffset = 1.8

// The digit curve of the means (see calibratedOffsets).
const (
	meansDigitOffset    = 4.5
	meansDigitPosterior = 0.54
)

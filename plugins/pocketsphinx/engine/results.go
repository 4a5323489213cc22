package engine

import (
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/mrcpd/mrcpd/asr"
)

// candidate is one hypothesis of one search, before confidence.
type candidate struct {
	g      *compiled // nil for dictation
	text   string
	interp string
	score  int32
	segs   []segment
	post   float64 // digit grammars: the least word posterior (natural log), see wordPosterior
}

// results turns the finished utterance into n-best alternatives: hypotheses of every grammar that
// reach the grammar's final state (Interpret accepts them), scored against a phone loop, best first,
// those under the confidence threshold dropped.
func (w *worker) results() ([]asr.Alternative, error) {
	n := max(w.req.NBest, 1)
	cands := w.collect(w.primary(), n)
	if !w.plan.dictation {
		for _, g := range w.plan.grammars[1:] {
			if err := w.decodeBuffered(g); err != nil {
				return nil, err
			}
			cands = append(cands, w.collect(g, n)...)
		}
	}
	if len(cands) == 0 {
		return nil, nil
	}
	sort.SliceStable(cands, func(i, j int) bool { return cands[i].score > cands[j].score })
	phones, err := w.phoneLoop()
	if err != nil {
		return nil, err
	}
	var alts []asr.Alternative
	for _, c := range cands {
		conf := w.confidence(c.g, c.segs, c.post, phones)
		if conf < w.req.ConfidenceThreshold {
			continue
		}
		a := asr.Alternative{Text: c.text, Confidence: conf, Interpretation: c.interp, Mode: "speech", Words: w.words(c.segs, conf)}
		if c.g != nil {
			a.Grammar = c.g.id
		}
		alts = append(alts, a)
		if len(alts) == n {
			break
		}
	}
	return alts, nil
}

// collect reads the best hypothesis and the n-best list of the search that just ended.
func (w *worker) collect(g *compiled, n int) []candidate {
	var out []candidate
	seen := map[string]bool{}
	add := func(text string, score int32, segs []segment) {
		text = strings.Join(strings.Fields(text), " ")
		if text == "" || seen[text] {
			return
		}
		seen[text] = true
		if g == nil {
			segs = unshift(segs)
		}
		c := candidate{g: g, text: text, score: score, segs: segs, post: posteriorFloor}
		if g != nil {
			interp, ok := g.interpret(strings.Fields(text))
			if !ok {
				return // the search stopped short of the grammar's final state
			}
			c.interp = interp
		}
		out = append(out, c)
	}
	h, score := w.d.hyp()
	add(h, score, w.d.segments())
	if len(out) > 0 && g != nil && g.digits && (w.e.cfg.DigitPosteriorWeight > 0 || w.e.cfg.DigitMeans != "") {
		out[0].post = wordPosterior(w.d.wordPosteriors(posteriorScale), out[0].segs)
	}
	if n > 1 {
		for _, hy := range w.d.nbest(n + 1) {
			add(hy.text, hy.score, hy.segs)
		}
	}
	return out
}

// decodeBuffered runs the utterance's audio through another search of the same decoder.
func (w *worker) decodeBuffered(g *compiled) error {
	if err := w.load(g); err != nil {
		return err
	}
	if err := w.d.start(); err != nil {
		return asr.Errorf(asr.ErrInternal, true, "%v", err)
	}
	if err := w.d.process(w.audio, false); err != nil {
		_ = w.d.end()
		return asr.Errorf(asr.ErrInternal, true, "%v", err)
	}
	if err := w.d.end(); err != nil {
		return asr.Errorf(asr.ErrInternal, true, "%v", err)
	}
	return nil
}

// phoneLoop decodes the utterance with a loop of single-phone words and returns its
// segmentation: about the best any phone sequence scores on this audio, the yardstick for the
// grammar's score. It is a grammar search like the others (pocketsphinx 0.8's allphone search with
// the phone language model costs several times real time).
func (w *worker) phoneLoop() ([]segment, error) {
	if !w.e.cfg.PhoneLoop {
		return nil, nil
	}
	if err := w.d.addWords(phoneWords); err != nil {
		return nil, asr.Errorf(asr.ErrInternal, false, "%v", err)
	}
	params := map[string]float64{"-wip": w.e.cfg.WIP, "-beam": 1e-48, "-pbeam": 1e-48, "-wbeam": 7e-29}
	if err := w.d.setJSGF(searchPhones, phoneLoopJSGF, params); err != nil {
		return nil, asr.Errorf(asr.ErrInternal, false, "%v", err)
	}
	if err := w.d.start(); err != nil {
		return nil, asr.Errorf(asr.ErrInternal, true, "%v", err)
	}
	if err := w.d.process(w.audio, false); err != nil {
		_ = w.d.end()
		return nil, asr.Errorf(asr.ErrInternal, true, "%v", err)
	}
	if err := w.d.end(); err != nil {
		return nil, asr.Errorf(asr.ErrInternal, true, "%v", err)
	}
	return w.d.segments(), nil
}

// The en-us model's phones, each as a one-phone word, and the loop over them.
var (
	phoneWords    = makePhoneWords()
	phoneLoopJSGF = makePhoneLoop()
)

const phoneSet = "AA AE AH AO AW AY B CH D DH EH ER EY F G HH IH IY JH K L M N NG OW OY P R S SH T TH UH UW V W Y Z ZH"

func makePhoneWords() map[string][]string {
	m := map[string][]string{}
	for _, p := range strings.Fields(phoneSet) {
		m["ph_"+strings.ToLower(p)] = []string{p}
	}
	return m
}

func makePhoneLoop() string {
	var alts []string
	for _, p := range strings.Fields(phoneSet) {
		alts = append(alts, "ph_"+strings.ToLower(p))
	}
	return "#JSGF V1.0;\ngrammar phones;\npublic <loop> = (" + strings.Join(alts, " | ") + ")+;\n"
}

// gap is the per-frame acoustic score of a hypothesis minus that of the phone loop (<= 0 in
// theory: the phone loop is unconstrained). Right answers stay close to the phone loop; audio
// the grammar cannot cover falls far below it.
func gap(hyp, phones []segment) float64 {
	ha, hf := acoustic(hyp)
	pa, pf := acoustic(phones)
	if hf == 0 || pf == 0 {
		return math.Inf(-1)
	}
	return float64(ha)/float64(hf) - float64(pa)/float64(pf)
}

// senscrShift is pocketsphinx's SENSCR_SHIFT: its n-gram search reports a segment's acoustic
// score shifted left by it, the grammar searches (and so the phone loop) do not. Unshifted, a
// dictation transcript scored -9113600 over 236 frames against the phone loop's -7161 over 256.
const senscrShift = 10

// unshift returns dictation segments on the grammar searches' score scale.
func unshift(segs []segment) []segment {
	out := make([]segment, len(segs))
	for i, s := range segs {
		s.ascr >>= senscrShift
		out[i] = s
	}
	return out
}

func acoustic(segs []segment) (ascr int64, frames int) {
	for _, s := range segs {
		ascr += int64(s.ascr)
		frames += s.ef - s.sf + 1
	}
	return ascr, frames
}

// confidence maps the score gap to 0..1 with a logistic curve calibrated on a tuning set apart
// from the test set (speechset.GenerateText: other voices and digit strings), so that 0.5 -- MRCP's
// default Confidence-Threshold -- falls between right and wrong or out-of-grammar answers; digit
// grammars have their own offset (see Config.DigitConfidenceOffset).
func (w *worker) confidence(g *compiled, hyp []segment, post float64, phones []segment) float64 {
	if phones == nil {
		return 1
	}
	diff := gap(hyp, phones)
	if math.IsInf(diff, -1) {
		return 0
	}
	off := w.e.cfg.ConfidenceOffset
	switch {
	case g == nil:
		off = w.e.cfg.DictationConfidenceOffset
	case !g.digits:
		off += w.e.cfg.CoverageWeight * math.Log(coverage(hyp, phones))
	case g.digits && w.d.kind != digitDecoder && w.e.cfg.DigitMeans != "":
		// A digit grammar next to another one, decoded with the means: their own curve.
		off = meansDigitOffset + meansDigitPosterior*post
	case g.digits:
		off = w.e.cfg.DigitConfidenceOffset + w.e.cfg.DigitPosteriorWeight*post
	}
	if g != nil && w.fe.denoised() {
		off += denoisedShift(g.digits)
	}
	return 1 / (1 + math.Exp(-(w.e.cfg.ConfidenceScale*diff + off)))
}

// denoisedShift moves the curve for audio the noise suppressor changed. The curves were fitted
// on audio without it; denoised, a right yes/no answer scores a little lower and a digit string,
// right or wrong, higher. Read off speechset.TuningSet at 15 dB SNR, where every item is denoised
// (noise_suppression 20), with the test set's rule: as many right answers as can be had without
// more wrong ones than the unshifted curve without suppression lets through. Words: at +0.3, 41
// right yes/no answers of 47 items, 3 wrong, no out-of-grammar phrase of 36 (without
// suppression: 41, 4, none; the first phrase comes in at +0.4). Digits: at -0.7, 28 right strings
// of 141 items, 2 wrong (without: 25 and 2; unshifted: 41 and 10).
func denoisedShift(digits bool) float64 {
	if digits {
		return -0.7
	}
	return 0.3
}

// Word posteriors (issue 14). The gap to the phone loop says how well the grammar's words fit the
// audio as a whole; it does not say whether another digit string fitted almost as well, which is
// what a wrong digit string looks like (six or three, nine or five). The search's word lattice
// does: the posterior of a word on the best path is the share of all paths through the lattice
// that pass through it at that place. The least posterior of the string's words joins the gap in
// the digit curve (Config.DigitPosteriorWeight).
const (
	// posteriorScale scales acoustic scores in the lattice's posteriors (pocketsphinx's ascale):
	// at the default 1/20 almost every word of a grammar search has a posterior of 1.
	posteriorScale = 1.0 / 40
	// posteriorFloor is the posterior taken when there is none to read: no lattice, a lattice
	// whose best path is another string than the search's (both seen on noisy audio), or an
	// n-best entry other than the best.
	posteriorFloor = -3.0
)

// wordPosterior is the least posterior (natural log) of the words of lat, a lattice's best path,
// if its words are hyp's; posteriorFloor otherwise.
func wordPosterior(lat, hyp []segment) float64 {
	var lw, hw []string
	least := 0.0
	for _, s := range lat {
		if !isFiller(s.word) {
			lw = append(lw, baseWord(s.word))
			least = min(least, float64(s.post)*math.Log(1.0001))
		}
	}
	for _, s := range hyp {
		if !isFiller(s.word) {
			hw = append(hw, baseWord(s.word))
		}
	}
	if len(lw) == 0 || !slices.Equal(lw, hw) {
		return posteriorFloor
	}
	return max(least, posteriorFloor)
}

// words lists the spoken words (fillers and silences dropped). Frame times count speech frames
// only (the engine drops silence), so they are offset by where the detector heard speech start.
func (w *worker) words(segs []segment, conf float64) []asr.Word {
	var out []asr.Word
	base := 0
	if len(segs) > 0 {
		base = segs[0].sf // frame numbers can run on from earlier utterances of this decoder
	}
	for _, s := range segs {
		if isFiller(s.word) {
			continue
		}
		out = append(out, asr.Word{
			Text:       baseWord(s.word),
			Start:      w.speechAt + time.Duration(s.sf-base)*frameDur,
			End:        w.speechAt + time.Duration(s.ef+1-base)*frameDur,
			Confidence: conf,
		})
	}
	return out
}

func isFiller(w string) bool {
	return w == "<s>" || w == "</s>" || w == "<sil>" || strings.HasPrefix(w, "[") || strings.HasPrefix(w, "+")
}

// baseWord strips the alternate-pronunciation suffix: "one(2)" is "one".
func baseWord(w string) string {
	if i := strings.IndexByte(w, '('); i > 0 {
		return w[:i]
	}
	return w
}

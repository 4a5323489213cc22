package engine

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
)

// Channel adaptation: an MLLR transform of the 16 kHz model's means, estimated on narrowband
// speech that went through this engine's own front end (upsampling, band extension, features).
// The model never heard speech with an empty 4-8 kHz band; folding fills the band but leaves the
// cepstra some way from anything it was trained on, and no fixed cepstral mean moves them back.
// A linear transform of the Gaussians' means is the textbook remedy for a channel the model was
// not trained on, and pocketsphinx applies one at load time (-mllr).
//
// Estimating it needs per-frame state posteriors: sphinxtrain's bw (Debian package sphinxtrain)
// collects them and its mllr_solve solves for the transform. Their inputs are made here: the
// features (written as .mfc by the decoder's own front end, so they match what a search sees
// exactly), a text model definition, and the mixture weights, which Debian's model ships only
// quantised in pocketsphinx's sendump.

// AdaptUtterance is one recording of adaptation speech and what was said.
type AdaptUtterance struct {
	Text string  // the words, lower case, space separated; every word must be in the dictionary
	PCM  []int16 // 16 kHz; telephone audio upsampled as the host does
}

// SphinxTrainDir is where Debian's sphinxtrain package installs bw and mllr_solve.
const SphinxTrainDir = "/usr/lib/sphinxtrain"

// ErrNoSphinxTrain reports that bw, mllr_solve, mllr_transform or map_adapt is missing.
var ErrNoSphinxTrain = errors.New("pocketsphinx: sphinxtrain's bw, mllr_solve, mllr_transform or map_adapt not found (Debian package sphinxtrain)")

// Adapt estimates a global MLLR transform from utts and writes it to out (the file the `mllr`
// setting takes). work is a scratch directory. The engine's own transform, if any, is not used
// while estimating: the transform adapts the model as shipped.
func (e *Engine) Adapt(ctx context.Context, work, out string, utts []AdaptUtterance) error {
	a, err := e.prepareAdapt(ctx, work, utts)
	if err != nil {
		return err
	}
	return a.mllr(ctx, out)
}

// AdaptMAP estimates the MLLR transform as Adapt does (into out.MLLR), then a maximum a
// posteriori re-estimate of the transformed means on the same speech (into out.Means, the file
// the `means` setting takes; the transform is in it, so `mllr` is not set with it). A global
// transform moves every Gaussian the same way, which is all a few minutes of speech support for
// a whole channel; MAP moves each Gaussian by what the speech says of it, weighed against the
// model's own mean (sphinxtrain's map_adapt, Bayesian update): the phones of digits, which the
// adaptation set says hundreds of times, go where narrowband speech puts them. With
// out.MixtureWeights the same pass re-estimates the senones' mixture weights (MAPFiles).
//
// With out.DigitMeans, a second MAP pass follows for digit grammars (the `digit_means` setting):
// the state posteriors collected again under the first pass's means, on the utterances made only
// of digit words, and those means taken as the prior. It moves the digits' phones further than one
// pass can (tuning set, digit strings whose top answer is right: 61% -> 68% of 240), but a second
// pass cost yes/no answers (held-out 98% -> 90%, measured with a pass on every utterance): hence a
// file of its own, loaded by digit decoders only. A pass on every utterance measured the same on the
// digits (68%) and costs more.
func (e *Engine) AdaptMAP(ctx context.Context, work string, out MAPFiles, utts []AdaptUtterance) error {
	a, err := e.prepareAdapt(ctx, work, utts)
	if err != nil {
		return err
	}
	if err := a.mllr(ctx, out.MLLR); err != nil {
		return err
	}
	prior := filepath.Join(work, "means.mllr")
	if err := run(ctx, work, filepath.Join(SphinxTrainDir, "mllr_transform"), "-inmeanfn", filepath.Join(a.hmm, "means"),
		"-outmeanfn", prior, "-mllrmat", out.MLLR); err != nil {
		return err
	}
	if err := a.mapPass(ctx, "map", adaptAll, prior, out.Means, out.MixtureWeights); err != nil || out.DigitMeans == "" {
		return err
	}
	set := adaptDigits
	if a.digits == 0 {
		set = adaptAll // recordings without a digit string: a second pass on all of them
	}
	return a.mapPass(ctx, "map-digits", set, out.Means, out.DigitMeans, "")
}

// MAPFiles names what AdaptMAP writes: the transform, the means and, when not empty, the
// mixture weights and the digit means.
type MAPFiles struct {
	MLLR, Means string
	// MixtureWeights: the senones' mixture weights re-estimated in the same MAP pass as the means,
	// in the model's sendump format (the mixture_weights setting). The model is phonetically
	// tied: its means are 42 codebooks, one a phone, shared by every context of the phone, and
	// what tells a phone's contexts apart -- and one accent's vowel from another's -- is each
	// senone's weights over its codebook (5,126 senones x 3 streams x 128). Moving the codebooks
	// alone moves every context of a phone the same way.
	MixtureWeights string
	// DigitMeans: a second MAP pass on the digit strings (see AdaptMAP).
	DigitMeans string
}

// mapPass collects the state posteriors of the utterances set lists under the means prior (into
// the scratch directory acc) and writes their MAP re-estimate, prior as the prior, to out; with
// mixwOut, the mixture weights' too, which later passes then start from.
func (a *adaptation) mapPass(ctx context.Context, acc, set, prior, out, mixwOut string) error {
	acc = filepath.Join(a.work, acc)
	if err := os.MkdirAll(acc, 0o755); err != nil {
		return err
	}
	if err := a.bw(ctx, acc, set, "-meanfn", prior); err != nil {
		return err
	}
	args := []string{"-moddeffn", a.mdef, "-ts2cbfn", ".ptm.",
		"-meanfn", prior, "-varfn", filepath.Join(a.hmm, "variances"), "-mixwfn", a.mixw,
		"-tmatfn", filepath.Join(a.hmm, "transition_matrices"), "-accumdir", acc, "-mapmeanfn", out}
	// Not the variances: re-estimated too, they narrowed to the clean adaptation speech, and the
	// tuning set's digit strings at 15 dB SNR fell from 55 to 31 of 120 right.
	mixw := acc + ".mixture_weights"
	if mixwOut != "" {
		args = append(args, "-mapmixwfn", mixw)
	}
	if err := run(ctx, a.work, filepath.Join(SphinxTrainDir, "map_adapt"), args...); err != nil || mixwOut == "" {
		return err
	}
	a.mixw = mixw
	return mixwToSendump(filepath.Join(a.hmm, "sendump"), mixw, mixwOut)
}

// The utterance lists bw reads (control and transcription files "NAME.fileids" and
// "NAME.transcription" in the scratch directory): every utterance, or those of digit words only.
const (
	adaptAll    = "adapt"
	adaptDigits = "adapt-digits"
)

// adaptation is the prepared input of bw: features, transcripts, text model definition and
// mixture weights in work.
type adaptation struct {
	work, hmm, mdef, mixw, svspec string
	digits                        int // utterances made only of digit words
}

func (e *Engine) prepareAdapt(ctx context.Context, work string, utts []AdaptUtterance) (*adaptation, error) {
	for _, p := range []string{"bw", "mllr_solve", "mllr_transform", "map_adapt"} {
		if _, err := os.Stat(filepath.Join(SphinxTrainDir, p)); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrNoSphinxTrain, err)
		}
	}
	if len(utts) == 0 {
		return nil, errors.New("pocketsphinx: adapt: no utterances")
	}
	if err := os.MkdirAll(filepath.Join(work, "mfc"), 0o755); err != nil {
		return nil, err
	}
	digits, err := e.writeAdaptData(ctx, work, utts)
	if err != nil {
		return nil, err
	}
	a := &adaptation{work: work, hmm: e.cfg.AcousticModel, mdef: filepath.Join(work, "mdef.txt"),
		mixw: filepath.Join(work, "mixture_weights"), svspec: "0-12/13-25/26-38", digits: digits}
	if err := run(ctx, work, "pocketsphinx_mdef_convert", "-text", filepath.Join(a.hmm, "mdef"), a.mdef); err != nil {
		return nil, err
	}
	if err := sendumpToMixw(filepath.Join(a.hmm, "sendump"), a.mixw); err != nil {
		return nil, err
	}
	fp, err := e.cfg.featParams()
	if err != nil {
		return nil, err
	}
	for i := 0; i+1 < len(fp); i += 2 {
		if fp[i] == "-svspec" {
			a.svspec = fp[i+1]
		}
	}
	return a, nil
}

// bw collects the state posteriors of the utterances set lists (adaptAll, adaptDigits) into acc;
// extra are further bw arguments (another means file).
func (a *adaptation) bw(ctx context.Context, acc, set string, extra ...string) error {
	return run(ctx, a.work, filepath.Join(SphinxTrainDir, "bw"), append([]string{
		"-hmmdir", a.hmm, "-moddeffn", a.mdef, "-mixwfn", a.mixw, "-ts2cbfn", ".ptm.",
		"-feat", "1s_c_d_dd", "-svspec", a.svspec, "-cmn", "current", "-agc", "none",
		"-dictfn", filepath.Join(a.work, "adapt.dict"), "-fdictfn", filepath.Join(a.hmm, "noisedict"),
		"-ctlfn", filepath.Join(a.work, set+".fileids"), "-lsnfn", filepath.Join(a.work, set+".transcription"),
		"-cepdir", filepath.Join(a.work, "mfc"), "-cepext", "mfc", "-accumdir", acc}, extra...)...)
}

// mllr estimates the global transform into out.
func (a *adaptation) mllr(ctx context.Context, out string) error {
	if err := a.bw(ctx, a.work, adaptAll); err != nil {
		return err
	}
	return run(ctx, a.work, filepath.Join(SphinxTrainDir, "mllr_solve"), "-meanfn", filepath.Join(a.hmm, "means"),
		"-varfn", filepath.Join(a.hmm, "variances"), "-outmllrfn", out, "-accumdir", a.work)
}

// writeAdaptData writes the features, the control and transcription files and a dictionary of
// the words used; it returns how many utterances are made only of digit words.
func (e *Engine) writeAdaptData(ctx context.Context, work string, utts []AdaptUtterance) (int, error) {
	d, err := e.pool.get(ctx, grammarDecoder, "")
	if err != nil {
		return 0, err
	}
	defer e.pool.put(d, true)
	var ids, trans, digitIDs, digitTrans bytes.Buffer
	var words []string
	digits := 0
	for i, u := range utts {
		ws := strings.Fields(strings.ToLower(u.Text))
		if len(ws) == 0 {
			return 0, fmt.Errorf("pocketsphinx: adapt: utterance %d has no words", i)
		}
		pcm, err := e.frontEndAudio(u.PCM)
		if err != nil {
			return 0, err
		}
		cep, err := d.cepstra(pcm)
		if err != nil {
			return 0, err
		}
		if len(cep) < 10 {
			continue // nothing the front end kept as speech
		}
		id := fmt.Sprintf("u%04d", i)
		if err := writeMFC(filepath.Join(work, "mfc", id+".mfc"), cep); err != nil {
			return 0, err
		}
		fmt.Fprintln(&ids, id)
		fmt.Fprintf(&trans, "<s> %s </s> (%s)\n", strings.Join(ws, " "), id)
		if onlyDigits(ws) {
			digits++
			fmt.Fprintln(&digitIDs, id)
			fmt.Fprintf(&digitTrans, "<s> %s </s> (%s)\n", strings.Join(ws, " "), id)
		}
		words = append(words, ws...)
	}
	prons, missing := e.lex.lookup(words)
	if len(missing) > 0 {
		return 0, fmt.Errorf("pocketsphinx: adapt: words not in the dictionary: %s", strings.Join(missing, ", "))
	}
	var dict bytes.Buffer
	for _, w := range slices.Sorted(maps.Keys(prons)) {
		ps := prons[w]
		for i, p := range ps {
			name := w
			if i > 0 {
				name = fmt.Sprintf("%s(%d)", w, i+1)
			}
			fmt.Fprintf(&dict, "%s %s\n", name, p)
		}
	}
	files := map[string][]byte{adaptAll + ".fileids": ids.Bytes(), adaptAll + ".transcription": trans.Bytes(),
		adaptDigits + ".fileids": digitIDs.Bytes(), adaptDigits + ".transcription": digitTrans.Bytes(), "adapt.dict": dict.Bytes()}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(work, name), b, 0o644); err != nil {
			return 0, err
		}
	}
	return digits, nil
}

// writeMFC writes cepstra in Sphinx's feature file format: the number of floats, then the floats
// (little-endian; readers detect the byte order from the count).
func writeMFC(path string, cep [][]float32) error {
	n := 0
	for _, f := range cep {
		n += len(f)
	}
	b := make([]byte, 4+4*n)
	binary.LittleEndian.PutUint32(b, uint32(n))
	o := 4
	for _, f := range cep {
		for _, v := range f {
			binary.LittleEndian.PutUint32(b[o:], math.Float32bits(v))
			o += 4
		}
	}
	return os.WriteFile(path, b, 0o644)
}

func run(ctx context.Context, dir, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	outb, err := cmd.CombinedOutput()
	if err != nil {
		tail := outb
		if len(tail) > 2000 {
			tail = tail[len(tail)-2000:]
		}
		return fmt.Errorf("pocketsphinx: adapt: %s: %w\n%s", filepath.Base(name), err, tail)
	}
	return nil
}

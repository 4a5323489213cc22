// Package speechset generates a spoken test set at test time: phrases synthesised with several
// espeak-ng and flite voices, then degraded the way a telephone call degrades them (band-limited
// to 300-3400 Hz, 8 kHz, G.711 mu-law round trip).
//
// It is shared by the PocketSphinx accuracy test and end-to-end tests that send the same audio
// through mrcpd as G.711 RTP, so that both measure the same thing.
package speechset

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
)

// Rate is the sample rate of the generated audio: narrowband telephone speech.
const Rate = 8000

// ErrNoSynth reports that neither espeak-ng nor flite is installed.
var ErrNoSynth = errors.New("speechset: no synthesizer (espeak-ng or flite) installed")

// Set names.
const (
	Digits    = "digits"    // four-digit strings, builtin:grammar/digits or a 4-digit SRGS grammar
	Boolean   = "boolean"   // yes / no, builtin:grammar/boolean
	Menu      = "menu"      // departments of the fixture grammar (07-DEFINE-GRAMMAR-file-srgs-sisr)
	Dictation = "dictation" // short sentences for the en-us language model
)

// Voice is one synthesizer voice at one speaking rate.
type Voice struct {
	Synth string // "espeak-ng" or "flite"
	Name  string // espeak-ng -v value or flite -voice value
	Speed int    // espeak-ng words per minute; 0 for the default (flite ignores it)
	Pitch int    // espeak-ng pitch, 0-99; 0 for the default (50)
}

func (v Voice) String() string {
	s := v.Speaker()
	if v.Speed > 0 {
		s += fmt.Sprintf("@%d", v.Speed)
	}
	if v.Pitch > 0 {
		s += fmt.Sprintf("^%d", v.Pitch)
	}
	return s
}

// Speaker names the voice whatever its rate and pitch: the unit the held-out set is kept apart
// from the tuning set by (a voice at another speed is still a voice tuning has heard).
func (v Voice) Speaker() string { return v.Synth + ":" + v.Name }

// Voices is the default voice list: male, female and British voices from both engines, two rates.
var Voices = []Voice{
	{Synth: "espeak-ng", Name: "en-us", Speed: 150},
	{Synth: "espeak-ng", Name: "en-us+m3", Speed: 170},
	{Synth: "espeak-ng", Name: "en-gb", Speed: 140},
	{Synth: "espeak-ng", Name: "en-us+f2", Speed: 160},
	{Synth: "flite", Name: "slt"},
	{Synth: "flite", Name: "kal"},
	{Synth: "flite", Name: "awb"},
	{Synth: "flite", Name: "rms"},
}

// Utterance is one generated recording.
type Utterance struct {
	Set   string
	Text  string // the words spoken, lower case, space separated: the expected transcript
	Voice Voice
	Path  string  // 8 kHz 16-bit mono WAV after the telephone channel
	PCM   []int16 // the same samples
}

// Phrases returns the phrases of a set; n bounds random sets (digits).
func Phrases(set string, n int) []string {
	switch set {
	case Digits:
		r := rand.New(rand.NewSource(4)) // fixed: the set must be the same on every run
		out := make([]string, n)
		for i := range out {
			out[i] = randomWords(r, digitNames[:10], 4)
		}
		return out
	case Boolean:
		return []string{"yes", "no"}
	case Menu:
		return []string{"billing", "sales", "technical support", "support", "operator"}
	case Dictation:
		return []string{
			"i would like to check my account balance",
			"please transfer me to customer service",
			"what time does the store open tomorrow",
			"i want to cancel my order",
			"can you tell me the weather today",
			"my phone number has changed",
		}
	}
	return nil
}

// Options selects what Generate produces.
type Options struct {
	Sets   []string // default: all four
	Voices []Voice  // default: Voices (those whose synthesizer is installed)
	// PerSet bounds the utterances of each set; phrases and voices are paired round-robin so that
	// every voice speaks every set. 0 means phrases x voices.
	PerSet int
	// Pad is leading and trailing silence in milliseconds (default 300).
	Pad int
}

// Generate synthesises the set into dir. Missing synthesizers are skipped; ErrNoSynth when none is left.
func Generate(ctx context.Context, dir string, opt Options) ([]Utterance, error) {
	if len(opt.Sets) == 0 {
		opt.Sets = []string{Digits, Boolean, Menu, Dictation}
	}
	if opt.Voices == nil {
		opt.Voices = Voices
	}
	if opt.Pad == 0 {
		opt.Pad = 300
	}
	voices := installed(opt.Voices)
	if len(voices) == 0 {
		return nil, ErrNoSynth
	}
	if _, err := exec.LookPath("sox"); err != nil {
		return nil, fmt.Errorf("speechset: sox: %w", err)
	}
	var out []Utterance
	for _, set := range opt.Sets {
		n := opt.PerSet
		if n == 0 {
			n = len(voices) * max(len(Phrases(set, len(voices))), 1)
		}
		phrases := Phrases(set, n)
		for i := 0; i < n; i++ {
			u := Utterance{Set: set, Text: phrases[i%len(phrases)], Voice: voices[i%len(voices)]}
			u.Path = filepath.Join(dir, fmt.Sprintf("%s-%03d.wav", set, i))
			pcm, err := render(ctx, u.Text, u.Voice, u.Path, opt.Pad)
			if err != nil {
				return nil, err
			}
			u.PCM = pcm
			out = append(out, u)
		}
	}
	return out, nil
}

func installed(vs []Voice) []Voice {
	var out []Voice
	have := map[string]bool{}
	for _, v := range vs {
		ok, seen := have[v.Synth]
		if !seen {
			_, err := exec.LookPath(v.Synth)
			ok = err == nil
			have[v.Synth] = ok
		}
		if ok {
			out = append(out, v)
		}
	}
	return out
}

// render synthesises text, passes it through the telephone channel and writes the WAV to path.
func render(ctx context.Context, text string, v Voice, path string, padMS int) ([]int16, error) {
	raw := path + ".synth.wav"
	defer os.Remove(raw)
	if err := synthesize(ctx, text, v, raw); err != nil {
		return nil, err
	}
	pcm, err := narrowband(ctx, raw, true, padMS)
	if err != nil {
		return nil, err
	}
	// G.711 mu-law round trip: the quantisation noise a PCMU call adds.
	pcm = g711Decode(Ulaw, g711Encode(Ulaw, pcm))
	if err := os.WriteFile(path, WAV(pcm, Rate), 0o644); err != nil {
		return nil, err
	}
	return pcm, nil
}

// synthesize writes v speaking text to the WAV file raw, at the synthesizer's own rate.
func synthesize(ctx context.Context, text string, v Voice, raw string) error {
	var cmd *exec.Cmd
	switch v.Synth {
	case "espeak-ng":
		args := []string{"-v", v.Name, "-w", raw}
		if va := randomVariantOf(v); va != "" {
			path, err := espeakPath(filepath.Dir(raw), va)
			if err != nil {
				return err
			}
			args = append(args, "--path="+path)
		}
		if v.Speed > 0 {
			args = append(args, "-s", fmt.Sprint(v.Speed))
		}
		if v.Pitch > 0 {
			args = append(args, "-p", fmt.Sprint(v.Pitch))
		}
		cmd = exec.CommandContext(ctx, "espeak-ng", append(args, text)...)
	case "flite":
		args := []string{"-voice", v.Name, "-t", text, "-o", raw}
		if v.Speed > 0 { // flite speaks at about 165 words per minute
			args = append(args, "--setf", fmt.Sprintf("duration_stretch=%.2f", 165/float64(v.Speed)))
		}
		cmd = exec.CommandContext(ctx, "flite", args...)
	default:
		return fmt.Errorf("speechset: unknown synthesizer %q", v.Synth)
	}
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("speechset: %s %q: %w: %s", v, text, err, b)
	}
	return nil
}

// narrowband resamples raw to 8 kHz with a little headroom and silence around the phrase; band
// also limits it to the telephone band (300-3400 Hz). -R: sox dithers when it requantises, from a
// fresh random seed each run unless told otherwise, so every run generated slightly different
// audio (and an accuracy that moved by a string).
func narrowband(ctx context.Context, raw string, band bool, padMS int) ([]int16, error) {
	pad := fmt.Sprintf("%.3f", float64(padMS)/1000)
	args := []string{"-R", raw, "-t", "raw", "-e", "signed-integer", "-b", "16", "-L", "-c", "1", "-"}
	if band {
		args = append(args, "sinc", "300-3400")
	}
	args = append(args, "rate", "-v", "8000", "norm", "-3", "pad", pad, pad)
	sox := exec.CommandContext(ctx, "sox", args...)
	var stdout, stderr bytes.Buffer
	sox.Stdout, sox.Stderr = &stdout, &stderr
	if err := sox.Run(); err != nil {
		return nil, fmt.Errorf("speechset: sox %s: %w: %s", raw, err, stderr.Bytes())
	}
	b := stdout.Bytes()
	pcm := make([]int16, len(b)/2)
	for i := range pcm {
		pcm[i] = int16(binary.LittleEndian.Uint16(b[2*i:]))
	}
	return pcm, nil
}

// WAV encodes 16-bit mono PCM as a RIFF WAVE file.
func WAV(pcm []int16, rate int) []byte {
	b := make([]byte, 44+2*len(pcm))
	copy(b, "RIFF")
	binary.LittleEndian.PutUint32(b[4:], uint32(36+2*len(pcm)))
	copy(b[8:], "WAVEfmt ")
	binary.LittleEndian.PutUint32(b[16:], 16)
	binary.LittleEndian.PutUint16(b[20:], 1)
	binary.LittleEndian.PutUint16(b[22:], 1)
	binary.LittleEndian.PutUint32(b[24:], uint32(rate))
	binary.LittleEndian.PutUint32(b[28:], uint32(2*rate))
	binary.LittleEndian.PutUint16(b[32:], 2)
	binary.LittleEndian.PutUint16(b[34:], 16)
	copy(b[36:], "data")
	binary.LittleEndian.PutUint32(b[40:], uint32(2*len(pcm)))
	for i, s := range pcm {
		binary.LittleEndian.PutUint16(b[44+2*i:], uint16(s))
	}
	return b
}

// GenerateText synthesises one phrase with one voice into dir/name.wav (set left empty), for
// tuning sets kept apart from the phrases of Generate.
func GenerateText(ctx context.Context, dir, name, text string, v Voice) (Utterance, error) {
	u := Utterance{Text: text, Voice: v, Path: filepath.Join(dir, name+".wav")}
	pcm, err := render(ctx, text, v, u.Path, 300)
	u.PCM = pcm
	return u, err
}

// AdaptationVoices speak the adaptation set: espeak-ng variants none of which is in Voices, so
// that a transform estimated on them is measured on speakers it never heard. (flite's other
// voices, kal16 and awb_time, are the test's kal and awb again: left out.)
var AdaptationVoices = []Voice{
	{Synth: "espeak-ng", Name: "en-us+m1", Speed: 155}, {Synth: "espeak-ng", Name: "en-us+f3", Speed: 165},
	{Synth: "espeak-ng", Name: "en-gb+m2", Speed: 150}, {Synth: "espeak-ng", Name: "en-us-nyc", Speed: 160},
	{Synth: "espeak-ng", Name: "en-gb-scotland", Speed: 150}, {Synth: "espeak-ng", Name: "en-029", Speed: 150},
	{Synth: "espeak-ng", Name: "en-us+m5", Speed: 145}, {Synth: "espeak-ng", Name: "en-us+f4", Speed: 170},
	{Synth: "espeak-ng", Name: "en-us+m2", Speed: 164}, {Synth: "espeak-ng", Name: "en-us+m4", Speed: 167},
	{Synth: "espeak-ng", Name: "en-us+f1", Speed: 170}, {Synth: "espeak-ng", Name: "en-us+f5", Speed: 173},
	{Synth: "espeak-ng", Name: "en-gb+f3", Speed: 176}, {Synth: "espeak-ng", Name: "en-gb-x-rp", Speed: 179},
	{Synth: "espeak-ng", Name: "en-gb-x-gbclan", Speed: 182}, {Synth: "espeak-ng", Name: "en-us+m7", Speed: 185},
}

// adaptationSentences are other phrases than the test set's, with words of the same kind.
var adaptationSentences = []string{
	"please call me back later", "the meeting starts at noon", "thank you for calling",
	"i need help with my bill", "can i speak to a person", "my card was declined yesterday",
	"yes please", "no thanks", "that is correct", "sales department", "technical help", "an operator please",
}

// GenerateAdaptation synthesises the adaptation set into dir: each of AdaptationVoices speaks
// five digit strings of three to six digits (seeded apart from the test set's) and three
// sentences, each of ExtraAdaptationVoices and opt.Random drawn speakers four digit strings of one
// to ten digits and two sentences, through the same telephone channel as Generate (opt.Channels:
// through lines drawn per utterance).
func GenerateAdaptation(ctx context.Context, dir string, opt AdaptationOptions) ([]Utterance, error) {
	if len(installed(AdaptationVoices)) == 0 {
		return nil, ErrNoSynth
	}
	if opt.Random > maxRandom {
		return nil, fmt.Errorf("speechset: %d drawn adaptation speakers, at most %d", opt.Random, maxRandom)
	}
	pairs := slices.DeleteFunc(adaptationPairs(opt), func(p Pair) bool { return len(installed([]Voice{p.Voice})) == 0 })
	return generatePairs(ctx, dir, "adapt", pairs, opt.Channels)
}

// Pair is one voice speaking one phrase.
type Pair struct {
	Voice Voice
	Text  string
}

// adaptationScript is what each voice says in the adaptation set: five digit strings of three to
// six digits (seeded apart from the test set's) and three sentences.
func adaptationScript(voices []Voice) []Pair { return script(voices, 77, 8, 5, 3, 6) }

// script has each voice say n phrases: digits digit strings of minLen to maxLen digits, then
// sentences, drawn from seed.
func script(voices []Voice, seed int64, n, digits, minLen, maxLen int) []Pair {
	r := rand.New(rand.NewSource(seed))
	var out []Pair
	for _, v := range voices {
		for k := 0; k < n; k++ {
			// Drawn for the sentences too: the set (and so the transform) stays what was measured.
			text := randomWords(r, digitNames, minLen+r.Intn(maxLen-minLen+1))
			if k >= digits {
				text = adaptationSentences[r.Intn(len(adaptationSentences))]
			}
			out = append(out, Pair{Voice: v, Text: text})
		}
	}
	return out
}

// digitNames are the spoken digits, index = value; "oh" is zero too.
var digitNames = []string{"zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "oh"}

// randomWords is n words drawn from words, space separated.
func randomWords(r *rand.Rand, words []string, n int) string {
	d := make([]string, n)
	for j := range d {
		d[j] = words[r.Intn(len(words))]
	}
	return strings.Join(d, " ")
}

// DigitString is the interpretation builtin:grammar/digits gives for spoken digits ("oh" is 0),
// the answer the accuracy tests compare with.
func DigitString(words string) string {
	var b strings.Builder
	for _, w := range strings.Fields(words) {
		if i := slices.Index(digitNames, w); i >= 0 {
			b.WriteByte("01234567890"[i])
		}
	}
	return b.String()
}

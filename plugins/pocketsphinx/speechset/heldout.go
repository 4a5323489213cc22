package speechset

import (
	"context"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
)

// The held-out evaluation set: voices and phrases that nothing was tuned on (the adaptation set,
// the accuracy test set of Generate and the confidence calibration sets), so that its figures say
// how the recognizer does on a caller it has never heard. HeldOut lists it without synthesising;
// TuningPairs lists what tuning used, and the package's test fails if the two share a voice and
// phrase pair.

// Held-out set names besides Digits (four-digit strings), Boolean and Menu (the fixture's
// departments).
const (
	DigitsN = "digits-n" // digit strings of 1-10 digits other than 4, builtin:grammar/digits?length=N
	Menu7   = "menu7"    // Menu7Grammar: seven multi-word entries with SISR tags
	OOG     = "oog"      // out-of-grammar speech, spoken against Item.Against's grammar
)

// Menu7Grammar is an SRGS menu none of whose phrases tuning has heard.
const Menu7Grammar = `<?xml version="1.0" encoding="UTF-8"?>
<grammar xmlns="http://www.w3.org/2001/06/grammar" version="1.0" mode="voice" root="menu"
         xml:lang="en-US" tag-format="semantics/1.0">
  <rule id="menu" scope="public">
    <one-of>
      <item>account balance<tag>out="balance";</tag></item>
      <item>pay my bill<tag>out="payment";</tag></item>
      <item>report a lost card<tag>out="lost";</tag></item>
      <item>speak to an agent<tag>out="agent";</tag></item>
      <item>change my address<tag>out="address";</tag></item>
      <item>opening hours<tag>out="hours";</tag></item>
      <item>main menu<tag>out="main";</tag></item>
    </one-of>
  </rule>
</grammar>
`

var menu7Phrases = []string{"account balance", "pay my bill", "report a lost card", "speak to an agent",
	"change my address", "opening hours", "main menu"}

// Answers of builtin:grammar/boolean the held-out set says; the first two are what tuning said.
var booleanPhrases = map[string]string{"yes": "true", "no": "false", "yeah": "true", "nope": "false",
	"sure": "true", "wrong": "false", "correct": "true", "negative": "false", "okay": "true", "nah": "false",
	"yep": "true", "incorrect": "false"}

var booleanOrder = []string{"yes", "no", "yeah", "nope", "sure", "wrong", "correct", "negative", "okay", "nah", "yep", "incorrect"}

// oogSentences are out-of-grammar phrases no tuning set has.
var oogSentences = []string{"where is the nearest branch", "i forgot my password again", "could you repeat that",
	"hold on a second", "i am calling about my neighbor", "the weather is lovely outside",
	"my daughter will call you tomorrow", "is anybody there"}

// Item is one utterance of the held-out set.
type Item struct {
	Set     string
	Text    string
	Voice   Voice
	Against string // OOG: the set whose grammar it is spoken against
}

// Want is the interpretation a right answer carries: the digits for digit sets, true/false for
// yes/no, the words for menus ("" for out-of-grammar speech: no answer is right).
func (it Item) Want() string {
	switch it.Set {
	case Digits, DigitsN:
		return DigitString(it.Text)
	case Boolean:
		return booleanPhrases[it.Text]
	case OOG:
		return ""
	}
	return it.Text
}

// Grammar is the set whose grammar the item is spoken against (its own; Against for
// out-of-grammar speech) and, for digit strings, the length builtin:grammar/digits asks for (4
// for out-of-grammar speech against digits).
func (it Item) Grammar() (set string, digits int) {
	set = it.Set
	if set == OOG {
		set = it.Against
	}
	if set == Digits || set == DigitsN {
		digits = len(DigitString(it.Text))
		if it.Set == OOG {
			digits = 4
		}
	}
	return set, digits
}

// espeak-ng's English voices and the variants that sound like a person (m1-m8, f1-f5 and the
// Klatt synthesizer's; the novelty ones, whisper, croak, robots, are left out).
var (
	espeakEnglish  = []string{"en-us", "en-gb", "en-gb-scotland", "en-gb-x-gbclan", "en-gb-x-rp", "en-gb-x-gbcwmd", "en-029", "en-us-nyc"}
	espeakVariants = []string{"", "+m1", "+m2", "+m3", "+m4", "+m5", "+m6", "+m7", "+m8",
		"+f1", "+f2", "+f3", "+f4", "+f5", "+klatt", "+klatt2", "+klatt3", "+klatt4"}
	// mbrola voices espeak-ng drives when Debian's mbrola and the voice packages are installed.
	mbrolaVoices = []string{"mb-us1", "mb-us2", "mb-us3", "mb-en1"}
	fliteVoices  = []string{"kal", "awb", "rms", "slt", "kal16", "awb_time"}
)

// CalibrationVoices spoke the sets the confidence curves were calibrated on (ACCURACY.md,
// "Confidence"): yes, no, menu words, digit strings and sentences.
var CalibrationVoices = []Voice{
	{Synth: "espeak-ng", Name: "en-us+m6", Speed: 150}, {Synth: "espeak-ng", Name: "en-us+m8", Speed: 160},
	{Synth: "espeak-ng", Name: "en-gb+f4", Speed: 155}, {Synth: "espeak-ng", Name: "en-us", Speed: 175},
	{Synth: "espeak-ng", Name: "en-us+m1", Speed: 155}, {Synth: "espeak-ng", Name: "en-us+f3", Speed: 165},
	{Synth: "espeak-ng", Name: "en-gb+m2", Speed: 150}, {Synth: "espeak-ng", Name: "en-us+m4", Speed: 145},
	{Synth: "espeak-ng", Name: "en-gb-scotland", Speed: 150},
}

// TuningPairs is every voice and phrase pair tuning used: the adaptation set, the accuracy test set
// (Generate: its figures chose the front end's settings) and the calibration voices, which are
// counted with every phrase of the test set's grammars since the calibration phrases were not kept.
func TuningPairs() []Pair {
	out := adaptationPairs(AdaptationOptions{Random: maxRandom})
	for _, set := range []string{Digits, Boolean, Menu, Dictation} {
		for _, v := range append(slices.Clone(Voices), CalibrationVoices...) {
			for _, p := range Phrases(set, 24) {
				out = append(out, Pair{Voice: v, Text: p})
			}
		}
	}
	for _, v := range CalibrationVoices {
		for _, p := range adaptationSentences {
			out = append(out, Pair{Voice: v, Text: p})
		}
	}
	for _, it := range TuningSet() {
		out = append(out, Pair{Voice: it.Voice, Text: it.Text})
	}
	return out
}

// TuningSet is the held-out set's kinds of phrases spoken by speakers the adaptation set does not
// have (the accuracy test set's espeak-ng voices and tuningRandom drawn speakers of their own),
// for choosing settings and calibrating confidence without looking at the held-out set: the
// means fit the speakers they were estimated on best, so adaptation speakers would flatter them.
// Its digit strings are drawn from a seed of their own; its out-of-grammar phrases are the
// adaptation sentences that answer no menu.
func TuningSet() []Item {
	r := rand.New(rand.NewSource(2718))
	var voices []Voice
	for _, v := range Voices {
		if v.Synth == "espeak-ng" {
			voices = append(voices, v)
		}
	}
	voices = append(voices, RandomVoices("t", tuningRandom)...)
	var out []Item
	for i, v := range append(voices, tuningLikeHeldOut()...) {
		out = append(out,
			Item{Set: Digits, Voice: v, Text: randomWords(r, digitNames, 4)},
			Item{Set: Digits, Voice: v, Text: randomWords(r, digitNames, 4)},
			Item{Set: DigitsN, Voice: v, Text: randomWords(r, digitNames, 1+r.Intn(10))})
		b, menu := booleanOrder[i%len(booleanOrder)], true
		if v.Synth == "flite" {
			// The held-out set's flite voices are these speakers: they keep the phrases no
			// tuning pair has (other yes/no words, the menu), these say what tuning said.
			b, menu = booleanOrder[i%2], false
		}
		out = append(out, Item{Set: Boolean, Voice: v, Text: b})
		if menu {
			out = append(out, Item{Set: Menu7, Voice: v, Text: menu7Phrases[i%len(menu7Phrases)]})
		}
		out = append(out, Item{Set: OOG, Voice: v, Text: adaptationSentences[i%6], Against: []string{Menu7, Boolean, Menu, Digits}[i%4]})
	}
	return out
}

// tuningLikeHeldOut are the tuning speakers made the way the held-out set's are (espeak-ng's
// numbered variants, flite's voices) that the adaptation set does not have: the calibration
// and test voices no adaptation utterance speaks. The drawn tuning speakers come from the same
// generator as the drawn adaptation speakers, and what adaptation learns of that generator carried
// to them and not to the held-out set (the digit means, the mixture weights: ACCURACY.md); these
// say whether a setting helps speakers like the held-out set's without looking at it. Appended
// after the drawn ones, so that the items before them are those of the earlier tuning set.
func tuningLikeHeldOut() []Voice {
	adapted := map[string]bool{}
	for _, v := range AdaptationVoices {
		adapted[v.Speaker()] = true
	}
	seen := map[string]bool{} // TuningSet has Voices' espeak-ng speakers already
	for _, v := range Voices {
		if v.Synth == "espeak-ng" {
			seen[v.Speaker()] = true
		}
	}
	var out []Voice
	for _, v := range slices.Concat(Voices, CalibrationVoices) {
		if adapted[v.Speaker()] || seen[v.Speaker()] {
			continue
		}
		seen[v.Speaker()] = true
		out = append(out, v)
	}
	return out
}

// tuningRandom is how many drawn speakers the tuning set has.
const tuningRandom = 36

// tunedSpeakers are the speakers TuningPairs has.
func tunedSpeakers() map[string]bool {
	m := map[string]bool{}
	for _, v := range slices.Concat(Voices, AdaptationVoices, CalibrationVoices, ExtraAdaptationVoices(), RandomVoices("a", maxRandom), RandomVoices("t", tuningRandom)) {
		m[v.Speaker()] = true
	}
	return m
}

// HeldOutVoices is every espeak-ng English voice and variant tuning never used, flite's six
// voices (four of which tuning heard: they say only phrases tuning did not have) and the mbrola
// voices when installed; each at its own rate (120-200 words per minute, flite by stretching) and
// espeak-ng pitch (30-70), drawn from a fixed seed.
func HeldOutVoices() []Voice {
	r := rand.New(rand.NewSource(14))
	tuned := tunedSpeakers()
	var espeak, flite []Voice
	for _, b := range espeakEnglish {
		for _, va := range espeakVariants {
			v := Voice{Synth: "espeak-ng", Name: b + va, Speed: 120 + r.Intn(81), Pitch: 30 + r.Intn(41)}
			if !tuned[v.Speaker()] {
				espeak = append(espeak, v)
			}
		}
	}
	if mbrolaInstalled() {
		for _, n := range mbrolaVoices {
			espeak = append(espeak, Voice{Synth: "espeak-ng", Name: n, Speed: 120 + r.Intn(81), Pitch: 30 + r.Intn(41)})
		}
	}
	for _, n := range fliteVoices {
		flite = append(flite, Voice{Synth: "flite", Name: n, Speed: 120 + r.Intn(81)})
	}
	r.Shuffle(len(espeak), func(i, j int) { espeak[i], espeak[j] = espeak[j], espeak[i] })
	// flite spread evenly through the list, so that any stride of it has both synthesizers.
	var out []Voice
	step := len(espeak)/len(flite) + 1
	for i, v := range espeak {
		if i%step == 0 && i/step < len(flite) {
			out = append(out, flite[i/step])
		}
		out = append(out, v)
	}
	return out
}

func mbrolaInstalled() bool {
	if _, err := exec.LookPath("mbrola"); err != nil {
		return false
	}
	_, err := os.Stat("/usr/share/mbrola/us1")
	return err == nil
}

// HeldOut lists the held-out set: every held-out voice says a four-digit string, a digit string of
// another length, a yes/no answer, an entry of each menu and, every other voice, an out-of-grammar
// phrase. Voices tuning heard say none of tuning's phrases: no plain yes or no, no department.
func HeldOut() []Item {
	r := rand.New(rand.NewSource(1414))
	tuned := tunedSpeakers()
	var out []Item
	lengths := []int{1, 2, 3, 5, 6, 7, 8, 9, 10}
	for i, v := range HeldOutVoices() {
		heard := tuned[v.Speaker()]
		out = append(out,
			Item{Set: Digits, Voice: v, Text: randomWords(r, digitNames, 4)},
			Item{Set: DigitsN, Voice: v, Text: randomWords(r, digitNames, lengths[i%len(lengths)])},
			Item{Set: Menu7, Voice: v, Text: menu7Phrases[i%len(menu7Phrases)]})
		b := booleanOrder[i%len(booleanOrder)]
		if heard {
			b = booleanOrder[2+i%(len(booleanOrder)-2)]
		}
		out = append(out, Item{Set: Boolean, Voice: v, Text: b})
		if !heard {
			menu := Phrases(Menu, 0)
			out = append(out, Item{Set: Menu, Voice: v, Text: menu[i%len(menu)]})
		}
		if i%2 == 0 {
			against := []string{Menu7, Boolean, Menu, Digits}[(i/2)%4]
			text := oogSentences[(i/2)%len(oogSentences)]
			if against == Digits {
				text = menu7Phrases[(i/2)%len(menu7Phrases)]
			}
			out = append(out, Item{Set: OOG, Voice: v, Text: text, Against: against})
		}
	}
	return out
}

// WithNoise adds to utts a copy of each at each of snrs (pink noise in the telephone band, dB
// under the speech, seeded by the utterance), for adaptation to noisy lines as well as clean ones.
func WithNoise(utts []Utterance, snrs []float64) []Utterance {
	out := slices.Clone(utts)
	for _, snr := range snrs {
		c := Condition{Name: fmt.Sprintf("adapt-snr%g", snr), Band: true, Law: Ulaw, SNR: snr}
		for _, u := range utts {
			payload, _ := c.Apply(Recording{Item: Item{Text: u.Text, Voice: u.Voice}, Band: u.PCM})
			n := u
			n.PCM, n.Path = g711Decode(Ulaw, payload), ""
			out = append(out, n)
		}
	}
	return out
}

// Recording is one held-out item synthesised at 8 kHz before any channel: Wide is the whole
// 0-4 kHz band, Band the telephone band (300-3400 Hz). Condition.Apply makes the call's audio.
type Recording struct {
	Item
	Wide, Band []int16
}

// Record synthesises items, with dir for scratch files (removed).
func Record(ctx context.Context, dir string, items []Item) ([]Recording, error) {
	out := make([]Recording, len(items))
	for i, it := range items {
		if len(installed([]Voice{it.Voice})) == 0 {
			return nil, fmt.Errorf("%w: %s", ErrNoSynth, it.Voice.Synth)
		}
		raw := filepath.Join(dir, fmt.Sprintf("heldout-%04d.wav", i))
		if err := synthesize(ctx, it.Text, it.Voice, raw); err != nil {
			return nil, err
		}
		wide, err := narrowband(ctx, raw, false, 300)
		if err == nil {
			out[i].Band, err = narrowband(ctx, raw, true, 300)
		}
		os.Remove(raw)
		if err != nil {
			return nil, err
		}
		out[i].Item, out[i].Wide = it, wide
	}
	return out, nil
}

// Stratified picks up to n items of each set (and of OOG, of each grammar against), spread evenly
// over the list so that both synthesizers and many voices are in it.
func Stratified(items []Item, n int) []Item {
	groups := map[string][]Item{}
	var keys []string
	for _, it := range items {
		k := it.Set + "/" + it.Against
		if _, ok := groups[k]; !ok {
			keys = append(keys, k)
		}
		groups[k] = append(groups[k], it)
	}
	var out []Item
	for _, k := range keys {
		g := groups[k]
		for j := 0; j < min(n, len(g)); j++ {
			out = append(out, g[j*len(g)/min(n, len(g))])
		}
	}
	return out
}

// SharedPairs is the voice and phrase pairs (by speaker, whatever the rate and pitch) the held-out
// set shares with tuning: none, or its figures flatter.
func SharedPairs() []string {
	tuning := map[string]bool{}
	for _, p := range TuningPairs() {
		tuning[p.Voice.Speaker()+" "+strings.TrimSpace(p.Text)] = true
	}
	var out []string
	for _, it := range HeldOut() {
		if k := it.Voice.Speaker() + " " + it.Text; tuning[k] {
			out = append(out, k)
		}
	}
	return out
}

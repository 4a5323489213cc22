package engine

import (
	"context"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/mrcpd/mrcpd/asr"
	"github.com/mrcpd/mrcpd/plugins/pocketsphinx/speechset"
)

// minAccuracy is the whole-phrase accuracy each grammar set must reach on telephone audio
// (300-3400 Hz, 8 kHz, G.711, upsampled), with the telephone-channel transform estimated on the
// adaptation voices (telephoneAdaptation). Without the transform four-digit strings reach 19-20/24 =
// 79-83%: see ACCURACY.md, "Accuracy". Yes/no is 14/16 with the MAP means estimated with the drawn
// speakers (issue 14: flite slt's "yes" heard as "wrong"; 16/16 before them), while the held-out
// set's yes/no went from 92% to 98% with them: 0.85 for yes/no.
var minAccuracy = map[string]float64{
	speechset.Boolean: 0.85,
	speechset.Menu:    0.90,
	speechset.Digits:  0.90,
}

// minKeptAtHalf is the share of right answers MRCP's default Confidence-Threshold (0.5) must keep,
// and maxOOGKeptAtHalf the share of out-of-grammar speech it may let through (measured with the
// transform: 94% and 0%; before it 92% and 19%; see ACCURACY.md, "Confidence"). With the MAP means,
// the drawn speakers and the digit curve that puts 0.5 where a wrong string is rare: 53 of 60
// (88%; digits 19 of 22), so 0.85.
const (
	minKeptAtHalf          = 0.85
	maxOOGKeptAtHalf       = 0.20
	minDictationKeptAtHalf = 0.75
)

// TestAccuracy runs the generated telephone test set through the engine: whole-phrase accuracy
// per grammar set (fails under minAccuracy), word error rate for dictation, and how confidence
// separates right answers from wrong ones and from out-of-grammar speech (logged).
func TestAccuracy(t *testing.T) {
	if testing.Short() {
		t.Skip("accuracy set skipped in -short mode")
	}
	utts := speech(t)
	e := newTestEngine(t, adaptedConfig(t))
	ctx := context.Background()
	grammars := map[string]asr.Grammar{
		// IDs other than the hand-written test grammars' (withTestGrammars): asr/grammar's builtins.
		speechset.Digits:  {ID: "builtin-digits", URI: "builtin:grammar/digits?length=4", Mode: "voice"},
		speechset.Boolean: {ID: "builtin-boolean", URI: "builtin:grammar/boolean", Mode: "voice"},
		speechset.Menu:    fixtureMenu(t),
	}
	var right, wrong []float64 // confidence of in-grammar results
	rightBySet := map[string][]float64{}
	var audio, cpu time.Duration
	for _, set := range []string{speechset.Boolean, speechset.Menu, speechset.Digits} {
		ok, n := 0, 0
		perVoice := map[string][2]int{}
		for _, u := range utts {
			if u.Set != set {
				continue
			}
			req := asr.RecognizeRequest{NBest: 1, Grammars: []asr.Grammar{grammars[set]}}
			start := time.Now()
			res, err := recognize(ctx, e, req, upsample(u.PCM))
			if err != nil {
				t.Fatal(err)
			}
			cpu += time.Since(start)
			audio += time.Duration(len(u.PCM)) * time.Second / speechset.Rate
			n++
			a, matched := top(res.final)
			good := matched && a.Text == u.Text
			switch set {
			case speechset.Boolean: // yeah/yep/sure... are right answers too
				good = matched && a.Interpretation == map[string]string{"yes": "true", "no": "false"}[u.Text]
			case speechset.Digits: // "oh" for "zero" gives the application the same digits
				good = matched && a.Interpretation == speechset.DigitString(u.Text)
			}
			pv := perVoice[u.Voice.Synth]
			pv[1]++
			if good {
				ok++
				pv[0]++
				right = append(right, a.Confidence)
				rightBySet[set] = append(rightBySet[set], a.Confidence)
			} else {
				if matched {
					wrong = append(wrong, a.Confidence)
				}
				t.Logf("%s %s: want %q, got %q (%.2f)", set, u.Voice, u.Text, a.Text, a.Confidence)
			}
			perVoice[u.Voice.Synth] = pv
		}
		acc := float64(ok) / float64(n)
		t.Logf("ACCURACY %-8s %d/%d = %.1f%% (by synthesizer: %v)", set, ok, n, 100*acc, perVoice)
		if min, ok := minAccuracy[set]; ok && acc < min {
			t.Errorf("%s: whole-phrase accuracy %.1f%% under %.0f%%", set, 100*acc, 100*minAccuracy[set])
		}
	}
	// Out of grammar: dictation sentences and digit strings against the department menu.
	var oog []float64
	for _, u := range utts {
		if u.Set != speechset.Dictation && u.Set != speechset.Digits || len(oog) >= 16 {
			continue
		}
		res, err := recognize(ctx, e, asr.RecognizeRequest{NBest: 1, Grammars: []asr.Grammar{grammars[speechset.Menu]}}, upsample(u.PCM))
		if err != nil {
			t.Fatal(err)
		}
		if a, ok := top(res.final); ok {
			oog = append(oog, a.Confidence)
		} else {
			oog = append(oog, 0)
		}
	}
	t.Logf("CONFIDENCE right %s", speechset.Quantiles(right))
	t.Logf("CONFIDENCE wrong %s", speechset.Quantiles(wrong))
	t.Logf("CONFIDENCE out-of-grammar %s", speechset.Quantiles(oog))
	for _, th := range []float64{0.3, 0.5, 0.7} {
		t.Logf("threshold %.1f: keeps %.0f%% of right, %.0f%% of wrong, %.0f%% of out-of-grammar",
			th, 100*above(right, th), 100*above(wrong, th), 100*above(oog, th))
	}
	for _, set := range []string{speechset.Boolean, speechset.Menu, speechset.Digits} {
		t.Logf("CONFIDENCE right %-8s %s; kept at 0.5: %.0f%%", set, speechset.Quantiles(rightBySet[set]), 100*above(rightBySet[set], 0.5))
	}
	if kept := above(right, 0.5); kept < minKeptAtHalf {
		t.Errorf("the default Confidence-Threshold 0.5 keeps %.0f%% of right answers, want >= %.0f%%", 100*kept, 100*minKeptAtHalf)
	}
	if kept := above(oog, 0.5); kept > maxOOGKeptAtHalf {
		t.Errorf("the default Confidence-Threshold 0.5 keeps %.0f%% of out-of-grammar speech, want <= %.0f%%", 100*kept, 100*maxOOGKeptAtHalf)
	}
	if mr, mw := median(right), median(wrong); len(wrong) > 0 && mr <= mw {
		t.Errorf("confidence does not separate: median right %.2f <= median wrong %.2f", mr, mw)
	}
	t.Logf("grammar sets: %v audio in %v wall (%.2f x real time, 2 cores shared)", audio, cpu, cpu.Seconds()/audio.Seconds())

	// Dictation: word error rate on the en-us language model.
	var errs, words int
	var dictConf []float64
	for _, u := range utts {
		if u.Set != speechset.Dictation {
			continue
		}
		res, err := recognize(ctx, e, asr.RecognizeRequest{NBest: 1}, upsample(u.PCM))
		if err != nil {
			t.Fatal(err)
		}
		a, _ := top(res.final)
		d := editDistance(strings.Fields(u.Text), strings.Fields(a.Text))
		errs += d
		words += len(strings.Fields(u.Text))
		dictConf = append(dictConf, a.Confidence)
		t.Logf("dictation %s: %q -> %q (%.2f)", u.Voice, u.Text, a.Text, a.Confidence)
	}
	if words > 0 {
		t.Logf("WER dictation %d/%d = %.1f%%", errs, words, 100*float64(errs)/float64(words))
	}
	// A transcript must survive MRCP's default Confidence-Threshold: dictation scores used to be
	// on another scale than the phone loop's (senscrShift), and every transcript scored 0.
	if kept := above(dictConf, 0.5); len(dictConf) > 0 && kept < minDictationKeptAtHalf {
		t.Errorf("the default Confidence-Threshold 0.5 keeps %.0f%% of dictation transcripts, want >= %.0f%%", 100*kept, 100*minDictationKeptAtHalf)
	}
}

func editDistance(a, b []string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			sub := prev[j-1]
			if a[i-1] != b[j-1] {
				sub++
			}
			cur[j] = min(sub, prev[j]+1, cur[j-1]+1)
		}
		prev = cur
	}
	return prev[len(b)]
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	return s[len(s)/2]
}

func above(v []float64, th float64) float64 {
	if len(v) == 0 {
		return 0
	}
	n := 0
	for _, x := range v {
		if x >= th {
			n++
		}
	}
	return float64(n) / float64(len(v))
}

// digitString is the interpretation builtin:grammar/digits gives spoken digit words.

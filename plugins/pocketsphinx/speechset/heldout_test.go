package speechset

import (
	"math"
	"slices"
	"testing"
)

// The held-out set's figures mean something only if tuning never heard its voice and phrase pairs.
func TestHeldOutDisjointFromTuning(t *testing.T) {
	if shared := SharedPairs(); len(shared) > 0 {
		t.Errorf("the held-out set shares %d voice and phrase pairs with tuning: %q", len(shared), shared)
	}
}

func TestSharedPairsFindsAPairTuningUsed(t *testing.T) {
	saved := oogSentences
	defer func() { oogSentences = saved }()
	// flite's slt spoke the test set's dictation sentences: one of them in the held-out set is a shared pair.
	oogSentences = slices.Repeat([]string{Phrases(Dictation, 0)[0]}, len(saved))
	if len(SharedPairs()) == 0 {
		t.Fatal("a dictation sentence spoken by the test set's flite voices was not reported")
	}
}

func TestHeldOutCoversVoicesAndSets(t *testing.T) {
	items := HeldOut()
	synths, sets, speakers := map[string]int{}, map[string]int{}, map[string]bool{}
	for _, it := range items {
		synths[it.Voice.Synth]++
		sets[it.Set]++
		speakers[it.Voice.Speaker()] = true
		if it.Voice.Synth == "espeak-ng" && (it.Voice.Speed < 120 || it.Voice.Speed > 200 || it.Voice.Pitch < 30 || it.Voice.Pitch > 70) {
			t.Errorf("%s: rate or pitch out of range", it.Voice)
		}
	}
	if synths["flite"] == 0 || synths["espeak-ng"] == 0 || len(speakers) < 100 {
		t.Errorf("synthesizers %v, %d speakers", synths, len(speakers))
	}
	for _, s := range []string{Digits, DigitsN, Boolean, Menu, Menu7, OOG} {
		if sets[s] == 0 {
			t.Errorf("no %s items", s)
		}
	}
	t.Logf("%d items, %d speakers, by synthesizer %v, by set %v", len(items), len(speakers), synths, sets)
	sub := Stratified(items, 3)
	if len(sub) != 3*(5+4) { // five sets, OOG against four grammars
		t.Errorf("stratified subset has %d items, want 27", len(sub))
	}
	if !slices.Equal(HeldOut(), items) {
		t.Error("HeldOut differs between calls")
	}
}

func TestConditionNoiseAtSNR(t *testing.T) {
	speech := make([]int16, 16000)
	for i := range speech[4000:12000] { // one second of a 1 kHz tone between silences
		speech[4000+i] = int16(8000 * math.Sin(2*math.Pi*1000*float64(i)/Rate))
	}
	rec := Recording{Item: Item{Set: Digits, Text: "one"}, Band: speech}
	for _, snr := range []float64{20, 10} {
		c := Condition{Name: "n", Band: true, Law: Ulaw, SNR: snr}
		p1, _ := c.Apply(rec)
		p2, _ := c.Apply(rec)
		if !slices.Equal(p1, p2) {
			t.Fatal("the same condition gave different audio")
		}
		got := g711Decode(Ulaw, p1)
		var sig, noise float64
		for i := 4000; i < 12000; i++ {
			sig += float64(speech[i]) * float64(speech[i])
			d := float64(got[i]) - float64(speech[i])
			noise += d * d
		}
		if m := 10 * math.Log10(sig/noise); math.Abs(m-snr) > 1.5 {
			t.Errorf("SNR %.0f dB: measured %.1f dB", snr, m)
		}
	}
	_, lost := Condition{Name: "l", Law: Ulaw, Loss: 0.05}.Apply(Recording{Wide: make([]int16, 160*2000)})
	n := 0
	for _, l := range lost {
		if l {
			n++
		}
	}
	if n < 70 || n > 130 {
		t.Errorf("5%% loss lost %d of 2000 packets", n)
	}
}

// TestItemGrammar: the grammar an item is spoken against, with the digit grammar's length.
func TestItemGrammar(t *testing.T) {
	for _, c := range []struct {
		it     Item
		set    string
		digits int
	}{
		{Item{Set: Digits, Text: "four seven one one"}, Digits, 4},
		{Item{Set: DigitsN, Text: "oh seven zero"}, DigitsN, 3},
		{Item{Set: OOG, Text: "main menu", Against: Digits}, Digits, 4},
		{Item{Set: OOG, Text: "hold on a second", Against: Menu7}, Menu7, 0},
		{Item{Set: Boolean, Text: "yeah"}, Boolean, 0},
	} {
		if set, n := c.it.Grammar(); set != c.set || n != c.digits {
			t.Errorf("%+v: %s %d, want %s %d", c.it, set, n, c.set, c.digits)
		}
	}
}

// TestTuningSetHasSpeakersLikeHeldOut: the tuning set has speakers made as the held-out set's
// are, of both synthesizers, none of them an adaptation speaker or a drawn one, each saying digit
// strings: the slice of tuning that predicts the held-out set.
func TestTuningSetHasSpeakersLikeHeldOut(t *testing.T) {
	adapted := map[string]bool{}
	for _, v := range slices.Concat(AdaptationVoices, ExtraAdaptationVoices(), RandomVoices("a", maxRandom)) {
		adapted[v.Speaker()] = true
	}
	digits := map[string]int{}
	for _, it := range TuningSet() {
		if it.Set == Digits {
			digits[it.Voice.Speaker()]++
		}
	}
	synths := map[string]bool{}
	like := tuningLikeHeldOut()
	for _, v := range like {
		if adapted[v.Speaker()] || v.Drawn() {
			t.Errorf("%s: an adaptation or drawn speaker", v)
		}
		if digits[v.Speaker()] == 0 {
			t.Errorf("%s says no digit string in the tuning set", v)
		}
		synths[v.Synth] = true
	}
	if len(like) < 6 || !synths["flite"] || !synths["espeak-ng"] {
		t.Errorf("%d speakers like the held-out set's, synthesizers %v", len(like), synths)
	}
}

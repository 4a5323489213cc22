package engine

import (
	"math"
	"testing"
)

func TestCoverage(t *testing.T) {
	seg := func(w string, sf, ef int) segment { return segment{word: w, sf: sf, ef: ef} }
	phones := []segment{seg("<sil>", 0, 19), seg("ph_b", 20, 39), seg("ph_ih", 40, 59), seg("ph_l", 60, 119), seg("<sil>", 120, 169)}
	for _, c := range []struct {
		name string
		hyp  []segment
		want float64
	}{
		{"the word spans the speech", []segment{seg("<sil>", 0, 19), seg("billing", 20, 119), seg("<sil>", 120, 169)}, 1},
		{"a third of it", []segment{seg("<sil>", 0, 49), seg("billing", 50, 83), seg("[NOISE]", 84, 169)}, 0.34},
		{"longer than the phones", []segment{seg("billing", 0, 169)}, 1},
		{"floored", []segment{seg("<sil>", 0, 99), seg("yes", 100, 101), seg("<sil>", 102, 169)}, coverageFloor},
	} {
		if got := coverage(c.hyp, phones); math.Abs(got-c.want) > 1e-9 {
			t.Errorf("%s: %.3f, want %.3f", c.name, got, c.want)
		}
	}
	if got := coverage([]segment{seg("yes", 0, 9)}, []segment{seg("<sil>", 0, 9)}); got != 1 {
		t.Errorf("no speech in the phone loop: %.3f, want 1", got)
	}
}

// TestCoverageLowersPartialAnswers: with the MAP means, a word grammar's answer that spans a third
// of the speech scores lower than one that spans it all, at the same gap; digit grammars and a
// coverage_weight of 0 leave it out.
func TestCoverageLowersPartialAnswers(t *testing.T) {
	phones := []segment{scoredSeg("ph_b", 0, 29, -3000), scoredSeg("ph_ih", 30, 59, -3000), scoredSeg("ph_l", 60, 89, -3000)}
	whole := []segment{scoredSeg("billing", 0, 89, -9000)}
	third := []segment{scoredSeg("<sil>", 0, 29, -3000), scoredSeg("billing", 30, 59, -3000), scoredSeg("<sil>", 60, 89, -3000)}
	conf := func(settings map[string]string, g *compiled, hyp []segment) float64 {
		cfg, err := FromSettings(settings)
		if err != nil {
			t.Fatal(err)
		}
		cfg.fill()
		w := &worker{e: &Engine{cfg: cfg}, d: &decoder{kind: grammarDecoder}}
		return w.confidence(g, hyp, posteriorFloor, phones)
	}
	means := map[string]string{"means": "m"}
	words, digits := &compiled{}, &compiled{digits: true}
	if a, b := conf(means, words, whole), conf(means, words, third); !(b < a) {
		t.Errorf("words: a third of the speech %.3f, all of it %.3f: want lower", b, a)
	}
	if a, b := conf(means, digits, whole), conf(means, digits, third); a != b {
		t.Errorf("digits: %.3f and %.3f, want coverage left out", a, b)
	}
	off := map[string]string{"means": "m", "coverage_weight": "0"}
	if a, b := conf(off, words, whole), conf(off, words, third); a != b {
		t.Errorf("coverage_weight 0: %.3f and %.3f, want coverage left out", a, b)
	}
}

func TestCoverageWeightDefaults(t *testing.T) {
	for _, c := range []struct {
		settings     map[string]string
		weight, offs float64
	}{
		{map[string]string{"means": "m"}, meansCoverageWeight, coverageOffset},
		{map[string]string{"means": "m", "mixture_weights": "w"}, mixwCoverageWeight, mixwCoverageOffset},
		{map[string]string{"means": "m", "coverage_weight": "0"}, 0, 1.2},
		{map[string]string{"means": "m", "mixture_weights": "w", "coverage_weight": "0"}, 0, mixwOffset},
		{map[string]string{"mllr": "t"}, 0, 2.1},
		{map[string]string{}, 0, 1.5},
	} {
		cfg, err := FromSettings(c.settings)
		if err != nil {
			t.Fatal(err)
		}
		cfg.fill()
		if cfg.CoverageWeight != c.weight || cfg.ConfidenceOffset != c.offs {
			t.Errorf("%v: weight %v offset %v, want %v and %v", c.settings, cfg.CoverageWeight, cfg.ConfidenceOffset, c.weight, c.offs)
		}
	}
}

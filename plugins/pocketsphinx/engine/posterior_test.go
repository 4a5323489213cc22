package engine

import (
	"math"
	"testing"
)

func TestWordPosterior(t *testing.T) {
	seg := func(w string, post int32) segment { return segment{word: w, post: post} }
	hyp := []segment{seg("<sil>", 0), seg("six", 0), seg("one(2)", 0), seg("<sil>", 0)}
	lnp := func(p int32) float64 { return float64(p) * math.Log(1.0001) }
	for _, c := range []struct {
		name string
		lat  []segment
		want float64
	}{
		{"least of the words, fillers left out", []segment{seg("<s>", -9000), seg("six", -400), seg("one", -2500), seg("</s>", -9000)}, lnp(-2500)},
		{"certain", []segment{seg("six", 0), seg("one", 0)}, 0},
		{"floored", []segment{seg("six", -90000), seg("one", 0)}, posteriorFloor},
		{"another string", []segment{seg("six", 0), seg("nine", 0)}, posteriorFloor},
		{"a shorter path", []segment{seg("<s>", 0), seg("<sil>", 0)}, posteriorFloor},
		{"no lattice", nil, posteriorFloor},
	} {
		if got := wordPosterior(c.lat, hyp); math.Abs(got-c.want) > 1e-9 {
			t.Errorf("%s: %.4f, want %.4f", c.name, got, c.want)
		}
	}
}

func TestDigitPosteriorWeightDefaults(t *testing.T) {
	for _, c := range []struct {
		settings map[string]string
		want     float64
	}{
		{map[string]string{"means": "m"}, 0.54},
		{map[string]string{"means": "m", "digit_means": "d"}, 0.8},
		{map[string]string{"means": "m", "digit_posterior_weight": "0"}, 0},
		{map[string]string{"means": "m", "digit_posterior_weight": "1.5"}, 1.5},
		{map[string]string{"mllr": "t"}, 0},
		{map[string]string{}, 0},
	} {
		cfg, err := FromSettings(c.settings)
		if err != nil {
			t.Fatal(err)
		}
		cfg.fill()
		if cfg.DigitPosteriorWeight != c.want {
			t.Errorf("%v: weight %v, want %v", c.settings, cfg.DigitPosteriorWeight, c.want)
		}
	}
}

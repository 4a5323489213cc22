package speechset

import (
	"context"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

func TestRandomVoicesAreNewSpeakers(t *testing.T) {
	adapt, tune := RandomVoices("a", 100), RandomVoices("t", tuningRandom)
	heldOut := map[string]bool{}
	for _, v := range HeldOutVoices() {
		heldOut[v.Speaker()] = true
	}
	seen := map[string]bool{}
	for _, v := range slices.Concat(adapt, tune) {
		if seen[v.Speaker()] || heldOut[v.Speaker()] {
			t.Errorf("%s: drawn twice or a held-out speaker", v)
		}
		seen[v.Speaker()] = true
		va := randomVariantOf(v)
		body := randomVariant(va)
		if va == "" || !strings.Contains(body, "formant 1 ") || !strings.Contains(body, "pitch ") || strings.Contains(body, "klatt") {
			t.Errorf("%s: variant %q:\n%s", v, va, body)
		}
	}
	if !slices.Equal(RandomVoices("a", 100), adapt) || randomVariant("mrcpda007") != randomVariant("mrcpda007") {
		t.Error("drawn speakers differ between calls")
	}
	if randomVariant("mrcpda007") == randomVariant("mrcpda008") {
		t.Error("two drawn speakers have the same variant")
	}
}

// A drawn speaker is spoken with its own variant: it sounds unlike the voice without it.
func TestRandomVoiceSynthesizes(t *testing.T) {
	if _, err := exec.LookPath("espeak-ng"); err != nil {
		t.Skip(err)
	}
	dir := t.TempDir()
	v := RandomVoices("t", 1)[0]
	plain := Voice{Synth: v.Synth, Name: strings.Split(v.Name, "+")[0], Speed: v.Speed}
	a, err := GenerateText(context.Background(), dir, "drawn", "one two three", v)
	if err != nil {
		t.Fatal(err)
	}
	b, err := GenerateText(context.Background(), dir, "plain", "one two three", plain)
	if err != nil {
		t.Fatal(err)
	}
	if len(a.PCM) == 0 || slices.Equal(a.PCM, b.PCM) {
		t.Errorf("%s: %d samples, the same as %s's", v, len(a.PCM), plain)
	}
}

package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mrcpd/mrcpd/plugins/pocketsphinx/engine"
	"github.com/mrcpd/mrcpd/plugins/pocketsphinx/speechset"
)

// TestAdaptRecordings: "pocketsphinx adapt -means FILE DIR" estimates a transform and MAP means
// from a directory of WAV recordings with their transcripts, as an operator adapts to their own
// calls.
func TestAdaptRecordings(t *testing.T) {
	if _, err := os.Stat(filepath.Join(engine.SphinxTrainDir, "bw")); err != nil {
		t.Skip(engine.ErrNoSphinxTrain)
	}
	dir := t.TempDir()
	v := speechset.Voice{Synth: "espeak-ng", Name: "en-us+m1", Speed: 150}
	for i, text := range []string{"one two three four", "nine eight seven", "yes please", "the billing department"} {
		name := "call" + string(rune('a'+i))
		_, err := speechset.GenerateText(context.Background(), dir, name, text, v)
		if errors.Is(err, speechset.ErrNoSynth) || err != nil && strings.Contains(err.Error(), "executable file not found") {
			t.Skip(err)
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name+".txt"), []byte(text+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out, means, mixw := filepath.Join(t.TempDir(), "calls.mllr"), filepath.Join(t.TempDir(), "calls.means"), filepath.Join(t.TempDir(), "calls.mixw")
	if err := adaptMain([]string{"-out", out, "-means", means, "-mixture-weights", mixw, "-setting", "pool_size=1", dir}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if f := strings.Fields(string(b)); len(f) != 2+3*(1+13*13+13+13) {
		t.Fatalf("transform has %d numbers", len(f))
	}
	// The transform and the MAP means load: a plugin configured with either starts, and with the
	// mixture weights next to the means.
	for _, settings := range []map[string]string{{"mllr": out}, {"means": means}, {"means": means, "mixture_weights": mixw}} {
		cfg, err := engine.FromSettings(settings)
		if err != nil {
			t.Fatal(err)
		}
		e, err := engine.New(cfg)
		if err != nil {
			t.Fatalf("%v: %v", settings, err)
		}
		e.Close()
	}
}

func TestAdaptUsage(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "a.wav"), []byte("RIFF"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"no out", []string{"-synthesize"}, "-out and one of"},
		{"both", []string{"-out", "x", "-synthesize", dir}, "-out and one of"},
		{"neither", []string{"-out", "x"}, "-out and one of"},
		{"bad setting", []string{"-out", "x", "-setting", "pool_size", dir}, "key=value"},
		{"empty dir", []string{"-out", "x", t.TempDir()}, "no .wav files"},
		{"missing transcript", []string{"-out", "x", dir}, "transcript of"},
		{"mixture weights without means", []string{"-out", "x", "-mixture-weights", "y", dir}, "-mixture-weights needs -means"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := adaptMain(c.args)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err %v, want one containing %q", err, c.want)
			}
		})
	}
}

package engine

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mrcpd/mrcpd/asr"
	"github.com/mrcpd/mrcpd/plugins/pocketsphinx/speechset"
)

// TestMixwToSendumpRoundTrip: the model's own weights written back as a sendump come out as the
// model's sendump: the same header and, but for rounding of weights renormalised after
// quantisation, the same bytes.
func TestMixwToSendumpRoundTrip(t *testing.T) {
	model := filepath.Join(DefaultAcousticModel, "sendump")
	orig, err := os.ReadFile(model)
	if err != nil {
		t.Skip(err)
	}
	dir := t.TempDir()
	mixw, back := filepath.Join(dir, "mixture_weights"), filepath.Join(dir, "sendump")
	if err := sendumpToMixw(model, mixw); err != nil {
		t.Fatal(err)
	}
	if err := mixwToSendump(model, mixw, back); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(back)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(orig) {
		t.Fatalf("%d bytes, the model's sendump %d", len(got), len(orig))
	}
	sd, err := readSendump(model)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got[:sd.body], orig[:sd.body]) {
		t.Fatal("header differs from the model's")
	}
	differ := 0
	for i := sd.body; i < len(got); i++ {
		if d := int(got[i]) - int(orig[i]); d != 0 {
			differ++
			if d < -1 || d > 1 {
				t.Fatalf("byte %d: %d, the model's %d", i, got[i], orig[i])
			}
		}
	}
	if n := len(got) - sd.body; differ > n/100 {
		t.Errorf("%d of %d weights differ from the model's", differ, n)
	}
}

func TestMixwToSendumpErrors(t *testing.T) {
	model := filepath.Join(DefaultAcousticModel, "sendump")
	if _, err := os.Stat(model); err != nil {
		t.Skip(err)
	}
	dir := t.TempDir()
	small := filepath.Join(dir, "small.sendump")
	if err := os.WriteFile(small, sendump([]string{"feature_count 2"}, 2, 3, make([]byte, 12)), 0o644); err != nil {
		t.Fatal(err)
	}
	smallMixw := filepath.Join(dir, "small.mixw")
	if err := sendumpToMixw(small, smallMixw); err != nil {
		t.Fatal(err)
	}
	notS3 := filepath.Join(dir, "not-s3")
	if err := os.WriteFile(notS3, []byte("hello"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ name, in, want string }{
		{"other sizes", smallMixw, "3 senones x 2 streams x 2 densities, the model 5126 x 3 x 128"},
		{"not s3", notS3, "not an s3 parameter file"},
		{"missing", filepath.Join(dir, "missing"), "no such file"},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := mixwToSendump(model, c.in, filepath.Join(dir, "out"))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err %v, want one containing %q", err, c.want)
			}
		})
	}
}

// TestAdaptMAPMixtureWeights: the mixture weights AdaptMAP estimates are a sendump of the model's
// shape with the model's header, many of whose weights moved (the senones the adaptation speech
// reaches), and a decoder loads them: decoding the same digit string with them and with the
// model's own weights scores differently.
func TestAdaptMAPMixtureWeights(t *testing.T) {
	mixw := telephoneAdaptation(t).MixtureWeights
	orig, err := os.ReadFile(filepath.Join(DefaultAcousticModel, "sendump"))
	if err != nil {
		t.Skip(err)
	}
	got, err := os.ReadFile(mixw)
	if err != nil {
		t.Fatal(err)
	}
	sd, err := readSendump(mixw)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(orig) || !bytes.Equal(got[:sd.body], orig[:sd.body]) {
		t.Fatalf("%d bytes, the model's %d, or another header", len(got), len(orig))
	}
	moved := 0
	for i := sd.body; i < len(got); i++ {
		if got[i] != orig[i] {
			moved++
		}
	}
	if n := len(got) - sd.body; moved < n/10 {
		t.Errorf("%d of %d weights moved", moved, n)
	}

	u, err := speechset.GenerateText(context.Background(), t.TempDir(), "digits", "four one seven two", speechset.Voice{Synth: "espeak-ng", Name: "en-us", Speed: 160})
	if errors.Is(err, speechset.ErrNoSynth) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	pcm := upsample(u.PCM)
	confidence := func(mixw string) float64 {
		cfg := adaptedConfig(t)
		cfg.MixtureWeights = mixw
		res, err := recognize(context.Background(), newTestEngine(t, cfg),
			asr.RecognizeRequest{Grammars: []asr.Grammar{{ID: "d", URI: "builtin:grammar/digits?length=4", Mode: "voice"}}}, pcm)
		if err != nil {
			t.Fatal(err)
		}
		a, _ := top(res.final)
		return a.Confidence
	}
	if with, without := confidence(mixw), confidence(""); with == without {
		t.Errorf("confidence %g with the adapted mixture weights and without: not loaded", with)
	}
}

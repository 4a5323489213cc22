package engine

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mrcpd/mrcpd/asr"
)

// TestPoolKeepsKindsApart: an idle decoder is handed only to a stream of its kind, even when it
// has compiled the very search the stream wants (a digit decoder carries the digit means, which
// cost yes/no answers; a grammar decoder the means, which cost digit strings).
func TestPoolKeepsKindsApart(t *testing.T) {
	var made []decoderKind
	p := newPool(4, 4, func(k decoderKind) (*decoder, error) {
		made = append(made, k)
		return &decoder{kind: k, words: map[string]bool{}, searches: map[string]bool{}}, nil
	})
	ctx := context.Background()
	for _, k := range []decoderKind{digitDecoder, dictationDecoder} {
		d, err := p.get(ctx, k, "g1")
		if err != nil {
			t.Fatal(err)
		}
		d.searches["g1"] = true
		p.put(d, true)
	}
	d, err := p.get(ctx, grammarDecoder, "g1")
	if err != nil {
		t.Fatal(err)
	}
	if d.kind != grammarDecoder || len(made) != 3 {
		t.Fatalf("grammar stream got a %v decoder (created %v)", d.kind, made)
	}
	p.put(d, true)
	for _, k := range []decoderKind{digitDecoder, grammarDecoder, dictationDecoder} {
		d, err := p.get(ctx, k, "g1")
		if err != nil {
			t.Fatal(err)
		}
		if d.kind != k {
			t.Errorf("wanted a %v decoder, got %v", k, d.kind)
		}
		p.put(d, true)
	}
	if len(made) != 3 {
		t.Errorf("created %v: idle decoders of the right kind not reused", made)
	}
}

// TestDigitDecoderLoadsDigitMeans: with digit_means, a recognition whose grammars are all digit
// strings runs on a decoder loaded with the digit means; yes/no, a digit grammar next to another
// grammar, and dictation keep the means.
func TestDigitDecoderLoadsDigitMeans(t *testing.T) {
	model, err := os.ReadFile(filepath.Join(DefaultAcousticModel, "means"))
	if err != nil {
		t.Skip(err)
	}
	dir := t.TempDir()
	means, digitMeans := filepath.Join(dir, "means"), filepath.Join(dir, "digit.means")
	for _, f := range []string{means, digitMeans} {
		if err := os.WriteFile(f, model, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cfg := DefaultConfig()
	cfg.Means, cfg.DigitMeans = means, digitMeans
	cfg.IdleDecoders = 8
	e := newTestEngine(t, cfg)
	silence := make([]int16, 8000)
	for _, c := range []struct {
		grammars []string
		want     string
	}{
		{[]string{"digits"}, digitMeans},
		{[]string{"boolean"}, means},
		{[]string{"digits", "boolean"}, means},
		{[]string{BuiltinTranscribe}, means},
		{[]string{"builtin:grammar/digits?length=4"}, digitMeans},
	} {
		var gs []asr.Grammar
		for _, g := range c.grammars {
			if strings.HasPrefix(g, "builtin:") {
				gs = append(gs, asr.Grammar{ID: "g", URI: g, Mode: "voice"})
			} else {
				gs = append(gs, asr.Grammar{ID: g, Mode: "voice"})
			}
		}
		if _, err := recognize(context.Background(), e, asr.RecognizeRequest{Grammars: gs}, silence); err != nil {
			t.Fatalf("%v: %v", c.grammars, err)
		}
		// The decoder the recognition used is the most recently returned one.
		e.pool.mu.Lock()
		d := e.pool.idle[len(e.pool.idle)-1]
		e.pool.mu.Unlock()
		if got := d.configString("-mean"); got != c.want {
			t.Errorf("%v: decoder loaded -mean %s, want %s", c.grammars, got, c.want)
		}
	}
}

// TestDigitMeansNeedMeans: the digit means are a second pass on top of the means; alone they stop
// the plugin at start, naming the setting.
func TestDigitMeansNeedMeans(t *testing.T) {
	cfg, err := FromSettings(map[string]string{"digit_means": os.DevNull})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := New(cfg); err == nil || !strings.Contains(err.Error(), "digit_means") {
		t.Errorf("digit_means without means: %v", err)
	}
	cfg, err = FromSettings(map[string]string{"means": os.DevNull, "digit_means": filepath.Join(t.TempDir(), "none")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := New(cfg); err == nil || !strings.Contains(err.Error(), "digit_means") {
		t.Errorf("digit_means missing: %v", err)
	}
}

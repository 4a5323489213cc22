package engine

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestLexiconAccentVariants(t *testing.T) {
	for _, c := range []struct {
		name     string
		dict     string
		variants bool
		want     map[string][]string
	}{
		{"added after the dictionary's own", "nine N AY N\none W AH N\none(2) HH W AH N\n", true,
			map[string][]string{"nine": {"N AY N", "N OY N"}, "one": {"W AH N", "HH W AH N"}}},
		{"off", "nine N AY N\n", false, map[string][]string{"nine": {"N AY N"}}},
		{"not twice", "nine N AY N\nnine(2) N OY N\n", true, map[string][]string{"nine": {"N AY N", "N OY N"}}},
		{"not a word the dictionary lacks", "one W AH N\n", true, map[string][]string{"one": {"W AH N"}}},
	} {
		path := filepath.Join(t.TempDir(), "dict")
		if err := os.WriteFile(path, []byte(c.dict), 0o644); err != nil {
			t.Fatal(err)
		}
		lx, err := loadLexicon(path, c.variants)
		if err != nil {
			t.Fatal(err)
		}
		if len(lx.prons) != len(c.want) {
			t.Errorf("%s: words %v, want %v", c.name, lx.prons, c.want)
		}
		for w, want := range c.want {
			if got := lx.prons[w]; !slices.Equal(got, want) {
				t.Errorf("%s: %s %q, want %q", c.name, w, got, want)
			}
		}
	}
}

func TestAccentVariantsSetting(t *testing.T) {
	for _, c := range []struct {
		v     string
		plain bool
	}{{"", false}, {"true", false}, {"false", true}} {
		s := map[string]string{}
		if c.v != "" {
			s["accent_variants"] = c.v
		}
		cfg, err := FromSettings(s)
		if err != nil {
			t.Fatal(err)
		}
		if cfg.PlainDictionary != c.plain {
			t.Errorf("accent_variants %q: PlainDictionary %v, want %v", c.v, cfg.PlainDictionary, c.plain)
		}
	}
	if _, err := FromSettings(map[string]string{"accent_variants": "maybe"}); err == nil {
		t.Error("accent_variants maybe: no error")
	}
}

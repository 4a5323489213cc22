package grammar

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/")

// loadTestGrammar reads testdata/jsgf inputs: .grxml (SRGS XML), .abnf (SRGS ABNF), .uri (builtin).
func loadTestGrammar(t testing.TB, path string) *Grammar {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var g *Grammar
	switch filepath.Ext(path) {
	case ".grxml":
		g, err = Parse(TypeSRGSXML, b)
	case ".abnf":
		g, err = Parse(TypeSRGSABNF, b)
	case ".uri":
		g, err = Builtin(strings.TrimSpace(string(b)))
	default:
		t.Fatalf("unknown input %s", path)
	}
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return g
}

func goldenInputs(t testing.TB) []string {
	var in []string
	for _, pat := range []string{"*.grxml", "*.abnf", "*.uri"} {
		m, err := filepath.Glob(filepath.Join("testdata", "jsgf", pat))
		if err != nil {
			t.Fatal(err)
		}
		in = append(in, m...)
	}
	if len(in) == 0 {
		t.Fatal("no golden inputs")
	}
	return in
}

// TestJSGFGolden converts every grammar in testdata/jsgf and compares with its .jsgf file
// (go test -run TestJSGFGolden -update rewrites them).
func TestJSGFGolden(t *testing.T) {
	for _, in := range goldenInputs(t) {
		t.Run(filepath.Base(in), func(t *testing.T) {
			got, err := loadTestGrammar(t, in).ToJSGF()
			if err != nil {
				t.Fatal(err)
			}
			golden := strings.TrimSuffix(in, filepath.Ext(in)) + ".jsgf"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if got != string(want) {
				t.Fatalf("JSGF differs from %s:\n--- got\n%s--- want\n%s", golden, got, want)
			}
		})
	}
}

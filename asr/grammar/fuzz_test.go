package grammar

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// exercise runs everything a parsed grammar offers; the fuzzers check it never panics or hangs.
func exercise(t *testing.T, g *Grammar) {
	words := g.Words()
	if len(words) > 6 {
		words = words[:6]
	}
	g.Interpret(words)
	if len(words) > 0 {
		g.Interpret(words[:1])
	}
	if j, err := g.ToJSGF(); err == nil && !strings.HasPrefix(j, "#JSGF V1.0;\ngrammar g;\npublic <") {
		t.Fatalf("bad JSGF header: %q", j)
	}
	m := g.NewDTMFMatcher()
	for _, k := range "12#*0" {
		m.Push(k)
	}
	_ = m.Interpretation()
}

func addSeeds(f *testing.F, exts ...string) {
	for _, ext := range exts {
		files, _ := filepath.Glob(filepath.Join("testdata", "jsgf", "*"+ext))
		for _, file := range files {
			if b, err := os.ReadFile(file); err == nil {
				f.Add(b)
			}
		}
	}
}

func FuzzParseXML(f *testing.F) {
	addSeeds(f, ".grxml")
	f.Add([]byte(`<grammar mode="dtmf" root="r"><rule id="r"><item repeat="2-">1</item>#<tag>out.k=meta.current().text;</tag></rule></grammar>`))
	f.Fuzz(func(t *testing.T, b []byte) {
		g, err := Parse(TypeSRGSXML, b)
		if err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("untyped error %T: %v", err, err)
			}
			return
		}
		exercise(t, g)
	})
}

func FuzzParseABNF(f *testing.F) {
	addSeeds(f, ".abnf")
	f.Add([]byte("#ABNF 1.0;\nmode dtmf;\nroot $r;\n$r = 1 {out=\"a\";} | 2 <2-3> $GARBAGE | [*] $NULL $VOID;\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		g, err := Parse(TypeSRGSABNF, b)
		if err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("untyped error %T: %v", err, err)
			}
			return
		}
		exercise(t, g)
	})
}

func FuzzBuiltin(f *testing.F) {
	for _, u := range []string{"builtin:dtmf/digits?length=4", "builtin:dtmf/digits?minlength=2;maxlength=9", "builtin:grammar/boolean", "builtin:speech/transcribe"} {
		f.Add(u)
	}
	f.Fuzz(func(t *testing.T, uri string) {
		g, err := Builtin(uri)
		if err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("untyped error %T: %v", err, err)
			}
			return
		}
		exercise(t, g)
	})
}

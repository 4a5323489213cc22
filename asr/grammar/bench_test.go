package grammar

import (
	"os"
	"strings"
	"testing"
)

func BenchmarkParseXML(b *testing.B) {
	body, err := os.ReadFile("testdata/jsgf/mod_unimrcp-dept.grxml")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(TypeSRGSXML, body); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseABNF(b *testing.B) {
	body, err := os.ReadFile("testdata/jsgf/drinks.abnf")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(TypeSRGSABNF, body); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkInterpretSISR(b *testing.B) {
	g := loadTestGrammar(b, "testdata/jsgf/drinks.abnf")
	toks := strings.Fields("i would like a small coca cola please")
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := g.Interpret(toks); !ok {
			b.Fatal("no match")
		}
	}
}

func BenchmarkToJSGF(b *testing.B) {
	g := loadTestGrammar(b, "testdata/jsgf/pizza.grxml")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := g.ToJSGF(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDTMFDigits4 is one whole 4-digit entry against builtin:dtmf/digits?length=4.
func BenchmarkDTMFDigits4(b *testing.B) {
	g, err := Builtin("builtin:dtmf/digits?length=4")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		m := g.NewDTMFMatcher()
		for _, k := range "1234" {
			m.Push(k)
		}
		if m.State() != Final {
			b.Fatal(m.State())
		}
	}
}

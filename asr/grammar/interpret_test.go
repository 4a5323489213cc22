package grammar

import (
	"slices"
	"testing"
)

func TestTokens(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"Yes, billing.", []string{"yes", "billing"}},
		{"  I'd like   e-mail!? ", []string{"i'd", "like", "e-mail"}},
		{"one two 3", []string{"one", "two", "3"}},
		{"...", nil},
	} {
		if got := Tokens(tc.in); !slices.Equal(got, tc.want) {
			t.Errorf("Tokens(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestInterpret is the one policy of every engine's transcript: the first grammar that accepts it
// gives the instance, a grammar only the engine reads (or dictation) accepts anything, and a
// transcript no grammar accepts is not ok (the host's no-match).
func TestInterpret(t *testing.T) {
	dept := Ref{ID: "dept", G: mustABNF(t, "#ABNF 1.0;\ntag-format <semantics/1.0>;\nroot $d;\n$d = billing {out=\"B\";} | sales {out=\"S\";} | support {out=\"T\";};\n")}
	yn := Ref{ID: "yn", G: mustABNF(t, "#ABNF 1.0;\nroot $r;\n$r = yes | no;\n")}
	pin := Ref{ID: "pin", G: mustBuiltin(t, "builtin:dtmf/digits")}
	dict := Ref{ID: "dict", G: mustBuiltin(t, "builtin:speech/transcribe")}
	list := Ref{ID: "list"} // a phrase list: the engine's to judge
	for _, tc := range []struct {
		name     string
		refs     []Ref
		text     string
		gid      string
		id, inst string
		ok       bool
	}{
		{"in grammar", []Ref{dept}, "billing", "", "dept", "B", true},
		{"punctuation and capitals", []Ref{dept}, "Sales.", "", "dept", "S", true},
		{"out of grammar", []Ref{dept}, "banana", "", "", "", false},
		{"second grammar", []Ref{dept, yn}, "Yes!", "", "yn", "yes", true},
		{"engine named a grammar", []Ref{yn, dept}, "support", "dept", "dept", "T", true},
		{"engine named the wrong grammar", []Ref{yn, dept}, "support", "yn", "", "", false},
		{"engine named an unknown grammar", []Ref{yn, dept}, "support", "nope", "dept", "T", true},
		{"dtmf grammars are not for speech", []Ref{pin}, "1 2 3", "", "", "", false},
		{"dictation keeps the text", []Ref{dept, dict}, "Book a  flight.", "", "dict", "Book a flight.", true},
		{"engine-read grammar", []Ref{dept, list}, "gold desk", "", "list", "gold desk", true},
		{"no grammar", nil, "anything", "", "", "", false},
	} {
		id, inst, ok := Interpret(tc.refs, tc.text, tc.gid)
		if id != tc.id || inst != tc.inst || ok != tc.ok {
			t.Errorf("%s: Interpret(%q, %q) = %q %q %v, want %q %q %v", tc.name, tc.text, tc.gid, id, inst, ok, tc.id, tc.inst, tc.ok)
		}
	}
}

func mustBuiltin(t *testing.T, uri string) *Grammar {
	t.Helper()
	g, err := Builtin(uri)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

package server

import (
	"fmt"
	"testing"
)

// TestBuiltinGrammarsParsedOnce: every RECOGNIZE naming a builtin URI gets the one parsed grammar,
// up to maxBuiltins distinct URIs; past that a URI is parsed for its request alone.
func TestBuiltinGrammarsParsedOnce(t *testing.T) {
	var b builtinGrammars
	g1, err := b.get("builtin:dtmf/digits?length=4")
	if err != nil {
		t.Fatal(err)
	}
	g2, err := b.get("builtin:dtmf/digits?length=4")
	if err != nil {
		t.Fatal(err)
	}
	if g1 != g2 {
		t.Error("the same builtin URI was parsed twice")
	}
	for i := 1; i <= 2*maxBuiltins; i++ {
		if _, err := b.get(fmt.Sprintf("builtin:dtmf/digits?length=%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	if len(b.m) != maxBuiltins {
		t.Errorf("%d grammars kept, want %d", len(b.m), maxBuiltins)
	}
	if _, err := b.get("builtin:dtmf/nosuch"); err == nil {
		t.Error("an unknown builtin parsed")
	}
}

package grammar

import (
	"strings"
	"testing"
)

func TestParseXMLConstructs(t *testing.T) {
	g := loadTestGrammar(t, "testdata/jsgf/pizza.grxml")
	if g.Root != "order" || g.Lang != "en-US" || strings.Join(g.Rules(), ",") != "order,count,size,topping,never" {
		t.Fatalf("root %q lang %q rules %v", g.Root, g.Lang, g.Rules())
	}
	for _, tc := range []struct {
		said, want string
		ok         bool
	}{
		{"one small pizzas", "<count>1</count><size>small</size>", true},
		{"three extra extra extra large pizzas with ham with olives please", "<count>3</count><size>extra extra extra large</size>", true},
		{"i really want two large pizzas", "<count>2</count><size>large</size>", true}, // GARBAGE absorbs "i really"
		{"want two large pizzas", "<count>2</count><size>large</size>", true},
		{"two extra large pizzas", "", false},                            // extra needs 2-3 repeats
		{"four large pizzas", "", false},                                 // VOID item
		{"two large pizzas with", "", false},                             // item "with topping" incomplete
		{"two large PIZZAS", "<count>2</count><size>large</size>", true}, // case-insensitive
	} {
		got, ok := g.Interpret(strings.Fields(tc.said))
		if got != tc.want || ok != tc.ok {
			t.Errorf("%q: %q %v, want %q %v", tc.said, got, ok, tc.want, tc.ok)
		}
	}
	if w := strings.Join(g.Words(), " "); w != "cheese extra four ham large olives one pizzas please small three two want with" {
		t.Fatalf("words %q", w)
	}
}

func TestParseABNFConstructs(t *testing.T) {
	g := loadTestGrammar(t, "testdata/jsgf/drinks.abnf")
	if g.Root != "order" || g.Lang != "en-US" || g.TagFormat != "semantics/1.0" || g.Mode != ModeVoice {
		t.Fatalf("header %+v", g)
	}
	for _, tc := range []struct {
		said, want string
		ok         bool
	}{
		{"i would like a small coca cola please", "<drink>coke</drink><size>s</size>", true},
		{"large iced tea", "<drink>tea</drink><size>l</size>", true},
		{"water", "<drink>water</drink><size>m</size>", true}, // $NULL alternative of $size
		{"i would like", "", false},
		{"a a small water", "", false},
	} {
		got, ok := g.Interpret(strings.Fields(tc.said))
		if got != tc.want || ok != tc.ok {
			t.Errorf("%q: %q %v, want %q %v", tc.said, got, ok, tc.want, tc.ok)
		}
	}
	// Rule without root declaration: the first public rule is the root.
	g = mustABNF(t, "#ABNF 1.0;\n$a = x;\npublic $b = y | $a;\n")
	if g.Root != "b" {
		t.Fatalf("root %q", g.Root)
	}
	// Repeat probabilities, $<#ref> references and private rules.
	g = mustABNF(t, "#ABNF 1.0;\nroot $r;\n$r = $<#d> <2-3 /0.4/> [stop];\nprivate $d = a | b;\n")
	for said, ok := range map[string]bool{"a b": true, "a b a stop": true, "a": false, "a b a b": false} {
		if _, got := g.Interpret(strings.Fields(said)); got != ok {
			t.Errorf("%q: %v, want %v", said, got, ok)
		}
	}
}

func TestParseMinimal(t *testing.T) {
	for _, tc := range []struct {
		name, ctype, body string
	}{
		{"xml without root attribute", TypeSRGSXML, `<grammar><rule id="a">hi</rule></grammar>`},
		{"xml namespace prefix", TypeSRGSXML, `<g:grammar xmlns:g="http://www.w3.org/2001/06/grammar" root="a"><g:rule id="a">hi</g:rule></g:grammar>`},
		{"abnf bom and crlf", TypeSRGSABNF, "\ufeff#ABNF 1.0 UTF-8;\r\nroot $a;\r\n$a = hi;\r\n"},
		{"latin-1", TypeSRGSXML, "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><grammar root=\"a\"><rule id=\"a\">hi<tag>out=\"caf\xe9\";</tag></rule></grammar>"},
		{"bom and doctype", TypeSRGSXML, "\ufeff<?xml version=\"1.0\"?>\n<!DOCTYPE grammar PUBLIC \"-//W3C//DTD GRAMMAR 1.0//EN\" \"grammar.dtd\">\n<grammar root=\"a\"><rule id=\"a\">hi</rule></grammar>"},
		{"media type case and params", "Application/SRGS+XML; charset=utf-8", `<grammar root="a"><rule id="a">hi</rule></grammar>`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g, err := Parse(tc.ctype, []byte(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			want := "hi"
			if strings.Contains(tc.body, "caf") {
				want = "caf\u00e9"
			}
			if got, ok := g.Interpret([]string{"hi"}); !ok || got != want {
				t.Fatalf("%q %v", got, ok)
			}
		})
	}
}

func TestDTMFSRGS(t *testing.T) {
	xmlPIN := `<?xml version="1.0"?>
<grammar xmlns="http://www.w3.org/2001/06/grammar" version="1.0" mode="dtmf" root="pin" tag-format="semantics/1.0">
  <rule id="pin" scope="public">
    <one-of>
      <item><item repeat="4"><ruleref uri="#digit"/></item> #<tag>out.pin = meta.current().text;</tag></item>
      <item>* 0<tag>out="operator";</tag></item>
      <item>*9<tag>out="menu";</tag></item>
    </one-of>
  </rule>
  <rule id="digit"><one-of><item>0</item><item>1</item><item>2</item><item>3</item><item>4</item>
    <item>5</item><item>6</item><item>7</item><item>8</item><item>9</item></one-of></rule>
</grammar>`
	abnfMenu := "#ABNF 1.0;\nmode dtmf;\nroot $m;\n$m = 1 | 1 2 | 1 2 3 | 9 <1->;\n"
	gd := mustABNF(t, "#ABNF 1.0;\nmode dtmf;\nroot $m;\n$m = a b;\n")
	gg := mustABNF(t, "#ABNF 1.0;\nmode dtmf;\nroot $m;\n$m = $GARBAGE 0;\n")
	gx, err := Parse(TypeSRGSXML, []byte(xmlPIN))
	if err != nil {
		t.Fatal(err)
	}
	ga := mustABNF(t, abnfMenu)
	for _, tc := range []struct {
		g                    *Grammar
		keys, states, interp string
	}{
		{gx, "1234#", "IIIIF", "<pin>1234#</pin>"},
		{gx, "12345", "IIIIN", ""},
		{gx, "*0", "IF", "operator"},
		{gx, "*9", "IF", "menu"},
		{gx, "*1", "IN", ""},
		{gx, "#", "N", ""},
		{ga, "123", "CCF", "123"},
		{ga, "13", "CN", ""},
		{ga, "12", "CC", "12"},
		{ga, "999", "CCC", "999"},
		{ga, "4", "N", ""},
		{gd, "aB", "IF", "AB"},
		{gd, "Ab", "IF", "AB"},
		{gg, "4", "I", ""},        // GARBAGE 0: anything, then 0
		{gg, "450", "IIC", "450"}, // ... and garbage may grow
	} {
		states, m := keys(tc.g, tc.keys)
		if states != tc.states || m.Interpretation() != tc.interp {
			t.Errorf("%s: states %s interp %q, want %s %q", tc.keys, states, m.Interpretation(), tc.states, tc.interp)
		}
		if m.State() != NoMatch && m.State().String() == "" {
			t.Errorf("state without a name")
		}
	}
	if st := gx.NewDTMFMatcher().State(); st != Incomplete {
		t.Fatalf("fresh matcher state %v", st)
	}
	if _, err := gx.ToJSGF(); err == nil {
		t.Fatal("ToJSGF of a dtmf grammar succeeded")
	}
}

// A grammar built to explode a naive backtracker must still return (the search has a budget).
func TestPathologicalGrammarTerminates(t *testing.T) {
	g := mustABNF(t, "#ABNF 1.0;\nroot $r;\n$r = ((a | a a | $NULL)<0-> | $r)<0-> b;\n")
	toks := strings.Fields(strings.Repeat("a ", 40))
	if _, ok := g.Interpret(toks); ok {
		t.Fatal("matched without the final b")
	}
	m := mustABNF(t, "#ABNF 1.0;\nmode dtmf;\nroot $r;\n$r = ((1 | 1 1)<0->)<0-> 2;\n").NewDTMFMatcher()
	for i := 0; i < 30; i++ {
		m.Push('1')
	}
	if m.State() != Incomplete {
		t.Fatalf("state %v", m.State())
	}
}

func TestBuiltinRuleRef(t *testing.T) {
	g, err := Parse(TypeSRGSXML, []byte(`<grammar mode="dtmf" root="r" tag-format="semantics/1.0-literals">
<rule id="r"><one-of>
  <item>* <ruleref uri="builtin:dtmf/digits?length=3"/></item>
  <item>0<tag>operator</tag></item>
</one-of></rule></grammar>`))
	if err != nil {
		t.Fatal(err)
	}
	if states, m := keys(g, "*123"); states != "IIIF" || m.Interpretation() != "*123" {
		t.Fatalf("states %s interp %q", states, m.Interpretation())
	}
	if states, m := keys(g, "0"); states != "F" || m.Interpretation() != "operator" {
		t.Fatalf("states %s interp %q", states, m.Interpretation())
	}
	v := mustABNF(t, "#ABNF 1.0;\ntag-format <semantics/1.0>;\nroot $r;\n$r = room $<builtin:grammar/digits?length=2> {out.room = rules.latest();};\n")
	if got, ok := v.Interpret(strings.Fields("room four two")); !ok || got != "<room>42</room>" {
		t.Fatalf("%q %v", got, ok)
	}
	if j, err := v.ToJSGF(); err != nil || !strings.Contains(j, "public <r> = room <builtin_grammar_digits_length_2>;") {
		t.Fatalf("%v\n%s", err, j)
	}
	for _, bad := range []string{
		`<grammar root="r"><rule id="r">x <ruleref uri="builtin:dtmf/digits"/></rule></grammar>`,
		`<grammar root="r"><rule id="r">x <ruleref uri="builtin:grammar/nothing"/></rule></grammar>`,
		`<grammar root="r"><rule id="r">x <ruleref uri="builtin:speech/transcribe"/></rule></grammar>`,
	} {
		if _, err := Parse(TypeSRGSXML, []byte(bad)); err == nil || !strings.Contains(err.Error(), "line 1 <ruleref builtin:") {
			t.Errorf("%s: %v", bad, err)
		}
	}
}

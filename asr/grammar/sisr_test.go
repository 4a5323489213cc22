package grammar

import (
	"strings"
	"testing"
)

func mustABNF(t *testing.T, src string) *Grammar {
	t.Helper()
	g, err := Parse(TypeSRGSABNF, []byte(src))
	if err != nil {
		t.Fatalf("%v\n%s", err, src)
	}
	return g
}

func TestSISR(t *testing.T) {
	const head = "#ABNF 1.0;\ntag-format <semantics/1.0>;\nroot $main;\n"
	for _, tc := range []struct {
		name, rules, said, want string
	}{
		{"string", `$main = yes {out="y";};`, "yes", "y"},
		{"single quotes", `$main = yes {out='y';};`, "yes", "y"},
		{"no tags gives text", `$main = hello world;`, "hello world", "hello world"},
		{"field", `$main = large {out.size="l";};`, "large", "<size>l</size>"},
		{"nested fields", `$main = large {out.pizza = new Object(); out.pizza.size="l"; out.n=2;};`, "large", "<pizza><size>l</size></pizza><n>2</n>"},
		{"escaped value", `$main = x {out.v="a<b&c";};`, "x", "<v>a&lt;b&amp;c</v>"},
		{"rules.latest()", `$main = $city {out=rules.latest();}; $city = boston {out="BOS";} | paris {out="CDG";};`, "paris", "CDG"},
		{"rules.id", `$main = from $city to $dest {out.from=rules.city; out.to=rules.dest;}; $city = boston {out="BOS";}; $dest = paris {out="CDG";};`,
			"from boston to paris", "<from>BOS</from><to>CDG</to>"},
		{"rules.id.field", `$main = $a {out.x = rules.a.b.c;}; $a = go {!{ out.b = {}; out.b.c = "deep"; }!};`, "go", "<x>deep</x>"},
		{"untagged rule is its text", `$main = say $word {out = "[" + rules.word + "]";}; $word = big cat;`, "say big cat", "[big cat]"},
		{"meta.current().text", `$main = (hello | hi) there {out = meta.current().text;};`, "hi there", "hi there"},
		{"meta.id.text", `$main = $w {out = meta.w.text + "!";}; $w = hey;`, "hey", "hey!"},
		{"concatenation", `$main = {out="";} ($d {out = out + rules.d;})<1->; $d = one {out="1";} | two {out="2";};`, "two one two", "212"},
		{"+=", `$main = {out="a";} b {out += "b";};`, "b", "ab"},
		{"numbers add", `$main = two {out = 1 + 1;};`, "two", "2"},
		{"number and string concatenate", `$main = two {out = 1 + "1";};`, "two", "11"},
		{"booleans", `$main = yes {out = true;};`, "yes", "true"},
		{"local var", `$main = go {var x = "g"; out = x + "o";};`, "go", "go"},
		{"old $ forms", `$main = $city {$ = $city;}; $city = rome {$ = "FCO";};`, "rome", "FCO"},
		{"untagged parent passes tagged child", `$main = please $city; $city = rome {out = "FCO";};`, "please rome", "FCO"},
		{"comments in tag", `$main = a {/* c */ out = "x"; // trailing
		};`, "a", "x"},
		{"last assignment wins across iterations", `$main = ($c {out.last = rules.c;})<1->; $c = a | b;`, "a b", "<last>b</last>"},
		{"undefined is empty", `$main = a {out = rules.nothing + "x";};`, "a", "x"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := mustABNF(t, head+tc.rules)
			got, ok := g.Interpret(strings.Fields(tc.said))
			if !ok || got != tc.want {
				t.Fatalf("Interpret(%q) = %q, %v; want %q", tc.said, got, ok, tc.want)
			}
		})
	}
}

func TestSISRLiterals(t *testing.T) {
	g, err := Parse(TypeSRGSXML, []byte(`<grammar root="r" tag-format="semantics/1.0-literals">
  <rule id="r"><one-of><item>yes<tag>true</tag></item><item>no<tag> false </tag></item></one-of></rule></grammar>`))
	if err != nil {
		t.Fatal(err)
	}
	for said, want := range map[string]string{"yes": "true", "no": "false"} {
		if got, ok := g.Interpret([]string{said}); !ok || got != want {
			t.Errorf("%q: %q %v, want %q", said, got, ok, want)
		}
	}
}

func TestSISRSyntaxErrors(t *testing.T) {
	for _, tag := range []string{
		`out=;`, `out = "x`, `out = foo(1);`, `rules.x = 1;`, `out = a b;`, `out = {a:1};`,
		`out = new Date();`, `out = 1 @ 2;`, `var x;`, `out["x" = 1;`, `/* open`, `meta.current() = 1;`,
	} {
		_, err := Parse(TypeSRGSABNF, []byte("#ABNF 1.0;\n$a = x {"+tag+"};"))
		if err == nil || !strings.Contains(err.Error(), "line 2") {
			t.Errorf("tag %q: err = %v, want a line-2 error", tag, err)
		}
	}
}

func TestSISRLimits(t *testing.T) {
	// A self-assignment stores a snapshot (no cycle), and doubling per repeat is capped.
	g := mustABNF(t, "#ABNF 1.0;\nroot $r;\n$r = ({out.a = out; out.b = out;} x)<1->;\n")
	got, ok := g.Interpret(strings.Fields(strings.Repeat("x ", 30)))
	if !ok || len(got) > 1<<20 {
		t.Fatalf("ok %v, %d bytes", ok, len(got))
	}
	g = mustABNF(t, "#ABNF 1.0;\nroot $r;\n$r = {out=\"ab\";} ({out = out + out;} x)<1->;\n")
	got, ok = g.Interpret(strings.Fields(strings.Repeat("x ", 40)))
	if !ok || len(got) > maxValueLen {
		t.Fatalf("ok %v, %d bytes", ok, len(got))
	}
}

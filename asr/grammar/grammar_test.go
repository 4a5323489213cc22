package grammar

import (
	"errors"
	"os"
	"strings"
	"testing"
)

// fixtureGrammar reads the SRGS body of a captured DEFINE-GRAMMAR message.
func fixtureGrammar(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Skipf("fixture not available: %v", err)
	}
	i := strings.Index(string(b), "<?xml")
	if i < 0 {
		t.Fatalf("%s: no XML body", path)
	}
	return b[i:]
}

const fixtures = "testdata/"

func TestFixtureSISR(t *testing.T) {
	g, err := Parse("application/srgs+xml; charset=UTF-8", fixtureGrammar(t, fixtures+"07-DEFINE-GRAMMAR-file-srgs-sisr.mrcp"))
	if err != nil {
		t.Fatal(err)
	}
	if g.Root != "dept" || g.Mode != ModeVoice || g.Lang != "en-US" || g.TagFormat != "semantics/1.0" {
		t.Fatalf("header: %+v", g)
	}
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{"technical support", "support", true},
		{"billing", "billing", true},
		{"Billing", "billing", true},
		{"operator", "operator", true},
		{"technical", "", false},
		{"billing sales", "", false},
		{"", "", false},
	} {
		got, ok := g.Interpret(strings.Fields(tc.in))
		if got != tc.want || ok != tc.ok {
			t.Errorf("Interpret(%q) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		name, ctype, body string
		cause             Cause
		sentinel          error
		line              int
	}{
		{"media type", "text/plain", "yes", CauseLoadFailure, ErrMediaType, 0},
		{"not xml", TypeSRGSXML, "<grammar><rule id='a'>", CauseCompileFailure, ErrSyntax, 1},
		{"wrong root", TypeSRGSXML, "<speak/>", CauseCompileFailure, ErrSyntax, 1},
		{"unknown ref", TypeSRGSXML, "<grammar root='a'>\n<rule id='a'>\n<ruleref uri='#b'/></rule></grammar>", CauseCompileFailure, ErrUnknownRule, 3},
		{"unknown root", TypeSRGSXML, "<grammar root='x'><rule id='a'>hi</rule></grammar>", CauseCompileFailure, ErrUnknownRule, 0},
		{"external ref", TypeSRGSXML, "<grammar root='a'><rule id='a'><ruleref uri='http://x/y.grxml'/></rule></grammar>", CauseLoadFailure, ErrUnsupported, 1},
		{"bad repeat", TypeSRGSXML, "<grammar root='a'><rule id='a'>\n<item repeat='3-1'>x</item></rule></grammar>", CauseCompileFailure, ErrSyntax, 2},
		{"bad mode", TypeSRGSXML, "<grammar mode='video'/>", CauseCompileFailure, ErrSyntax, 1},
		{"bad tag", TypeSRGSXML, "<grammar root='a' tag-format='semantics/1.0'><rule id='a'>x<tag>out=;</tag></rule></grammar>", CauseCompileFailure, ErrSemantics, 1},
		{"duplicate rule", TypeSRGSXML, "<grammar><rule id='a'>x</rule><rule id='a'>y</rule></grammar>", CauseCompileFailure, ErrDuplicateRuleID, 1},
		{"empty", TypeSRGSXML, "<grammar/>", CauseCompileFailure, ErrEmptyGrammar, 0},
		{"abnf header", TypeSRGSABNF, "$a = b;", CauseCompileFailure, ErrSyntax, 1},
		{"abnf missing semicolon", TypeSRGSABNF, "#ABNF 1.0;\n$a = b\n$c = d;", CauseCompileFailure, ErrSyntax, 3},
		{"abnf unknown ref", TypeSRGSABNF, "#ABNF 1.0;\nroot $a;\n$a = $b;", CauseCompileFailure, ErrUnknownRule, 3},
		{"abnf bad weight", TypeSRGSABNF, "#ABNF 1.0;\n$a = /x/ b | c;", CauseCompileFailure, ErrSyntax, 2},
		{"abnf unterminated tag", TypeSRGSABNF, "#ABNF 1.0;\n$a = b {out=1;", CauseCompileFailure, ErrSyntax, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(tc.ctype, []byte(tc.body))
			var ge *Error
			if !errors.As(err, &ge) {
				t.Fatalf("err = %v, want *Error", err)
			}
			if ge.Cause != tc.cause || !errors.Is(err, tc.sentinel) || ge.Line != tc.line {
				t.Fatalf("err = %v (cause %v line %d), want cause %v %v line %d", err, ge.Cause, ge.Line, tc.cause, tc.sentinel, tc.line)
			}
			if ge.Status() != 407 || !strings.HasPrefix(ge.CompletionCause(), "00") {
				t.Fatalf("status %d cause %q", ge.Status(), ge.CompletionCause())
			}
		})
	}
}

func TestCauseString(t *testing.T) {
	for c, want := range map[Cause]string{
		CauseLoadFailure:    "004 grammar-load-failure",
		CauseCompileFailure: "005 grammar-compilation-failure",
		CauseLanguage:       "010 language-unsupported",
		Cause(99):           "099",
	} {
		if got := c.String(); got != want {
			t.Errorf("%d: %q, want %q", int(c), got, want)
		}
	}
}

func TestCheckLanguage(t *testing.T) {
	for _, tc := range []struct {
		lang, mode string
		ok         bool
	}{
		{"", ModeVoice, true},
		{"en-US", ModeVoice, true},
		{"en-GB", ModeVoice, true},
		{"EN_us", ModeVoice, true},
		{"fr-FR", ModeVoice, false},
		{"fr-FR", ModeDTMF, true},
	} {
		err := (&Grammar{Lang: tc.lang, Mode: tc.mode}).CheckLanguage("en-US")
		var ge *Error
		if tc.ok != (err == nil) || !tc.ok && (!errors.As(err, &ge) || ge.Cause != CauseLanguage || ge.CompletionCause() != "010 language-unsupported") {
			t.Errorf("%s/%s: %v", tc.lang, tc.mode, err)
		}
	}
}

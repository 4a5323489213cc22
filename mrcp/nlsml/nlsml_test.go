package nlsml

import (
	"bytes"
	"flag"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/mrcpd/mrcpd/mrcp"
	"github.com/mrcpd/mrcpd/mrcp/mrcptest"
)

var update = flag.Bool("update", false, "rewrite testdata/*.xml from Marshal")

var goldens = []struct {
	file string
	r    Result
}{
	{"speech.xml", Result{Interpretations: []Interpretation{{Grammar: "session:request1@form-level.store", Confidence: 0.97, Instance: "one", Input: "one", Mode: ModeSpeech}}}},
	{"dtmf.xml", Result{Interpretations: []Interpretation{{Grammar: "builtin:dtmf/digits?length=4", Confidence: 1, Instance: "1234", Input: "1234", Mode: ModeDTMF}}}},
	{"sisr-object.xml", Result{Interpretations: []Interpretation{{Grammar: "session:dept", Confidence: 0.5, Instance: "<dept>billing</dept><when>now</when>", Input: "billing now"}}}},
	{"escaped.xml", Result{Interpretations: []Interpretation{{Grammar: "session:a&b", Confidence: 0.123, Instance: "AT&T <corp>", Input: "at and t \"quoted\""}}}},
	{"n-best.xml", Result{Interpretations: []Interpretation{
		{Grammar: "g", Confidence: 0.8, Instance: "yes", Input: "yes"},
		{Grammar: "g", Confidence: 0.15, Instance: "no", Input: "no"},
	}}},
	{"noinput.xml", Result{NoInput: true}},
	{"nomatch.xml", Result{NoMatch: true}},
}

func TestGolden(t *testing.T) {
	for _, g := range goldens {
		t.Run(g.file, func(t *testing.T) {
			got := g.r.Marshal()
			path := filepath.Join("testdata", g.file)
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("Marshal:\n%s\nwant\n%s", got, want)
			}
			back, err := Parse(got)
			if err != nil {
				t.Fatal(err)
			}
			wantBack := g.r
			for i := range wantBack.Interpretations {
				in := &wantBack.Interpretations[i]
				if in.Mode == "" {
					in.Mode = ModeSpeech
				}
				if in.Mode == ModeDTMF {
					in.Input = SpaceDTMF(in.Input)
				}
				in.Confidence = float64(int(in.Confidence*100+0.5)) / 100
			}
			if !reflect.DeepEqual(*back, wantBack) {
				t.Errorf("Parse(Marshal) = %+v, want %+v", *back, wantBack)
			}
		})
	}
}

// TestUniMRCPLayout checks Marshal against the reference server's RECOGNITION-COMPLETE body,
// byte for byte except the stray space UniMRCP writes after <result>.
func TestUniMRCPLayout(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(mrcptest.Fixtures(t), "unimrcp-server-1.8", "RECOGNITION-COMPLETE-nlsml.mrcp"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := mrcp.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Replace(string(m.Body), "<result> \n", "<result>\n", 1)
	got := goldens[0].r.Marshal()
	if string(got) != want {
		t.Errorf("got\n%q\nwant\n%q", got, want)
	}
	parsed, err := Parse(m.Body)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(*parsed, goldens[0].r) {
		t.Errorf("Parse(reference) = %+v", parsed)
	}
}

func TestParseForeign(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want Result
	}{
		{"rfc6787 style with namespace and percent confidence",
			`<?xml version="1.0"?><result xmlns="urn:ietf:params:xml:ns:mrcpv2" grammar="session:request1@form-level.store">
  <interpretation confidence="60"><instance name="Person"><ex:Person xmlns:ex="http://www.example.com/example"><ex:Name> Andre Roy </ex:Name></ex:Person></instance>
    <input>   may I speak to Andre Roy </input></interpretation></result>`,
			Result{Interpretations: []Interpretation{{Confidence: 0.6, Instance: `<ex:Person xmlns:ex="http://www.example.com/example"><ex:Name> Andre Roy </ex:Name></ex:Person>`, Input: "may I speak to Andre Roy"}}}},
		{"noinput", `<result><interpretation><instance/><input><noinput/></input></interpretation></result>`, Result{NoInput: true}},
		{"nomatch", `<result><interpretation><input mode="speech"><nomatch/></input></interpretation></result>`, Result{NoMatch: true}},
		{"cdata instance", `<result><interpretation confidence="0.5"><instance><![CDATA[a<b]]></instance><input mode="dtmf">1 2</input></interpretation></result>`,
			Result{Interpretations: []Interpretation{{Confidence: 0.5, Instance: "a<b", Input: "1 2", Mode: ModeDTMF}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse([]byte(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(*got, tt.want) {
				t.Errorf("got %+v\nwant %+v", *got, tt.want)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	for _, in := range []string{"", "<result>", "<other/>", `<result><interpretation confidence="x"/></result>`, `<result><interpretation confidence="101"/></result>`} {
		if _, err := Parse([]byte(in)); err == nil {
			t.Errorf("Parse(%q) succeeded", in)
		}
	}
}

func TestMarshalSanitises(t *testing.T) {
	r := Result{Interpretations: []Interpretation{{Confidence: math.NaN(), Instance: "a\x00b", Input: "x\x1by"}}}
	back, err := Parse(r.Marshal())
	if err != nil {
		t.Fatalf("%v\n%s", err, r.Marshal())
	}
	in := back.Interpretations[0]
	if in.Confidence != 0 || in.Instance != "ab" || in.Input != "xy" {
		t.Errorf("got %+v", in)
	}
}

func TestSpaceDTMF(t *testing.T) {
	for in, want := range map[string]string{"": "", "1": "1", "1234#": "1 2 3 4 #", "1 2 3": "1 2 3", " 12 3 ": "1 2 3"} {
		if got := SpaceDTMF(in); got != want {
			t.Errorf("SpaceDTMF(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, g := range goldens {
		f.Add(g.r.Marshal())
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := Parse(b)
		if err != nil {
			return
		}
		// Whatever parses must re-marshal into something that parses again.
		if _, err := Parse(r.Marshal()); err != nil {
			t.Fatalf("re-parse of Marshal failed: %v\n%s", err, r.Marshal())
		}
	})
}

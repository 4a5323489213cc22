// Package nlsml writes and reads recognition results in NLSML, the format of RFC 6787 §9.6 (after
// the W3C Natural Language Semantics Markup Language draft), in the layout UniMRCP servers send
// and mod_unimrcp reads.
package nlsml

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// Input modes of <input mode="...">.
const (
	ModeSpeech = "speech"
	ModeDTMF   = "dtmf"
)

// Result is one NLSML document: the interpretations of one recognition, or a no-input / no-match
// outcome (RFC 6787 §9.6: <input><noinput/></input>, <input><nomatch/></input>).
type Result struct {
	Interpretations []Interpretation
	NoInput         bool
	NoMatch         bool
}

// Interpretation is one <interpretation>.
type Interpretation struct {
	Grammar    string  // the grammar that matched (session:... or a URI); omitted when ""
	Confidence float64 // 0.0-1.0, written with two decimals
	// Instance is the semantic result: plain text (escaped on output), or raw XML such as an
	// SISR object result, written as is when it is well-formed XML starting with '<'.
	Instance string
	Input    string // what was heard or keyed
	Mode     string // ModeSpeech or ModeDTMF ("" means speech)
}

// NoInput is the result of a recognition that heard nothing (Completion-Cause 002).
func NoInput() *Result { return &Result{NoInput: true} }

// NoMatch is the result of a recognition that matched no grammar (Completion-Cause 001).
func NoMatch() *Result { return &Result{NoMatch: true} }

// Marshal writes the document in UniMRCP's layout:
//
//	<?xml version="1.0"?>
//	<result>
//	  <interpretation grammar="session:request1@form-level.store" confidence="0.97">
//	    <instance>one</instance>
//	    <input mode="speech">one</input>
//	  </interpretation>
//	</result>
//
// DTMF input is written as keys separated by spaces ("1 2 3 4"), as RFC 6787's DTMF examples
// and VoiceXML platforms expect.
func (r *Result) Marshal() []byte {
	b := make([]byte, 0, 256)
	b = append(b, "<?xml version=\"1.0\"?>\n<result>\n"...)
	switch {
	case r.NoInput || r.NoMatch:
		tag := "<nomatch/>"
		if r.NoInput {
			tag = "<noinput/>"
		}
		b = append(b, "  <interpretation>\n    <instance/>\n    <input>"...)
		b = append(b, tag...)
		b = append(b, "</input>\n  </interpretation>\n"...)
	default:
		for i := range r.Interpretations {
			b = r.Interpretations[i].appendXML(b)
		}
	}
	return append(b, "</result>"...)
}

func (in *Interpretation) appendXML(b []byte) []byte {
	b = append(b, "  <interpretation"...)
	if in.Grammar != "" {
		b = append(b, " grammar=\""...)
		b = appendEscaped(b, in.Grammar)
		b = append(b, '"')
	}
	c := in.Confidence
	if math.IsNaN(c) {
		c = 0
	}
	c = min(max(c, 0), 1)
	b = append(b, " confidence=\""...)
	b = strconv.AppendFloat(b, c, 'f', 2, 64)
	b = append(b, "\">\n    <instance>"...)
	if isRawXML(in.Instance) {
		b = append(b, in.Instance...)
	} else {
		b = appendEscaped(b, in.Instance)
	}
	mode := in.Mode
	if mode == "" {
		mode = ModeSpeech
	}
	b = append(b, "</instance>\n    <input mode=\""...)
	b = appendEscaped(b, mode)
	b = append(b, "\">"...)
	input := in.Input
	if mode == ModeDTMF {
		input = SpaceDTMF(input)
	}
	b = appendEscaped(b, input)
	return append(b, "</input>\n  </interpretation>\n"...)
}

// SpaceDTMF writes DTMF keys separated by single spaces: "1234#" -> "1 2 3 4 #".
func SpaceDTMF(keys string) string {
	keys = DTMFDigits(keys)
	if len(keys) < 2 {
		return keys
	}
	var sb strings.Builder
	sb.Grow(2 * len(keys))
	for i, r := range keys {
		if i > 0 {
			sb.WriteByte(' ')
		}
		sb.WriteRune(r)
	}
	return sb.String()
}

// DTMFDigits removes the white space between DTMF keys: "1 2 3 4" -> "1234".
func DTMFDigits(input string) string {
	if !strings.ContainsAny(input, " \t\r\n") {
		return input
	}
	return strings.Join(strings.Fields(input), "")
}

// isRawXML reports whether s is an XML fragment (elements, possibly text between them) that
// can be embedded as is.
func isRawXML(s string) bool {
	t := strings.TrimSpace(s)
	if len(t) == 0 || t[0] != '<' {
		return false
	}
	d := xml.NewDecoder(strings.NewReader(t))
	d.Strict = true
	depth := 0
	for {
		tok, err := d.Token()
		if err != nil {
			return errors.Is(err, io.EOF) && depth == 0
		}
		switch tok.(type) {
		case xml.StartElement:
			depth++
		case xml.EndElement:
			depth--
		case xml.ProcInst, xml.Directive:
			return false
		}
	}
}

func appendEscaped(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '<':
			b = append(b, "&lt;"...)
		case '>':
			b = append(b, "&gt;"...)
		case '&':
			b = append(b, "&amp;"...)
		case '"':
			b = append(b, "&quot;"...)
		case '\'':
			b = append(b, "&apos;"...)
		case '\t', '\n', '\r':
			b = append(b, c)
		default:
			// Other control characters are not allowed in XML 1.0 at all: drop them rather
			// than send a document the client cannot parse.
			if c >= 0x20 {
				b = append(b, c)
			}
		}
	}
	return b
}

// ErrNotNLSML is returned (wrapped) by Parse for input that is not an NLSML <result>.
var ErrNotNLSML = errors.New("nlsml: not an NLSML result")

type xResult struct {
	XMLName         xml.Name          `xml:"result"`
	Interpretations []xInterpretation `xml:"interpretation"`
}

type xInterpretation struct {
	Grammar    string `xml:"grammar,attr"`
	Confidence string `xml:"confidence,attr"`
	Instance   xInner `xml:"instance"`
	Input      xInput `xml:"input"`
}

type xInner struct {
	Inner string `xml:",innerxml"`
}

type xInput struct {
	Mode    string    `xml:"mode,attr"`
	Text    string    `xml:",chardata"`
	NoInput *struct{} `xml:"noinput"`
	NoMatch *struct{} `xml:"nomatch"`
}

// Parse reads an NLSML document (client side). Confidence may be 0.0-1.0 or, as older NLSML
// writers send, 0-100. An instance holding elements is kept as raw XML; a text instance is
// unescaped. DTMF input is returned as written (see DTMFDigits).
func Parse(b []byte) (*Result, error) {
	var x xResult
	d := xml.NewDecoder(bytes.NewReader(b))
	if err := d.Decode(&x); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNotNLSML, err)
	}
	r := &Result{}
	for _, xi := range x.Interpretations {
		if xi.Input.NoInput != nil {
			r.NoInput = true
			continue
		}
		if xi.Input.NoMatch != nil {
			r.NoMatch = true
			continue
		}
		in := Interpretation{Grammar: xi.Grammar, Mode: xi.Input.Mode, Input: strings.TrimSpace(xi.Input.Text)}
		if xi.Confidence != "" {
			c, err := strconv.ParseFloat(strings.TrimSpace(xi.Confidence), 64)
			if err != nil || c < 0 || c > 100 {
				return nil, fmt.Errorf("%w: confidence %q", ErrNotNLSML, xi.Confidence)
			}
			if c > 1 {
				c /= 100
			}
			in.Confidence = c
		}
		inst, err := instanceText(xi.Instance.Inner)
		if err != nil {
			return nil, fmt.Errorf("%w: instance: %w", ErrNotNLSML, err)
		}
		in.Instance = inst
		r.Interpretations = append(r.Interpretations, in)
	}
	return r, nil
}

// instanceText unescapes a text-only instance and keeps one with elements as raw XML.
func instanceText(inner string) (string, error) {
	t := strings.TrimSpace(inner)
	if strings.Contains(t, "<") && !strings.HasPrefix(t, "<![CDATA[") {
		return t, nil
	}
	var s struct {
		Text string `xml:",chardata"`
	}
	if err := xml.Unmarshal([]byte("<i>"+t+"</i>"), &s); err != nil {
		return "", err
	}
	return s.Text, nil
}

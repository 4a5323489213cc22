package vendorkit

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"sort"
	"strings"

	"github.com/mrcpd/mrcpd/asr"
	"github.com/mrcpd/mrcpd/asr/grammar"
)

// Grammars are a request's voice grammars, parsed once: the phrases a vendor is told to favour and
// the matcher that turns its free-text transcript into the grammar's interpretation.
type Grammars struct {
	list    []grammar.Ref // G is nil for a text/plain phrase list
	phrases []string
}

// TypePhraseList is a plain list of phrases, one a line, as some MRCP clients send for cloud engines.
const TypePhraseList = "text/plain"

// CompileGrammars parses the voice grammars of a request. DTMF grammars belong to the host and are
// passed over. A grammar that does not parse is an ErrBadGrammar naming it.
func CompileGrammars(gs []asr.Grammar) (*Grammars, error) {
	out := &Grammars{}
	seen := map[string]bool{}
	add := func(p string) {
		p = strings.Join(strings.Fields(p), " ")
		if p != "" && !seen[strings.ToLower(p)] {
			seen[strings.ToLower(p)] = true
			out.phrases = append(out.phrases, p)
		}
	}
	for _, ag := range gs {
		if ag.Mode == grammar.ModeDTMF {
			continue
		}
		var g *grammar.Grammar
		var err error
		switch {
		case strings.HasPrefix(ag.URI, "builtin:") || (len(ag.Body) == 0 && strings.HasPrefix(ag.ID, "builtin:")):
			uri := ag.URI
			if uri == "" {
				uri = ag.ID
			}
			g, err = grammar.Builtin(uri)
		case strings.HasPrefix(strings.ToLower(ag.ContentType), TypePhraseList):
			for _, line := range strings.Split(string(ag.Body), "\n") {
				add(line)
			}
			out.list = append(out.list, grammar.Ref{ID: ag.ID})
			continue
		default:
			g, err = grammar.Parse(ag.ContentType, ag.Body)
		}
		if err != nil {
			return nil, asr.Errorf(asr.ErrBadGrammar, false, "grammar %s: %v", ag.ID, err)
		}
		if g.Mode == grammar.ModeDTMF {
			continue
		}
		out.list = append(out.list, grammar.Ref{ID: ag.ID, G: g})
		if g.Dictation {
			continue
		}
		ph := xmlPhrases(ag.Body)
		if ph == nil {
			ph = g.Words() // ABNF and builtins: the vocabulary is the best hint we have
		}
		for _, p := range ph {
			add(p)
		}
	}
	return out, nil
}

// Phrases are the grammars' phrases (runs of literal words in SRGS XML items and rules, or the
// words of ABNF and builtin grammars), at most limit of them (0: all).
func (g *Grammars) Phrases(limit int) []string {
	if limit > 0 && len(g.phrases) > limit {
		return append([]string(nil), g.phrases[:limit]...)
	}
	return append([]string(nil), g.phrases...)
}

// Words are the distinct words of all phrases, lower-cased and sorted.
func (g *Grammars) Words() []string {
	seen := map[string]bool{}
	for _, p := range g.phrases {
		for _, w := range grammar.Tokens(p) {
			seen[w] = true
		}
	}
	out := make([]string, 0, len(seen))
	for w := range seen {
		out = append(out, w)
	}
	sort.Strings(out)
	return out
}

// Empty reports whether there are no voice grammars (dictation).
func (g *Grammars) Empty() bool { return len(g.list) == 0 }

// Interpret matches a vendor transcript against the grammars with grammar.Interpret, the policy
// the host applies to every engine.
func (g *Grammars) Interpret(text string) (id, instance string, ok bool) {
	return grammar.Interpret(g.list, text, "")
}

// Apply fills Grammar and Interpretation of the alternatives a grammar accepts. The others are
// left as they are for mrcpd, whose policy is the same for every engine: a transcript no grammar
// accepts is a no-match unless the request or the configuration asked for free text.
func (g *Grammars) Apply(alts []asr.Alternative) []asr.Alternative {
	for i, a := range alts {
		if id, inst, ok := g.Interpret(a.Text); ok {
			alts[i].Grammar, alts[i].Interpretation = id, inst
		}
	}
	return alts
}

// xmlPhrases collects the runs of literal text inside <item> and <rule> elements of an SRGS XML
// grammar, outside <tag>: "I want <ruleref/> please" gives "I want" and "please". It returns nil
// for anything that is not XML.
func xmlPhrases(body []byte) []string {
	if !bytes.HasPrefix(bytes.TrimSpace(body), []byte("<")) {
		return nil
	}
	d := xml.NewDecoder(bytes.NewReader(body))
	d.Strict = false
	d.CharsetReader = func(_ string, r io.Reader) (io.Reader, error) { return r, nil }
	var stack []string
	var out []string
	for {
		tok, err := d.Token()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return out
			}
			return out
		}
		switch t := tok.(type) {
		case xml.StartElement:
			stack = append(stack, t.Name.Local)
		case xml.EndElement:
			if len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
		case xml.CharData:
			if len(stack) == 0 {
				continue
			}
			switch stack[len(stack)-1] {
			case "item", "rule", "token":
				if p := strings.Join(strings.Fields(string(t)), " "); p != "" {
					out = append(out, p)
				}
			}
		}
	}
}

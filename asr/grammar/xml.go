package grammar

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"golang.org/x/text/encoding/charmap"
)

// xmlParser reads the W3C SRGS 1.0 XML form (https://www.w3.org/TR/speech-grammar/ §2-§4).
type xmlParser struct {
	dec   *xml.Decoder
	g     *Grammar
	depth int
}

func parseXML(body []byte) (*Grammar, error) {
	p := &xmlParser{dec: xml.NewDecoder(bytes.NewReader(body)), g: &Grammar{Mode: ModeVoice}}
	// Grammars declare UTF-8, or ISO-8859-1 in older VoiceXML deployments.
	p.dec.CharsetReader = func(charset string, r io.Reader) (io.Reader, error) {
		switch strings.ToLower(charset) {
		case "utf-8", "utf8", "us-ascii", "ascii":
			return r, nil
		case "iso-8859-1", "latin1", "iso_8859-1":
			return charmap.ISO8859_1.NewDecoder().Reader(r), nil
		case "windows-1252", "cp1252":
			return charmap.Windows1252.NewDecoder().Reader(r), nil
		}
		return nil, fmt.Errorf("charset %q not supported (use UTF-8)", charset)
	}
	for {
		tok, err := p.dec.Token()
		if err == io.EOF {
			return nil, errorf(CauseCompileFailure, ErrSyntax, p.line(), "", "no <grammar> element")
		}
		if err != nil {
			return nil, p.syntax(err)
		}
		if se, ok := tok.(xml.StartElement); ok {
			if se.Name.Local != "grammar" {
				return nil, errorf(CauseCompileFailure, ErrSyntax, p.line(), "<"+se.Name.Local+">", "root element must be <grammar>")
			}
			if err := p.grammar(se); err != nil {
				return nil, err
			}
			if err := p.g.finish(); err != nil {
				return nil, err
			}
			return p.g, nil
		}
	}
}

func (p *xmlParser) line() int { l, _ := p.dec.InputPos(); return l }

func (p *xmlParser) syntax(err error) *Error {
	var se *xml.SyntaxError
	line := p.line()
	if errors.As(err, &se) {
		line = se.Line
	}
	return &Error{Cause: CauseCompileFailure, Line: line, Msg: "malformed XML: " + err.Error(), Err: ErrSyntax}
}

func attr(se xml.StartElement, local string) (string, bool) {
	for _, a := range se.Attr {
		if a.Name.Local == local {
			return a.Value, true
		}
	}
	return "", false
}

func (p *xmlParser) grammar(se xml.StartElement) error {
	g := p.g
	if m, ok := attr(se, "mode"); ok {
		switch m {
		case ModeVoice, ModeDTMF:
			g.Mode = m
		default:
			return errorf(CauseCompileFailure, ErrSyntax, p.line(), "<grammar mode>", "mode %q is neither voice nor dtmf", m)
		}
	}
	g.Root, _ = attr(se, "root")
	g.Lang, _ = attr(se, "lang")
	g.TagFormat, _ = attr(se, "tag-format")
	for {
		tok, err := p.dec.Token()
		if err != nil {
			return p.syntax(err)
		}
		switch t := tok.(type) {
		case xml.EndElement:
			return nil
		case xml.StartElement:
			switch t.Name.Local {
			case "rule":
				if err := p.rule(t); err != nil {
					return err
				}
			case "meta", "metadata", "lexicon", "tag":
				// Grammar-level tags run before any rule in SISR; nothing real depends on them.
				if err := p.dec.Skip(); err != nil {
					return p.syntax(err)
				}
			default:
				return errorf(CauseCompileFailure, ErrSyntax, p.line(), "<"+t.Name.Local+">", "element not allowed in <grammar>")
			}
		case xml.CharData:
			if len(bytes.TrimSpace(t)) > 0 {
				return errorf(CauseCompileFailure, ErrSyntax, p.line(), "<grammar>", "text %q outside a rule", shorten(string(t)))
			}
		}
	}
}

func (p *xmlParser) rule(se xml.StartElement) error {
	line := p.line()
	id, ok := attr(se, "id")
	if !ok || !validRuleName(id) {
		return errorf(CauseCompileFailure, ErrSyntax, line, "<rule>", "missing or invalid id %q", id)
	}
	scope, _ := attr(se, "scope")
	items, err := p.content("rule " + id)
	if err != nil {
		return err
	}
	return p.g.addRule(&rule{id: id, public: scope == "public", body: seq(items, line), line: line})
}

// content reads the children of a rule, item or token container up to its end tag.
func (p *xmlParser) content(where string) ([]*node, error) {
	var items []*node
	for {
		tok, err := p.dec.Token()
		if err != nil {
			return nil, p.syntax(err)
		}
		line := p.line()
		switch t := tok.(type) {
		case xml.EndElement:
			return items, nil
		case xml.CharData:
			items = append(items, tokenNodes(string(t), p.g.Mode, line)...)
		case xml.StartElement:
			n, err := p.element(t, where)
			if err != nil {
				return nil, err
			}
			if n != nil {
				items = append(items, n)
			}
		}
	}
}

func (p *xmlParser) element(se xml.StartElement, where string) (*node, error) {
	line := p.line()
	if p.depth++; p.depth > maxNesting {
		return nil, errorf(CauseCompileFailure, ErrTooLarge, line, "<"+se.Name.Local+">", "elements nested more than %d deep", maxNesting)
	}
	defer func() { p.depth-- }()
	switch se.Name.Local {
	case "item":
		return p.item(se, where)
	case "one-of":
		return p.oneOf(where)
	case "ruleref":
		if err := p.dec.Skip(); err != nil {
			return nil, p.syntax(err)
		}
		return ruleref(se, line)
	case "token":
		text, err := p.text()
		if err != nil {
			return nil, err
		}
		return seq(tokenNodes(text, p.g.Mode, line), line), nil
	case "tag":
		text, err := p.text()
		if err != nil {
			return nil, err
		}
		return &node{kind: kTag, text: text, line: line}, nil
	case "example", "meta", "metadata", "lexicon":
		if err := p.dec.Skip(); err != nil {
			return nil, p.syntax(err)
		}
		return nil, nil
	}
	return nil, errorf(CauseCompileFailure, ErrSyntax, line, "<"+se.Name.Local+">", "element not allowed in %s", where)
}

func (p *xmlParser) item(se xml.StartElement, where string) (*node, error) {
	line := p.line()
	items, err := p.content(where)
	if err != nil {
		return nil, err
	}
	n := seq(items, line)
	rep, ok := attr(se, "repeat")
	if !ok {
		return n, nil
	}
	min, max, err := parseRepeat(rep)
	if err != nil {
		return nil, errorf(CauseCompileFailure, ErrSyntax, line, "<item repeat>", "%v", err)
	}
	r := &node{kind: kRepeat, items: []*node{n}, min: min, max: max, line: line}
	if ps, ok := attr(se, "repeat-prob"); ok {
		prob, err := strconv.ParseFloat(ps, 64)
		if err != nil || prob < 0 || prob > 1 {
			return nil, errorf(CauseCompileFailure, ErrSyntax, line, "<item repeat-prob>", "%q is not a probability", ps)
		}
		r.prob = prob
	}
	return r, nil
}

func (p *xmlParser) oneOf(where string) (*node, error) {
	alt := &node{kind: kAlt, line: p.line()}
	for {
		tok, err := p.dec.Token()
		if err != nil {
			return nil, p.syntax(err)
		}
		line := p.line()
		switch t := tok.(type) {
		case xml.EndElement:
			if len(alt.items) == 0 {
				return nil, errorf(CauseCompileFailure, ErrSyntax, alt.line, "<one-of>", "no <item> in %s", where)
			}
			return alt, nil
		case xml.CharData:
			if len(bytes.TrimSpace(t)) > 0 {
				return nil, errorf(CauseCompileFailure, ErrSyntax, line, "<one-of>", "text %q outside <item>", shorten(string(t)))
			}
		case xml.StartElement:
			if t.Name.Local != "item" {
				return nil, errorf(CauseCompileFailure, ErrSyntax, line, "<"+t.Name.Local+">", "only <item> is allowed in <one-of>")
			}
			w := 0.0
			if ws, ok := attr(t, "weight"); ok {
				w, err = strconv.ParseFloat(ws, 64)
				if err != nil || w < 0 {
					return nil, errorf(CauseCompileFailure, ErrSyntax, line, "<item weight>", "%q is not a weight", ws)
				}
			}
			n, err := p.item(t, where)
			if err != nil {
				return nil, err
			}
			alt.items = append(alt.items, n)
			alt.weights = append(alt.weights, w)
		}
	}
}

// text reads character data up to the element's end tag, refusing child elements.
func (p *xmlParser) text() (string, error) {
	var b strings.Builder
	for {
		tok, err := p.dec.Token()
		if err != nil {
			return "", p.syntax(err)
		}
		switch t := tok.(type) {
		case xml.EndElement:
			return b.String(), nil
		case xml.CharData:
			b.Write(t)
		case xml.StartElement:
			return "", errorf(CauseCompileFailure, ErrSyntax, p.line(), "<"+t.Name.Local+">", "element not allowed here")
		}
	}
}

func ruleref(se xml.StartElement, line int) (*node, error) {
	if sp, ok := attr(se, "special"); ok {
		switch sp {
		case "NULL":
			return &node{kind: kNull, line: line}, nil
		case "VOID":
			return &node{kind: kVoid, line: line}, nil
		case "GARBAGE":
			return &node{kind: kGarbage, line: line}, nil
		}
		return nil, errorf(CauseCompileFailure, ErrSyntax, line, "<ruleref special>", "unknown special rule %q", sp)
	}
	uri, _ := attr(se, "uri")
	if strings.HasPrefix(uri, "#") && validRuleName(uri[1:]) {
		return &node{kind: kRef, text: uri[1:], line: line}, nil
	}
	if uri == "" {
		return nil, errorf(CauseCompileFailure, ErrSyntax, line, "<ruleref>", "needs uri or special")
	}
	if isBuiltinURI(uri) {
		return &node{kind: kRef, text: uri, line: line}, nil
	}
	return nil, errorf(CauseLoadFailure, ErrUnsupported, line, "<ruleref>", "external rule reference %q is not supported; define the rule in the same grammar", uri)
}

// parseRepeat reads an SRGS repeat attribute: "n", "m-n" or "m-" (§2.5).
func parseRepeat(s string) (min, max int, err error) {
	s = strings.TrimSpace(s)
	lo, hi, ranged := strings.Cut(s, "-")
	min, err = strconv.Atoi(strings.TrimSpace(lo))
	if err != nil || min < 0 {
		return 0, 0, fmt.Errorf("repeat %q: bad lower bound", s)
	}
	switch {
	case !ranged:
		max = min
	case strings.TrimSpace(hi) == "":
		max = -1
	default:
		max, err = strconv.Atoi(strings.TrimSpace(hi))
		if err != nil || max < min {
			return 0, 0, fmt.Errorf("repeat %q: bad upper bound", s)
		}
	}
	if min > maxRepeat || max > maxRepeat {
		return 0, 0, fmt.Errorf("repeat %q: bounds above %d are not supported", s, maxRepeat)
	}
	return min, max, nil
}

// validRuleName follows SRGS §3.1: any characters but whitespace, '.', ':' and '-' ... in practice
// engines accept letters, digits, '_' and '-'; we refuse only what breaks references.
func validRuleName(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r <= ' ' || strings.ContainsRune("#.:<>\"'$;|(){}[]/", r) {
			return false
		}
	}
	return true
}

func seq(items []*node, line int) *node {
	if len(items) == 1 {
		return items[0]
	}
	return &node{kind: kSeq, items: items, line: line}
}

func shorten(s string) string {
	s = strings.TrimSpace(s)
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}

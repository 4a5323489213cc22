package grammar

import (
	"strconv"
	"strings"
)

// The SRGS ABNF form (https://www.w3.org/TR/speech-grammar/ §4): "#ABNF 1.0 [charset];", then
// declarations (language, mode, root, tag-format, base, lexicon, meta, http-equiv, tags), then
// rules "[public|private] $name = expansion;".

type atok struct {
	kind byte // 'w' word, 'q' quoted token, 'r' $ref, 'p' punctuation, '<' angle, '/' weight, '{' tag, 0 end
	text string
	line int
}

type abnfLexer struct {
	src  string
	pos  int
	line int
}

func (l *abnfLexer) errorf(format string, args ...any) *Error {
	return errorf(CauseCompileFailure, ErrSyntax, l.line, "", format, args...)
}

const abnfSpecial = ";|/<>()[]{}$\"=!"

func (l *abnfLexer) next() (atok, error) {
	if err := l.skipSpace(); err != nil {
		return atok{}, err
	}
	if l.pos >= len(l.src) {
		return atok{line: l.line}, nil
	}
	line, c := l.line, l.src[l.pos]
	switch {
	case strings.IndexByte(";|()[]=", c) >= 0:
		l.pos++
		return atok{'p', string(c), line}, nil
	case c == '"':
		end := strings.IndexByte(l.src[l.pos+1:], '"')
		if end < 0 {
			return atok{}, l.errorf("unterminated quoted token")
		}
		text := l.src[l.pos+1 : l.pos+1+end]
		l.advance(end + 2)
		return atok{'q', text, line}, nil
	case c == '<':
		end := strings.IndexByte(l.src[l.pos:], '>')
		if end < 0 {
			return atok{}, l.errorf("unterminated '<'")
		}
		text := l.src[l.pos+1 : l.pos+end]
		l.advance(end + 1)
		return atok{'<', text, line}, nil
	case c == '/':
		end := strings.IndexByte(l.src[l.pos+1:], '/')
		if end < 0 {
			return atok{}, l.errorf("unterminated weight")
		}
		text := l.src[l.pos+1 : l.pos+1+end]
		l.advance(end + 2)
		return atok{'/', text, line}, nil
	case c == '{':
		return l.tag(line)
	case c == '$':
		l.pos++
		if l.pos < len(l.src) && l.src[l.pos] == '<' {
			end := strings.IndexByte(l.src[l.pos:], '>')
			if end < 0 {
				return atok{}, l.errorf("unterminated rule reference")
			}
			text := l.src[l.pos+1 : l.pos+end]
			l.advance(end + 1)
			return atok{'r', "<" + text + ">", line}, nil
		}
		w := l.word()
		if w == "" {
			return atok{}, l.errorf("'$' without a rule name")
		}
		return atok{'r', w, line}, nil
	case c == '!':
		// Language attachment (word!en-US): the language is irrelevant to matching.
		l.pos++
		l.word()
		return l.next()
	}
	w := l.word()
	if w == "" {
		return atok{}, l.errorf("unexpected %q", c)
	}
	return atok{'w', w, line}, nil
}

func (l *abnfLexer) advance(n int) {
	l.line += strings.Count(l.src[l.pos:l.pos+n], "\n")
	l.pos += n
}

func (l *abnfLexer) word() string {
	start := l.pos
	for l.pos < len(l.src) {
		c := l.src[l.pos]
		if c <= ' ' || strings.IndexByte(abnfSpecial, c) >= 0 {
			break
		}
		l.pos++
	}
	return l.src[start:l.pos]
}

func (l *abnfLexer) tag(line int) (atok, error) {
	open, closing := "{", "}"
	if strings.HasPrefix(l.src[l.pos:], "{!{") {
		open, closing = "{!{", "}!}"
	}
	end := strings.Index(l.src[l.pos+len(open):], closing)
	if end < 0 {
		return atok{}, l.errorf("unterminated tag")
	}
	text := l.src[l.pos+len(open) : l.pos+len(open)+end]
	l.advance(len(open) + end + len(closing))
	return atok{'{', text, line}, nil
}

func (l *abnfLexer) skipSpace() error {
	for l.pos < len(l.src) {
		switch c := l.src[l.pos]; {
		case c == '\n':
			l.line++
			l.pos++
		case c <= ' ':
			l.pos++
		case strings.HasPrefix(l.src[l.pos:], "//"):
			for l.pos < len(l.src) && l.src[l.pos] != '\n' {
				l.pos++
			}
		case strings.HasPrefix(l.src[l.pos:], "/*"):
			end := strings.Index(l.src[l.pos+2:], "*/")
			if end < 0 {
				return l.errorf("unterminated comment")
			}
			l.advance(end + 4)
		default:
			return nil
		}
	}
	return nil
}

type abnfParser struct {
	lex   abnfLexer
	tok   atok
	g     *Grammar
	depth int
}

func parseABNF(body []byte) (*Grammar, error) {
	src := strings.TrimPrefix(string(body), "\ufeff")
	p := &abnfParser{lex: abnfLexer{src: src, line: 1}, g: &Grammar{Mode: ModeVoice}}
	if err := p.header(); err != nil {
		return nil, err
	}
	if err := p.advance(); err != nil {
		return nil, err
	}
	if err := p.declarations(); err != nil {
		return nil, err
	}
	for p.tok.kind != 0 {
		if err := p.rule(); err != nil {
			return nil, err
		}
	}
	if err := p.g.finish(); err != nil {
		return nil, err
	}
	return p.g, nil
}

func (p *abnfParser) header() error {
	l := &p.lex
	if err := l.skipSpace(); err != nil {
		return err
	}
	end := strings.IndexByte(l.src[l.pos:], ';')
	if !strings.HasPrefix(l.src[l.pos:], "#ABNF") || end < 0 {
		return errorf(CauseCompileFailure, ErrSyntax, l.line, "header", "an ABNF grammar must start with \"#ABNF 1.0;\"")
	}
	fields := strings.Fields(l.src[l.pos+5 : l.pos+end])
	if len(fields) == 0 || fields[0] != "1.0" {
		return errorf(CauseCompileFailure, ErrSyntax, l.line, "header", "unsupported ABNF version %q", strings.Join(fields, " "))
	}
	l.advance(end + 1)
	return nil
}

func (p *abnfParser) advance() error {
	t, err := p.lex.next()
	if err != nil {
		return err
	}
	p.tok = t
	return nil
}

func (p *abnfParser) fail(format string, args ...any) *Error {
	return errorf(CauseCompileFailure, ErrSyntax, p.tok.line, "", format, args...)
}

func (p *abnfParser) expect(punct string) error {
	if p.tok.kind != 'p' || p.tok.text != punct {
		return p.fail("expected %q, found %q", punct, p.tok.text)
	}
	return p.advance()
}

// declarations reads the header declarations up to the first rule.
func (p *abnfParser) declarations() error {
	for p.tok.kind == 'w' || p.tok.kind == '{' {
		if p.tok.kind == '{' { // a header tag: runs before the grammar in SISR; unused
			if err := p.advance(); err != nil {
				return err
			}
			if err := p.expect(";"); err != nil {
				return err
			}
			continue
		}
		kw := p.tok.text
		if kw == "public" || kw == "private" {
			return nil
		}
		line := p.tok.line
		if err := p.advance(); err != nil {
			return err
		}
		var args []atok
		for p.tok.kind != 0 && !(p.tok.kind == 'p' && p.tok.text == ";") {
			args = append(args, p.tok)
			if err := p.advance(); err != nil {
				return err
			}
		}
		if err := p.expect(";"); err != nil {
			return err
		}
		if err := p.declare(kw, args, line); err != nil {
			return err
		}
	}
	return nil
}

func (p *abnfParser) declare(kw string, args []atok, line int) error {
	arg := ""
	if len(args) > 0 {
		arg = args[0].text
	}
	switch kw {
	case "language":
		p.g.Lang = arg
	case "mode":
		if arg != ModeVoice && arg != ModeDTMF {
			return errorf(CauseCompileFailure, ErrSyntax, line, "mode", "mode %q is neither voice nor dtmf", arg)
		}
		p.g.Mode = arg
	case "root":
		if len(args) != 1 || args[0].kind != 'r' || !validRuleName(arg) {
			return errorf(CauseCompileFailure, ErrSyntax, line, "root", "root needs a $rule")
		}
		p.g.Root = arg
	case "tag-format":
		p.g.TagFormat = arg
	case "base", "lexicon", "meta", "http-equiv":
	default:
		return errorf(CauseCompileFailure, ErrSyntax, line, kw, "unknown declaration %q", kw)
	}
	return nil
}

func (p *abnfParser) rule() error {
	public := false
	if p.tok.kind == 'w' && (p.tok.text == "public" || p.tok.text == "private") {
		public = p.tok.text == "public"
		if err := p.advance(); err != nil {
			return err
		}
	}
	line := p.tok.line
	if p.tok.kind != 'r' || !validRuleName(p.tok.text) {
		return p.fail("expected a rule definition \"$name = ...;\", found %q", p.tok.text)
	}
	id := p.tok.text
	if err := p.advance(); err != nil {
		return err
	}
	if err := p.expect("="); err != nil {
		return err
	}
	body, err := p.alternatives()
	if err != nil {
		return err
	}
	if err := p.expect(";"); err != nil {
		return err
	}
	return p.g.addRule(&rule{id: id, public: public, body: body, line: line})
}

func (p *abnfParser) alternatives() (*node, error) {
	alt := &node{kind: kAlt, line: p.tok.line}
	for {
		w := 0.0
		if p.tok.kind == '/' {
			var err error
			w, err = strconv.ParseFloat(strings.TrimSpace(p.tok.text), 64)
			if err != nil || w < 0 {
				return nil, p.fail("weight /%s/ is not a number", p.tok.text)
			}
			if err := p.advance(); err != nil {
				return nil, err
			}
		}
		s, err := p.sequence()
		if err != nil {
			return nil, err
		}
		alt.items = append(alt.items, s)
		alt.weights = append(alt.weights, w)
		if !(p.tok.kind == 'p' && p.tok.text == "|") {
			break
		}
		if err := p.advance(); err != nil {
			return nil, err
		}
	}
	if len(alt.items) == 1 && alt.weights[0] == 0 {
		return alt.items[0], nil
	}
	return alt, nil
}

func (p *abnfParser) sequence() (*node, error) {
	line := p.tok.line
	var items []*node
	for {
		n, err := p.item()
		if err != nil {
			return nil, err
		}
		if n == nil {
			break
		}
		items = append(items, n)
	}
	if len(items) == 0 {
		return nil, p.fail("empty alternative before %q", p.tok.text)
	}
	return seq(items, line), nil
}

// item reads one element and its optional repeat; nil at the end of a sequence.
func (p *abnfParser) item() (*node, error) {
	n, err := p.primary()
	if err != nil || n == nil {
		return n, err
	}
	if p.tok.kind != '<' {
		return n, nil
	}
	spec, prob, _ := strings.Cut(p.tok.text, "/")
	min, max, err := parseRepeat(spec)
	if err != nil {
		return nil, p.fail("%v", err)
	}
	r := &node{kind: kRepeat, items: []*node{n}, min: min, max: max, line: p.tok.line}
	if prob = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(prob), "/")); prob != "" {
		if r.prob, err = strconv.ParseFloat(prob, 64); err != nil || r.prob < 0 || r.prob > 1 {
			return nil, p.fail("repeat probability %q is not a probability", prob)
		}
	}
	return r, p.advance()
}

func (p *abnfParser) primary() (*node, error) {
	t := p.tok
	switch t.kind {
	case 'w', 'q':
		if err := p.advance(); err != nil {
			return nil, err
		}
		return seq(tokenNodes(t.text, p.g.Mode, t.line), t.line), nil
	case '{':
		return &node{kind: kTag, text: t.text, line: t.line}, p.advance()
	case 'r':
		n, err := abnfRef(t)
		if err != nil {
			return nil, err
		}
		return n, p.advance()
	case 'p':
		switch t.text {
		case "(", "[":
			if p.depth++; p.depth > maxNesting {
				return nil, p.fail("groups nested more than %d deep", maxNesting)
			}
			defer func() { p.depth-- }()
			if err := p.advance(); err != nil {
				return nil, err
			}
			inner, err := p.alternatives()
			if err != nil {
				return nil, err
			}
			if t.text == "[" {
				if err := p.expect("]"); err != nil {
					return nil, err
				}
				return &node{kind: kRepeat, items: []*node{inner}, min: 0, max: 1, line: t.line}, nil
			}
			return inner, p.expect(")")
		}
	}
	return nil, nil
}

func abnfRef(t atok) (*node, error) {
	switch t.text {
	case "NULL":
		return &node{kind: kNull, line: t.line}, nil
	case "VOID":
		return &node{kind: kVoid, line: t.line}, nil
	case "GARBAGE":
		return &node{kind: kGarbage, line: t.line}, nil
	}
	if strings.HasPrefix(t.text, "<") {
		uri := strings.Trim(t.text, "<>")
		if strings.HasPrefix(uri, "#") && validRuleName(uri[1:]) {
			return &node{kind: kRef, text: uri[1:], line: t.line}, nil
		}
		if isBuiltinURI(uri) {
			return &node{kind: kRef, text: uri, line: t.line}, nil
		}
		return nil, errorf(CauseLoadFailure, ErrUnsupported, t.line, "$"+t.text, "external rule reference %q is not supported", uri)
	}
	if !validRuleName(t.text) {
		return nil, errorf(CauseCompileFailure, ErrSyntax, t.line, "$"+t.text, "invalid rule name")
	}
	return &node{kind: kRef, text: t.text, line: t.line}, nil
}

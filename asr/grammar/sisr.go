package grammar

import (
	"fmt"
	"strconv"
	"strings"
)

// The subset of W3C SISR 1.0 (https://www.w3.org/TR/semantic-interpretation/) that real grammars
// use: assignments to out, out.field and local variables; string, number and boolean literals;
// "+" (concatenation or addition); new Object() and {}; rules.latest(), rules.<id>[.field...],
// meta.current().text, meta.<id>.text; and the older "$" forms ($ for out, $id for rules.id).
// Under a tag-format containing "literals" a tag's text is the literal value of out.

type program struct {
	literal string
	isLit   bool
	stmts   []stmt
}

type stmt struct {
	lhs  []string // nil: expression statement; lhs[0] is "out" or a local
	decl bool     // var x = ...
	add  bool     // +=
	rhs  expr
}

type expr interface{}

type litExpr struct{ v value }
type objExpr struct{}
type addExpr struct{ l, r expr }

// pathExpr is root followed by selectors; a selector "()" is a call of the preceding name.
type pathExpr struct {
	root string
	sel  []string
}

type vkind uint8

const (
	vUndef vkind = iota
	vStr
	vNum
	vBool
	vObj
)

type value struct {
	kind vkind
	s    string
	n    float64
	b    bool
	obj  *object
}

type object struct {
	keys []string
	vals map[string]value
}

func strVal(s string) value { return value{kind: vStr, s: s} }

func (o *object) set(k string, v value) {
	if _, ok := o.vals[k]; !ok {
		o.keys = append(o.keys, k)
	}
	o.vals[k] = v
}

func newObject() *object { return &object{vals: map[string]value{}} }

// String renders a value the way NLSML <instance> carries it: scalars as text, objects as XML
// elements named after their properties.
func (v value) String() string {
	switch v.kind {
	case vStr:
		return v.s
	case vNum:
		return strconv.FormatFloat(v.n, 'f', -1, 64)
	case vBool:
		return strconv.FormatBool(v.b)
	case vObj:
		var b strings.Builder
		for _, k := range v.obj.keys {
			c := v.obj.vals[k]
			b.WriteString("<" + k + ">")
			if c.kind == vObj {
				b.WriteString(c.String())
			} else {
				b.WriteString(xmlEscape(c.String()))
			}
			b.WriteString("</" + k + ">")
		}
		return b.String()
	}
	return ""
}

func xmlEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;", "'", "&apos;").Replace(s)
}

func (g *Grammar) compileTag(src string) (*program, error) {
	if strings.Contains(g.TagFormat, "literal") {
		return &program{literal: strings.TrimSpace(src), isLit: true}, nil
	}
	toks, err := lexScript(src)
	if err != nil {
		return nil, err
	}
	p := &scriptParser{toks: toks}
	return p.program()
}

// ---- lexer ----

type stok struct {
	kind byte // 'i' ident, 's' string, 'n' number, 'p' punctuation, 0 end
	text string
}

func lexScript(src string) ([]stok, error) {
	var toks []stok
	i := 0
	for i < len(src) {
		c := src[i]
		switch {
		case c == ' ' || c == '\t' || c == '\r' || c == '\n':
			i++
		case strings.HasPrefix(src[i:], "//"):
			for i < len(src) && src[i] != '\n' {
				i++
			}
		case strings.HasPrefix(src[i:], "/*"):
			end := strings.Index(src[i+2:], "*/")
			if end < 0 {
				return nil, fmt.Errorf("unterminated comment")
			}
			i += end + 4
		case c == '"' || c == '\'':
			var b strings.Builder
			j := i + 1
			for ; j < len(src) && src[j] != c; j++ {
				if src[j] == '\\' && j+1 < len(src) {
					j++
					switch src[j] {
					case 'n':
						b.WriteByte('\n')
					case 't':
						b.WriteByte('\t')
					default:
						b.WriteByte(src[j])
					}
					continue
				}
				b.WriteByte(src[j])
			}
			if j >= len(src) {
				return nil, fmt.Errorf("unterminated string")
			}
			toks = append(toks, stok{'s', b.String()})
			i = j + 1
		case c >= '0' && c <= '9':
			j := i
			for j < len(src) && (src[j] >= '0' && src[j] <= '9' || src[j] == '.') {
				j++
			}
			toks = append(toks, stok{'n', src[i:j]})
			i = j
		case c == '_' || c == '$' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
			j := i + 1
			for j < len(src) && (src[j] == '_' || src[j] >= 'a' && src[j] <= 'z' || src[j] >= 'A' && src[j] <= 'Z' || src[j] >= '0' && src[j] <= '9') {
				j++
			}
			toks = append(toks, stok{'i', src[i:j]})
			i = j
		case strings.HasPrefix(src[i:], "+="):
			toks = append(toks, stok{'p', "+="})
			i += 2
		case strings.ContainsRune("=+;.(){}[],", rune(c)):
			toks = append(toks, stok{'p', string(c)})
			i++
		default:
			return nil, fmt.Errorf("unsupported character %q in script", c)
		}
	}
	return toks, nil
}

// ---- parser ----

type scriptParser struct {
	toks []stok
	pos  int
}

func (p *scriptParser) peek() stok {
	if p.pos < len(p.toks) {
		return p.toks[p.pos]
	}
	return stok{}
}

func (p *scriptParser) next() stok { t := p.peek(); p.pos++; return t }

func (p *scriptParser) accept(punct string) bool {
	if t := p.peek(); t.kind == 'p' && t.text == punct {
		p.pos++
		return true
	}
	return false
}

func (p *scriptParser) program() (*program, error) {
	prog := &program{}
	for p.pos < len(p.toks) {
		if p.accept(";") {
			continue
		}
		s, err := p.statement()
		if err != nil {
			return nil, err
		}
		prog.stmts = append(prog.stmts, s)
		if p.pos < len(p.toks) && !p.accept(";") {
			return nil, fmt.Errorf("expected ';' before %q", p.peek().text)
		}
	}
	return prog, nil
}

func (p *scriptParser) statement() (stmt, error) {
	var s stmt
	if t := p.peek(); t.kind == 'i' && t.text == "var" {
		p.pos++
		s.decl = true
	}
	start := p.pos
	e, err := p.expr()
	if err != nil {
		return s, err
	}
	if p.accept("=") || p.peek().text == "+=" {
		if p.peek().text == "+=" {
			p.pos++
			s.add = true
		}
		lhs, ok := e.(*pathExpr)
		if !ok || lhs.root == "rules" || lhs.root == "meta" || containsCall(lhs.sel) {
			return s, fmt.Errorf("cannot assign to %q", tokText(p.toks[start:p.pos]))
		}
		s.lhs = append([]string{lhs.root}, lhs.sel...)
		if s.rhs, err = p.expr(); err != nil {
			return s, err
		}
		return s, nil
	}
	if s.decl {
		return s, fmt.Errorf("var without initialiser")
	}
	s.rhs = e
	return s, nil
}

func containsCall(sel []string) bool {
	for _, s := range sel {
		if s == "()" {
			return true
		}
	}
	return false
}

func tokText(ts []stok) string {
	var b strings.Builder
	for _, t := range ts {
		b.WriteString(t.text)
	}
	return b.String()
}

func (p *scriptParser) expr() (expr, error) {
	l, err := p.term()
	if err != nil {
		return nil, err
	}
	for p.accept("+") {
		r, err := p.term()
		if err != nil {
			return nil, err
		}
		l = &addExpr{l, r}
	}
	return l, nil
}

func (p *scriptParser) term() (expr, error) {
	t := p.next()
	switch t.kind {
	case 's':
		return &litExpr{strVal(t.text)}, nil
	case 'n':
		n, err := strconv.ParseFloat(t.text, 64)
		if err != nil {
			return nil, fmt.Errorf("bad number %q", t.text)
		}
		return &litExpr{value{kind: vNum, n: n}}, nil
	case 'p':
		switch t.text {
		case "(":
			e, err := p.expr()
			if err != nil {
				return nil, err
			}
			if !p.accept(")") {
				return nil, fmt.Errorf("missing ')'")
			}
			return e, nil
		case "{":
			if !p.accept("}") {
				return nil, fmt.Errorf("only empty object literals {} are supported")
			}
			return &objExpr{}, nil
		}
		return nil, fmt.Errorf("unexpected %q", t.text)
	case 'i':
		switch t.text {
		case "true", "false":
			return &litExpr{value{kind: vBool, b: t.text == "true"}}, nil
		case "undefined", "null":
			return &litExpr{value{}}, nil
		case "new":
			if n := p.next(); n.text != "Object" || !p.accept("(") || !p.accept(")") {
				return nil, fmt.Errorf("only new Object() is supported")
			}
			return &objExpr{}, nil
		}
		return p.path(t.text)
	}
	return nil, fmt.Errorf("unexpected end of script")
}

func (p *scriptParser) path(root string) (expr, error) {
	pe := &pathExpr{root: root}
	if strings.HasPrefix(root, "$") && len(root) > 1 {
		pe.root, pe.sel = "rules", []string{root[1:]}
	} else if root == "$" {
		pe.root = "out"
	}
	for {
		switch {
		case p.accept("."):
			t := p.next()
			if t.kind != 'i' {
				return nil, fmt.Errorf("expected a name after '.'")
			}
			pe.sel = append(pe.sel, t.text)
		case p.accept("["):
			t := p.next()
			if t.kind != 's' && t.kind != 'n' || !p.accept("]") {
				return nil, fmt.Errorf("only [\"name\"] subscripts are supported")
			}
			pe.sel = append(pe.sel, t.text)
		case p.accept("("):
			if !p.accept(")") {
				return nil, fmt.Errorf("function arguments are not supported")
			}
			pe.sel = append(pe.sel, "()")
		default:
			return pe, nil
		}
	}
}

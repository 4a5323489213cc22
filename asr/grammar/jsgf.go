package grammar

import (
	"fmt"
	"strconv"
	"strings"
)

// ToJSGF converts the grammar to JSGF 1.0 as Sphinx's jsgf parser (sphinxbase, used by
// ps_set_jsgf_string) reads it. The root becomes the only public rule, so the engine cannot pick
// another one. Tags are dropped (SISR runs on the recognised words with Interpret), tokens are
// lower-cased to match the dictionary, GARBAGE becomes <NULL> (JSGF has no filler rule), bounded
// repeats expand into copies and nested optionals, unbounded ones into + and *. Weights are kept
// in /w/ form; repeat probabilities are dropped.
func (g *Grammar) ToJSGF() (string, error) {
	if g.Dictation {
		return "", errorf(CauseLoadFailure, ErrDictation, 0, g.URI, "dictation has no JSGF form; use the language model")
	}
	if g.Mode == ModeDTMF {
		return "", errorf(CauseLoadFailure, ErrUnsupported, 0, "", "a dtmf-mode grammar is not for a speech engine")
	}
	c := &jsgfConv{g: g, names: map[string]string{}, void: map[string]bool{}}
	used := map[string]bool{"NULL": true, "VOID": true}
	for _, id := range g.order {
		name := sanitizeRuleName(id)
		for i := 2; used[name]; i++ {
			name = fmt.Sprintf("%s_%d", sanitizeRuleName(id), i)
		}
		used[name] = true
		c.names[id] = name
	}
	var b strings.Builder
	b.WriteString("#JSGF V1.0;\ngrammar g;\n")
	ids := append([]string{g.Root}, g.order...)
	for i, id := range ids {
		if i > 0 && id == g.Root {
			continue
		}
		body, void, err := c.expand(g.rules[id].body)
		if err != nil {
			return "", err
		}
		if void {
			body = "<VOID>"
		}
		if i == 0 {
			b.WriteString("public ")
		}
		fmt.Fprintf(&b, "<%s> = %s;\n", c.names[id], body)
	}
	return b.String(), nil
}

type jsgfConv struct {
	g     *Grammar
	names map[string]string // rule id -> JSGF rule name
	void  map[string]bool   // rule id -> cannot match
}

// expand returns the JSGF for n, and void=true when n can never match. Sphinx's jsgf (0.8)
// voids a whole rule when <VOID> is one of its alternatives, so VOID branches are pruned here
// and <VOID> is only written for a rule that cannot match at all.
func (c *jsgfConv) expand(n *node) (s string, void bool, err error) {
	switch n.kind {
	case kToken:
		return jsgfToken(strings.ToLower(n.text)), false, nil
	case kRef:
		return "<" + c.names[n.text] + ">", c.ruleVoid(n.text), nil
	case kNull, kGarbage, kTag:
		return "<NULL>", false, nil
	case kVoid:
		return "<VOID>", true, nil
	case kSeq:
		var parts []string
		for _, it := range n.items {
			if it.kind == kTag {
				continue
			}
			s, void, err := c.expand(it)
			if err != nil || void {
				return "<VOID>", void, err
			}
			parts = append(parts, s)
		}
		if len(parts) == 0 {
			return "<NULL>", false, nil
		}
		return strings.Join(parts, " "), false, nil
	case kAlt:
		return c.alt(n)
	case kRepeat:
		return c.repeat(n)
	}
	return "", false, fmt.Errorf("grammar: node kind %d has no JSGF form", n.kind)
}

func (c *jsgfConv) alt(n *node) (string, bool, error) {
	weighted := false
	for _, w := range n.weights {
		weighted = weighted || w != 0
	}
	var parts []string
	for i, it := range n.items {
		s, void, err := c.expand(it)
		if err != nil {
			return "", false, err
		}
		if void {
			continue
		}
		if weighted {
			w := n.weights[i]
			if w == 0 {
				w = 1
			}
			s = "/" + strconv.FormatFloat(w, 'f', -1, 64) + "/ " + s
		}
		parts = append(parts, s)
	}
	if len(parts) == 0 {
		return "<VOID>", true, nil
	}
	return "( " + strings.Join(parts, " | ") + " )", false, nil
}

// ruleVoid reports whether a rule can never match. A rule being decided is assumed matchable, so
// recursion terminates.
func (c *jsgfConv) ruleVoid(id string) bool {
	if v, ok := c.void[id]; ok {
		return v
	}
	c.void[id] = false
	_, v, _ := c.expand(c.g.rules[id].body)
	c.void[id] = v
	return v
}

// repeat writes x<m-n> as m copies of x followed by n-m nested optionals (x [x [x]]), which
// keeps the expansion unambiguous for the FSG; x<m-> as m-1 copies and (x)+.
func (c *jsgfConv) repeat(n *node) (string, bool, error) {
	inner, void, err := c.expand(n.items[0])
	if err != nil {
		return "", false, err
	}
	if void {
		if n.min == 0 {
			return "<NULL>", false, nil
		}
		return "<VOID>", true, nil
	}
	x := inner
	if !atomic(inner) {
		x = "( " + inner + " )"
	}
	if n.min > maxJSGFRepeat || n.max > maxJSGFRepeat {
		return "", false, errorf(CauseCompileFailure, ErrTooLarge, n.line, "repeat", "repeat %d-%d is too large for the speech engine (at most %d)", n.min, n.max, maxJSGFRepeat)
	}
	copies := n.min
	if n.max > copies {
		copies = n.max
	}
	if copies*len(x) > maxJSGFSize {
		return "", false, errorf(CauseCompileFailure, ErrTooLarge, n.line, "repeat", "the JSGF expansion would exceed %d bytes", maxJSGFSize)
	}
	var parts []string
	switch {
	case n.max < 0 && n.min == 0:
		return x + "*", false, nil
	case n.max < 0:
		for i := 1; i < n.min; i++ {
			parts = append(parts, x)
		}
		return strings.Join(append(parts, x+"+"), " "), false, nil
	}
	for i := 0; i < n.min; i++ {
		parts = append(parts, x)
	}
	opt := ""
	for i := n.min; i < n.max; i++ {
		if opt == "" {
			opt = "[ " + x + " ]"
		} else {
			opt = "[ " + x + " " + opt + " ]"
		}
	}
	if opt != "" {
		parts = append(parts, opt)
	}
	if len(parts) == 0 {
		return "<NULL>", false, nil
	}
	return strings.Join(parts, " "), false, nil
}

// atomic reports whether a JSGF expansion needs no parentheses before a repeat operator: one
// token or rule, or a single bracketed group.
func atomic(s string) bool {
	if !strings.ContainsAny(s, " ") {
		return true
	}
	if s[0] != '(' && s[0] != '[' {
		return false
	}
	depth, quoted := 0, false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' && (i == 0 || s[i-1] != '\\'):
			quoted = !quoted
		case quoted:
		case c == '(' || c == '[':
			depth++
		case c == ')' || c == ']':
			depth--
			if depth == 0 {
				return i == len(s)-1
			}
		}
	}
	return false
}

func sanitizeRuleName(id string) string {
	var b strings.Builder
	for _, r := range id {
		if r < 128 && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_') {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}

// jsgfToken quotes a token holding characters the JSGF lexer treats as syntax.
func jsgfToken(t string) string {
	if strings.ContainsAny(t, " \t\r\n=;|*+<>()[]{}/\"\\!#") {
		return `"` + strings.NewReplacer(`"`, `\"`, `\`, `\\`).Replace(t) + `"`
	}
	return t
}

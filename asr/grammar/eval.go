package grammar

import "strings"

// frame is one rule activation while SISR runs over a match path (SISR §6: each rule has its own
// out, rules and meta).
type frame struct {
	rule     string
	out      value
	assigned bool // a tag assigned out in this rule
	text     []string
	rules    map[string]value
	texts    map[string]string
	latest   value
	// latestTagged: the latest child rule's value came from tags; an untagged parent passes it on
	// so that a root that only references a tagged rule yields that rule's value.
	latestTagged bool
	locals       map[string]value
}

func (g *Grammar) evaluate(trail []event) string {
	sep := " "
	if g.Mode == ModeDTMF {
		sep = ""
	}
	stack := []*frame{{rules: map[string]value{}, texts: map[string]string{}}}
	for _, e := range trail {
		top := stack[len(stack)-1]
		switch e.kind {
		case evEnter:
			stack = append(stack, &frame{rule: e.text, rules: map[string]value{}, texts: map[string]string{}})
		case evTok:
			for _, f := range stack[1:] {
				f.text = append(f.text, e.text)
			}
		case evTag:
			if e.n.prog != nil {
				e.n.prog.run(top, sep)
			}
		case evExit:
			stack = stack[:len(stack)-1]
			parent := stack[len(stack)-1]
			v, tagged := top.result(sep)
			// Rules imported from a builtin are named "<uri>#<id>"; their own tags say rules.<id>.
			name := top.rule[strings.LastIndexByte(top.rule, '#')+1:]
			parent.rules[name] = v
			parent.texts[name] = strings.Join(top.text, sep)
			parent.latest, parent.latestTagged = v, tagged
		}
	}
	return stack[0].latest.String()
}

func (f *frame) result(sep string) (value, bool) {
	switch {
	case f.assigned:
		return f.out, true
	case f.latestTagged:
		return f.latest, true
	}
	return strVal(strings.Join(f.text, sep)), false
}

func (p *program) run(f *frame, sep string) {
	if p.isLit {
		f.out, f.assigned = strVal(p.literal), true
		return
	}
	for _, s := range p.stmts {
		v := f.eval(s.rhs, sep)
		if s.lhs == nil {
			continue
		}
		if s.add {
			v = plus(f.lookup(s.lhs, sep), v)
		}
		f.assign(s.lhs, v, s.decl)
	}
}

// Limits on SISR values: scripts in repeats can double a string or an object per iteration.
const (
	maxValueLen   = 1 << 16 // bytes in a string value
	maxValueNodes = 1 << 12 // properties in an object value, counted recursively
)

// clone deep-copies objects on assignment, so that out.x = out stores a snapshot rather than a
// cycle; past maxValueNodes the copy is cut off.
func clone(v value, budget *int) value {
	if v.kind != vObj {
		return v
	}
	c := newObject()
	for _, k := range v.obj.keys {
		if *budget--; *budget < 0 {
			break
		}
		c.set(k, clone(v.obj.vals[k], budget))
	}
	return value{kind: vObj, obj: c}
}

func (f *frame) assign(lhs []string, v value, decl bool) {
	budget := maxValueNodes
	v = clone(v, &budget)
	if lhs[0] != "out" {
		if f.locals == nil {
			f.locals = map[string]value{}
		}
		if len(lhs) == 1 {
			f.locals[lhs[0]] = v
			return
		}
		cur := f.locals[lhs[0]]
		f.locals[lhs[0]] = setPath(cur, lhs[1:], v)
		return
	}
	_ = decl
	f.out = setPath(f.out, lhs[1:], v)
	f.assigned = true
}

// setPath stores v at path inside base, turning base and intermediate values into objects.
func setPath(base value, path []string, v value) value {
	if len(path) == 0 {
		return v
	}
	if base.kind != vObj {
		base = value{kind: vObj, obj: newObject()}
	}
	base.obj.set(path[0], setPath(base.obj.vals[path[0]], path[1:], v))
	return base
}

func get(v value, sel []string) value {
	for _, s := range sel {
		if v.kind != vObj {
			return value{}
		}
		v = v.obj.vals[s]
	}
	return v
}

func (f *frame) lookup(path []string, sep string) value {
	return f.eval(&pathExpr{root: path[0], sel: path[1:]}, sep)
}

func (f *frame) eval(e expr, sep string) value {
	switch e := e.(type) {
	case *litExpr:
		return e.v
	case *objExpr:
		return value{kind: vObj, obj: newObject()}
	case *addExpr:
		return plus(f.eval(e.l, sep), f.eval(e.r, sep))
	case *pathExpr:
		return f.path(e, sep)
	}
	return value{}
}

func (f *frame) path(e *pathExpr, sep string) value {
	sel := e.sel
	switch e.root {
	case "out":
		return get(f.out, sel)
	case "rules":
		if len(sel) >= 2 && sel[0] == "latest" && sel[1] == "()" {
			return get(f.latest, sel[2:])
		}
		if len(sel) == 0 {
			return value{}
		}
		return get(f.rules[sel[0]], sel[1:])
	case "meta":
		switch {
		case len(sel) >= 3 && sel[0] == "current" && sel[1] == "()" && sel[2] == "text":
			return strVal(strings.Join(f.text, sep))
		case len(sel) >= 2 && sel[1] == "text":
			return strVal(f.texts[sel[0]])
		}
		return value{}
	}
	if v, ok := f.locals[e.root]; ok {
		return get(v, sel)
	}
	return value{}
}

// plus is ECMAScript "+": numeric addition for two numbers, otherwise string concatenation
// (undefined contributes nothing rather than the word "undefined").
func plus(a, b value) value {
	if a.kind == vNum && b.kind == vNum {
		return value{kind: vNum, n: a.n + b.n}
	}
	as, bs := a.String(), b.String()
	if len(as)+len(bs) > maxValueLen {
		return strVal(as)
	}
	return strVal(as + bs)
}

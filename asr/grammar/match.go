package grammar

import "strings"

// search is a backtracking matcher over the rule graph, in continuation-passing style so that
// repeats, alternatives and rule references explore every way to split the input. It records the
// path taken (tokens, tags, rule entry and exit) so that SISR runs over the first full match.
type search struct {
	g         *Grammar
	toks      []string
	fold      bool // voice tokens compare case-insensitively
	all       bool // keep searching after a full match, to learn whether the input can grow
	steps     int
	depth     int
	trail     []event
	full      []event // trail of the first full match
	found     bool
	wantsMore bool // some path needed a token past the end of the input
}

type evKind uint8

const (
	evTok evKind = iota
	evTag
	evEnter
	evExit
)

type event struct {
	kind evKind
	text string // token, rule id
	n    *node  // tag node
}

func (g *Grammar) search(toks []string, all bool) *search {
	s := &search{g: g, toks: toks, fold: g.Mode != ModeDTMF, all: all}
	root := &node{kind: kRef, text: g.Root}
	s.match(root, 0, func(p int) bool {
		if p != len(s.toks) {
			return false
		}
		if !s.found {
			s.found = true
			s.full = append([]event(nil), s.trail...)
		}
		return !s.all || s.wantsMore
	})
	return s
}

func (s *search) push(e event) { s.trail = append(s.trail, e) }
func (s *search) pop()         { s.trail = s.trail[:len(s.trail)-1] }

// match tries n at pos and calls k with every position where n can end. It returns true to stop
// the whole search.
func (s *search) match(n *node, pos int, k func(int) bool) bool {
	s.steps++
	if s.steps > matchBudget {
		return true // pathological grammar: give up with what was found so far
	}
	switch n.kind {
	case kToken:
		if pos == len(s.toks) {
			s.wantsMore = true
			return s.found && s.all
		}
		if !s.tokenEq(n.text, s.toks[pos]) {
			return false
		}
		s.push(event{kind: evTok, text: s.toks[pos]})
		stop := k(pos + 1)
		s.pop()
		return stop
	case kSeq:
		return s.seq(n.items, 0, pos, k)
	case kAlt:
		for _, it := range n.items {
			if s.match(it, pos, k) {
				return true
			}
		}
		return false
	case kRef:
		return s.ref(n.text, pos, k)
	case kNull:
		return k(pos)
	case kVoid:
		return false
	case kGarbage:
		// GARBAGE absorbs any run of tokens, shortest first (SRGS §2.2.3). The absorbed tokens
		// stay in the path so that the matched text is what was actually input.
		mark := len(s.trail)
		defer func() { s.trail = s.trail[:mark] }()
		for p := pos; p <= len(s.toks); p++ {
			if p > pos {
				s.push(event{kind: evTok, text: s.toks[p-1]})
			}
			if k(p) {
				return true
			}
		}
		s.wantsMore = true
		return s.found && s.all
	case kTag:
		s.push(event{kind: evTag, n: n})
		stop := k(pos)
		s.pop()
		return stop
	case kRepeat:
		return s.repeat(n, 0, pos, k)
	}
	return false
}

func (s *search) tokenEq(want, got string) bool {
	if s.fold {
		return strings.EqualFold(want, got)
	}
	return want == got
}

func (s *search) seq(items []*node, i, pos int, k func(int) bool) bool {
	if i == len(items) {
		return k(pos)
	}
	return s.match(items[i], pos, func(p int) bool { return s.seq(items, i+1, p, k) })
}

// repeat is greedy: another iteration is tried before stopping, as SRGS engines prefer the longest
// match. An iteration past the minimum must consume input, or an empty body would loop forever.
func (s *search) repeat(n *node, count, pos int, k func(int) bool) bool {
	if n.max < 0 || count < n.max {
		stop := s.match(n.items[0], pos, func(p int) bool {
			if p == pos && count >= n.min {
				return false
			}
			return s.repeat(n, count+1, p, k)
		})
		if stop {
			return true
		}
	}
	if count >= n.min {
		return k(pos)
	}
	return false
}

func (s *search) ref(id string, pos int, k func(int) bool) bool {
	r := s.g.rules[id]
	if r == nil || s.depth >= maxDepth {
		return false
	}
	s.depth++
	s.push(event{kind: evEnter, text: id})
	stop := s.match(r.body, pos, func(p int) bool {
		s.depth--
		s.push(event{kind: evExit, text: id})
		stop := k(p)
		s.pop()
		s.depth++
		return stop
	})
	s.pop()
	s.depth--
	return stop
}

// Interpret matches a complete token sequence (words for voice grammars, keys for DTMF ones)
// against the grammar and returns its SISR result: the root rule's out rendered as text or as XML
// elements for objects, or the matched text when the grammar assigns nothing. ok is false when
// the sequence is not a sentence of the grammar. Dictation grammars accept any sequence.
func (g *Grammar) Interpret(tokens []string) (instance string, ok bool) {
	if g.Dictation {
		return strings.Join(tokens, " "), true
	}
	s := g.search(tokens, false)
	if !s.found {
		return "", false
	}
	return g.evaluate(s.full), true
}

// Package grammar parses the speech and DTMF grammars MRCP clients send (W3C SRGS 1.0 in its XML
// and ABNF forms, and the builtin: grammars of RFC 6787 / UniMRCP), matches token sequences and
// DTMF digits against them with SISR semantic interpretation, and converts them to JSGF for
// engines such as PocketSphinx.
//
// It is the one home of grammar semantics for mrcpd and its engines alike, which is why it lives
// below asr and imports nothing of MRCP: mrcpd's RECOGNIZE state machine (mrcp/server/recog)
// matches DTMF keys with DTMFMatcher and gives every engine's transcript its grammar and instance
// with Tokens and Interpret, and the plugins (plugins/internal/vendorkit, pocketsphinx) parse and
// interpret with the same code.
//
// A Grammar is immutable once built and safe for concurrent use.
package grammar

import (
	"sort"
	"strings"
)

// Media types accepted by Parse.
const (
	TypeSRGSXML  = "application/srgs+xml"
	TypeSRGSABNF = "application/srgs"
)

// Modes of a grammar (SRGS §4.6).
const (
	ModeVoice = "voice"
	ModeDTMF  = "dtmf"
)

// Grammar is a parsed grammar.
type Grammar struct {
	Mode      string // ModeVoice or ModeDTMF
	Root      string // id of the root rule; "" for dictation
	Lang      string // xml:lang / language declaration, "" if absent
	TagFormat string // e.g. semantics/1.0, semantics/1.0-literals; "" if absent
	URI       string // the builtin: URI for builtin grammars, "" otherwise
	Dictation bool   // builtin:speech/transcribe: free speech, no rules

	rules map[string]*rule
	order []string // rule ids in definition order, for stable output
}

type rule struct {
	id     string
	public bool
	body   *node
	line   int
}

type nodeKind uint8

const (
	kSeq     nodeKind = iota // items in order
	kAlt                     // one of items; weights parallel to items
	kToken                   // one word or DTMF key
	kRef                     // reference to rule text
	kNull                    // special rule NULL: matches nothing, always succeeds
	kVoid                    // special rule VOID: never matches
	kGarbage                 // special rule GARBAGE: any (possibly empty) run of tokens
	kTag                     // semantic tag, source in text
	kRepeat                  // items[0] repeated min..max times (max < 0: unbounded)
)

type node struct {
	kind    nodeKind
	items   []*node
	weights []float64 // kAlt: 0 means unspecified (1.0)
	text    string
	min     int
	max     int
	prob    float64  // kRepeat: repeat-prob, 0 if unspecified
	prog    *program // kTag: compiled once by finish
	line    int
}

// Limits that keep hostile or accidental grammars from exhausting memory or CPU.
const (
	maxRepeat     = 1000  // largest repeat bound accepted
	maxNodes      = 50000 // nodes per grammar
	maxDepth      = 200   // rule reference nesting while matching
	matchBudget   = 200000
	maxJSGFRepeat = 64      // bounded repeats expand into this many copies at most
	maxJSGFSize   = 1 << 20 // bytes of JSGF: nested repeats grow the text exponentially
	maxNesting    = 100     // element / group nesting in a grammar document
)

// Rules lists the rule ids in definition order.
func (g *Grammar) Rules() []string { return append([]string(nil), g.order...) }

// Words lists the distinct tokens of the grammar, lower-cased, sorted: the vocabulary an engine
// needs in its dictionary. Dictation grammars have none.
func (g *Grammar) Words() []string {
	seen := map[string]bool{}
	for _, id := range g.order {
		walk(g.rules[id].body, func(n *node) {
			if n.kind == kToken {
				seen[strings.ToLower(n.text)] = true
			}
		})
	}
	words := make([]string, 0, len(seen))
	for w := range seen {
		words = append(words, w)
	}
	sort.Strings(words)
	return words
}

func walk(n *node, f func(*node)) {
	f(n)
	for _, c := range n.items {
		walk(c, f)
	}
}

// finish checks references and the root after a parser has filled in the rules.
func (g *Grammar) finish() error {
	if len(g.order) == 0 {
		return errorf(CauseCompileFailure, ErrEmptyGrammar, 0, "", "no rules defined")
	}
	if g.Root == "" {
		// SRGS requires a root for a top-level grammar; MRCP clients often omit it, and every
		// engine we know then takes the first public rule, else the first rule.
		g.Root = g.order[0]
		for _, id := range g.order {
			if g.rules[id].public {
				g.Root = id
				break
			}
		}
	}
	if err := g.importBuiltins(); err != nil {
		return err
	}
	if _, ok := g.rules[g.Root]; !ok {
		return errorf(CauseCompileFailure, ErrUnknownRule, 0, "root", "root rule %q is not defined", g.Root)
	}
	count := 0
	for _, id := range g.order {
		var err error
		walk(g.rules[id].body, func(n *node) {
			count++
			if err == nil && n.kind == kRef {
				if _, ok := g.rules[n.text]; !ok {
					err = errorf(CauseCompileFailure, ErrUnknownRule, n.line, "<ruleref>", "rule %q referenced from rule %q is not defined", n.text, id)
				}
			}
			if err == nil && n.kind == kTag && n.prog == nil { // imported builtins come compiled
				prog, perr := g.compileTag(n.text)
				if perr != nil {
					err = errorf(CauseCompileFailure, ErrSemantics, n.line, "<tag>", "in rule %q: %v", id, perr)
				}
				n.prog = prog
			}
		})
		if err != nil {
			return err
		}
	}
	if count > maxNodes {
		return errorf(CauseCompileFailure, ErrTooLarge, 0, "", "%d nodes, more than %d", count, maxNodes)
	}
	return nil
}

// addRule registers a rule, refusing duplicates.
func (g *Grammar) addRule(r *rule) error {
	if g.rules == nil {
		g.rules = map[string]*rule{}
	}
	if _, dup := g.rules[r.id]; dup {
		return errorf(CauseCompileFailure, ErrDuplicateRuleID, r.line, "rule "+r.id, "rule %q defined twice", r.id)
	}
	g.rules[r.id] = r
	g.order = append(g.order, r.id)
	return nil
}

// Parse parses an inline or DEFINE-GRAMMAR body of the given media type (parameters such as
// charset are ignored). Errors are *Error.
func Parse(contentType string, body []byte) (*Grammar, error) {
	mt := strings.ToLower(strings.TrimSpace(contentType))
	if i := strings.IndexByte(mt, ';'); i >= 0 {
		mt = strings.TrimSpace(mt[:i])
	}
	switch mt {
	case TypeSRGSXML:
		return parseXML(body)
	case TypeSRGSABNF:
		return parseABNF(body)
	}
	return nil, errorf(CauseLoadFailure, ErrMediaType, 0, "", "media type %q is not supported (want %s or %s)", contentType, TypeSRGSXML, TypeSRGSABNF)
}

// isDTMFKey reports whether r is a DTMF key (SRGS §2.2.1 plus A-D).
func isDTMFKey(r rune) bool {
	return r >= '0' && r <= '9' || r == '*' || r == '#' || r >= 'A' && r <= 'D' || r >= 'a' && r <= 'd'
}

// tokenize splits SRGS text into tokens. In DTMF mode "123" is three keys, since grammar authors
// write DTMF sequences both with and without spaces.
func tokenize(text string, mode string) []string {
	fields := strings.Fields(text)
	if mode != ModeDTMF {
		return fields
	}
	var out []string
	for _, f := range fields {
		f = strings.ToUpper(f) // keys A-D: grammars and telephones disagree on case
		all := true
		for _, r := range f {
			if !isDTMFKey(r) {
				all = false
				break
			}
		}
		if !all || len(f) == 1 {
			out = append(out, f)
			continue
		}
		for _, r := range f {
			out = append(out, string(r))
		}
	}
	return out
}

func tokenNodes(text, mode string, line int) []*node {
	var ns []*node
	for _, t := range tokenize(text, mode) {
		ns = append(ns, &node{kind: kToken, text: t, line: line})
	}
	return ns
}

// CheckLanguage fails with Completion-Cause 010 language-unsupported when the grammar declares a
// language (xml:lang / language) that matches none of supported. Tags match on the primary
// subtag ("en-GB" is accepted by an "en-US" engine); a grammar without a language, and DTMF
// grammars, are always accepted.
func (g *Grammar) CheckLanguage(supported ...string) error {
	if g.Lang == "" || g.Mode == ModeDTMF {
		return nil
	}
	primary := func(tag string) string {
		p, _, _ := strings.Cut(strings.ReplaceAll(tag, "_", "-"), "-")
		return strings.ToLower(p)
	}
	for _, s := range supported {
		if primary(s) == primary(g.Lang) {
			return nil
		}
	}
	return errorf(CauseLanguage, ErrLanguage, 0, "xml:lang", "language %q is not supported (engine: %s)", g.Lang, strings.Join(supported, ", "))
}

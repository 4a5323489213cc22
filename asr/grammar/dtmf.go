package grammar

import (
	"strings"
	"unicode"
)

// MatchState is how far a DTMF key sequence has got through a grammar.
type MatchState int

const (
	NoMatch    MatchState = iota // no sentence of the grammar starts with these keys
	Incomplete                   // a proper prefix of a sentence, not a sentence itself
	Complete                     // a sentence that further keys could extend
	Final                        // a sentence that no key can extend: the recognition is over
)

func (s MatchState) String() string {
	switch s {
	case NoMatch:
		return "no-match"
	case Incomplete:
		return "incomplete"
	case Complete:
		return "complete"
	case Final:
		return "final"
	}
	return "state(?)"
}

// DTMFMatcher follows a key sequence through a grammar one key at a time. It is not safe for
// concurrent use; a grammar may have any number of matchers.
type DTMFMatcher struct {
	g      *Grammar
	keys   []string
	state  MatchState
	interp string
}

// NewDTMFMatcher starts a matcher with no keys pressed. Voice and dictation grammars never match.
func (g *Grammar) NewDTMFMatcher() *DTMFMatcher {
	m := &DTMFMatcher{g: g}
	if g.Dictation || g.Mode != ModeDTMF {
		m.state = NoMatch
		return m
	}
	m.update()
	return m
}

// Push adds a key (0-9, *, #, A-D) and returns the new state. After NoMatch every key is
// NoMatch: the host ends the recognition with a no-match.
func (m *DTMFMatcher) Push(d rune) MatchState {
	m.keys = append(m.keys, string(unicode.ToUpper(d)))
	if m.state == NoMatch || m.g.Mode != ModeDTMF || m.g.Dictation {
		m.state, m.interp = NoMatch, ""
		return m.state
	}
	m.update()
	return m.state
}

// update re-runs the search over all keys: DTMF input is a handful of keys, and a fresh search
// keeps the matcher exact for ambiguous grammars without an incremental NFA.
func (m *DTMFMatcher) update() {
	s := m.g.search(m.keys, true)
	switch {
	case s.found && s.wantsMore:
		m.state = Complete
	case s.found:
		m.state = Final
	case s.wantsMore:
		m.state = Incomplete
	default:
		m.state = NoMatch
	}
	m.interp = ""
	if s.found {
		m.interp = m.g.evaluate(s.full)
	}
}

// State is the state after the last Push.
func (m *DTMFMatcher) State() MatchState { return m.state }

// Digits is every key pushed, concatenated ("1234#").
func (m *DTMFMatcher) Digits() string { return strings.Join(m.keys, "") }

// Interpretation is the SISR result of the keys when they form a sentence (Complete or Final):
// the tags' out, or the keys concatenated when the grammar has no tags. "" otherwise.
func (m *DTMFMatcher) Interpretation() string { return m.interp }

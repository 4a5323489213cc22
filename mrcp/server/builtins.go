package server

import (
	"sync"

	"github.com/mrcpd/mrcpd/asr/grammar"
)

// maxBuiltins bounds the parsed builtin grammars kept: a URI's parameters are the client's to
// choose (builtin:dtmf/digits?length=1 ... ?length=1000), the handful a deployment uses are not.
const maxBuiltins = 64

// builtinGrammars parses each builtin: URI once for every session: a DTMF menu's RECOGNIZEs name
// the same few, and each parse was 2-9 KB held for the recognition (docs/performance.md). A
// grammar.Grammar is immutable once built and safe for concurrent use, so one can be shared.
type builtinGrammars struct {
	mu sync.Mutex
	m  map[string]*grammar.Grammar
}

// get returns the parsed grammar of a builtin: URI, parsing it on first use. Errors are not
// kept: a bad URI costs its parse each time, as before.
func (b *builtinGrammars) get(uri string) (*grammar.Grammar, error) {
	b.mu.Lock()
	g := b.m[uri]
	b.mu.Unlock()
	if g != nil {
		return g, nil
	}
	g, err := grammar.Builtin(uri)
	if err != nil {
		return nil, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.m == nil {
		b.m = map[string]*grammar.Grammar{}
	}
	if kept := b.m[uri]; kept != nil {
		return kept, nil
	}
	if len(b.m) < maxBuiltins {
		b.m[uri] = g
	}
	return g, nil
}

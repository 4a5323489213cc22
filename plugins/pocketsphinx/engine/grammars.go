package engine

import (
	"github.com/mrcpd/mrcpd/asr"
	"github.com/mrcpd/mrcpd/asr/grammar"
)

// grammarSource is what a parsed grammar (asr/grammar) offers the engine.
type grammarSource interface {
	Words() []string
	ToJSGF() (string, error)
	Interpret(tokens []string) (instance string, ok bool)
}

// compileSource converts a parsed grammar for the decoder.
func (e *Engine) compileSource(id string, g grammarSource) (*compiled, error) {
	jsgf, err := g.ToJSGF()
	if err != nil {
		return nil, asr.Errorf(asr.ErrBadGrammar, false, "grammar %s: %v", id, err)
	}
	return e.newCompiled(id, jsgf, g.Words(), g.Interpret), nil
}

// compileGrammar parses a grammar the host resolved (builtin URI, or an inline / session body).
func (e *Engine) compileGrammar(g asr.Grammar) (*compiled, error) {
	var (
		pg  *grammar.Grammar
		err error
	)
	if g.URI != "" && len(g.Body) == 0 {
		pg, err = grammar.Builtin(g.URI)
	} else {
		pg, err = grammar.Parse(g.ContentType, g.Body)
	}
	if err != nil {
		return nil, asr.Errorf(asr.ErrBadGrammar, false, "grammar %s: %v", g.ID, err)
	}
	if pg.Mode == grammar.ModeDTMF {
		return nil, nil
	}
	if pg.Dictation {
		return &compiled{id: g.ID, dictation: true}, nil
	}
	return e.compileSource(g.ID, pg)
}

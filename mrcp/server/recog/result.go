package recog

import (
	"github.com/mrcpd/mrcpd/asr"
	"github.com/mrcpd/mrcpd/asr/grammar"
	"github.com/mrcpd/mrcpd/mrcp"
	"github.com/mrcpd/mrcpd/mrcp/nlsml"
)

// final turns the engine's n-best list into NLSML (§9.6). Alternatives below
// Confidence-Threshold (§9.4.1) are dropped, and so is a transcript that none of the grammars the
// host can read accepts: out-of-grammar speech is a no-match (§9.4.11 001), whatever the engine.
// With nothing left, the request completes with 001 no-match (015 after Recognition-Timeout).
func (m *Machine) final(alts []asr.Alternative) {
	res := &nlsml.Result{}
	for _, a := range alts {
		if a.Confidence < m.set.Threshold {
			continue
		}
		inst, gid, ok := a.Interpretation, a.Grammar, true
		if inst == "" {
			// Engines that only transcribe leave semantics to the host: the SISR tags of the
			// grammar the words match (e.g. out="billing";) give the <instance>.
			inst, gid, ok = m.interpret(a.Text, gid)
		}
		if !ok {
			continue
		}
		mode := a.Mode
		if mode == "" {
			mode = "speech"
		}
		res.Interpretations = append(res.Interpretations, nlsml.Interpretation{Grammar: gid,
			Confidence: a.Confidence, Instance: inst, Input: a.Text, Mode: mode})
	}
	if len(res.Interpretations) == 0 {
		m.complete(m.noMatchCause(), nil, "")
		return
	}
	m.startOfInput() // an engine that reported no speech still heard some
	cause := mrcp.RecogSuccess
	if m.maxtime {
		cause = mrcp.RecogSuccessMaxtime
	}
	m.complete(cause, res, "")
}

// interpret gives a transcript its grammar and instance with grammar.Interpret, the policy of
// every engine (vendorkit applies the same function in the plugins). ok is false when no grammar
// accepts the text, unless Settings.FreeText keeps it as its own instance. Without voice grammars
// there is nothing to judge by and the engine's transcript stands.
func (m *Machine) interpret(text, gid string) (inst, id string, ok bool) {
	if id, inst, ok := grammar.Interpret(m.voice, text, gid); ok {
		return inst, id, true
	}
	if gid == "" && len(m.voice) > 0 {
		gid = m.voice[0].ID
	}
	return text, gid, len(m.voice) == 0 || m.set.FreeText
}

// incomplete reports whether the engine's latest partial is a prefix that no voice grammar the
// host can read accepts yet. Without partials, or with grammars only the engine reads, speech
// counts as complete.
func incomplete(voice []Grammar, partial string) bool {
	toks := grammar.Tokens(partial)
	if len(toks) == 0 {
		return false
	}
	judged := false
	for _, g := range voice {
		if g.G == nil {
			continue
		}
		judged = true
		if _, ok := g.G.Interpret(toks); ok {
			return false
		}
	}
	return judged
}

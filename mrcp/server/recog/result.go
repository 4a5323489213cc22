package recog

import (
	"strings"

	"github.com/mrcpd/mrcpd/asr"
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

// interpret runs text through the voice grammars the host can read. ok is false when there are
// such grammars and none accepts the text, unless Settings.FreeText keeps it as its own instance.
// With only engine-read grammars the engine's transcript stands.
func (m *Machine) interpret(text, gid string) (inst, id string, ok bool) {
	toks := tokens(text)
	judged := false
	for _, g := range m.voice {
		if g.G == nil || (gid != "" && gid != g.ID) {
			continue
		}
		judged = true
		if inst, ok := g.G.Interpret(toks); ok {
			return inst, g.ID, true
		}
	}
	if gid == "" && len(m.voice) > 0 {
		gid = m.voice[0].ID
	}
	return text, gid, !judged || m.set.FreeText
}

// incomplete reports whether the engine's latest partial is a prefix that no voice grammar the
// host can read accepts yet. Without partials, or with grammars only the engine reads, speech
// counts as complete.
func incomplete(voice []Grammar, partial string) bool {
	toks := tokens(strings.ToLower(partial))
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

func tokens(text string) []string { return strings.Fields(text) }

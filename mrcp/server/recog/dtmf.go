package recog

import (
	"github.com/mrcpd/mrcpd/asr/grammar"
	"github.com/mrcpd/mrcpd/mrcp"
	"github.com/mrcpd/mrcpd/mrcp/nlsml"
)

// digit runs one key against the DTMF grammars: DTMF-Term-Char (§9.4.19) ends the input, a
// complete sentence that more keys could extend waits DTMF-Term-Timeout (§9.4.18), a prefix waits
// DTMF-Interdigit-Timeout (§9.4.17). Keys mean nothing to a request without DTMF grammars.
func (m *Machine) digit(d rune) {
	if len(m.dtmf) == 0 {
		return
	}
	m.startOfInput()
	m.stopTimer(InterdigitTimer)
	m.stopTimer(TermTimer)
	if m.set.TermChar != 0 && d == m.set.TermChar {
		if s := m.dtmfState(); s == grammar.Complete || s == grammar.Final {
			m.completeDTMF(mrcp.RecogSuccess)
		} else {
			m.complete(mrcp.RecogNoMatch, nil, "")
		}
		return
	}
	best := grammar.NoMatch
	for _, g := range m.dtmf {
		if g.m.State() == grammar.NoMatch && len(g.m.Digits()) > 0 {
			continue
		}
		best = max(best, g.m.Push(d))
	}
	switch best {
	case grammar.Final:
		m.completeDTMF(mrcp.RecogSuccess)
	case grammar.Complete:
		if m.set.TermTimeout <= 0 {
			m.completeDTMF(mrcp.RecogSuccess)
			return
		}
		m.startTimer(TermTimer, m.set.TermTimeout)
	case grammar.Incomplete:
		if m.set.Interdigit > 0 {
			m.startTimer(InterdigitTimer, m.set.Interdigit)
		}
	default:
		m.complete(mrcp.RecogNoMatch, nil, "")
	}
}

// dtmfState is the furthest any DTMF grammar got with the keys so far.
func (m *Machine) dtmfState() grammar.MatchState {
	best := grammar.NoMatch
	for _, g := range m.dtmf {
		if len(g.m.Digits()) > 0 {
			best = max(best, g.m.State())
		}
	}
	return best
}

// completeDTMF completes with the NLSML of the first DTMF grammar the keys complete (§9.6,
// mode="dtmf").
func (m *Machine) completeDTMF(cause mrcp.RecogCause) {
	for _, g := range m.dtmf {
		if s := g.m.State(); s != grammar.Complete && s != grammar.Final {
			continue
		}
		digits := g.m.Digits()
		inst := g.m.Interpretation()
		if inst == "" {
			inst = digits
		}
		m.complete(cause, &nlsml.Result{Interpretations: []nlsml.Interpretation{{
			Grammar: g.id, Confidence: 1, Instance: inst, Input: digits, Mode: "dtmf"}}}, "")
		return
	}
	m.complete(m.noMatchCause(), nil, "")
}

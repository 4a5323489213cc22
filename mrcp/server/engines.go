package server

import (
	"context"
	"time"

	"github.com/mrcpd/mrcpd/asr"
	"github.com/mrcpd/mrcpd/mrcp"
)

// Engines finds engines by name (*asr.Registry implements it), for the per-call and per-request
// choice of issue #6: the SIP Request-URI user part (mod_unimrcp's server-username) and the
// Vendor-Specific-Parameters pair engine=<name>. The name "" is the default engine.
type Engines interface {
	Recognizer(name string) (asr.Recognizer, error)
	Synthesizer(name string) (asr.Synthesizer, error)
	// SynthesizerForVoice is the synthesizer a SPEAK's Voice-Name selects, else the default.
	SynthesizerForVoice(ctx context.Context, voice string) (asr.Synthesizer, string, error)
}

// engineParam is the vendor parameter that picks the engine of one request.
const engineParam = "engine"

// requestEngine is the engine= vendor parameter of m (or of the channel's SET-PARAMS); its syntax
// errors are reported by the request's own parameter checks.
func requestEngine(ch *channel, m *mrcp.Message) string {
	p := &params{ch: ch, m: m}
	v, _ := vendorKey(p.vendor(), engineParam)
	return v
}

// enginePick is one request's recognizer, resolved at most once, when the request first needs it
// (a grammar type only an engine reads, or voice grammars): every step of a request then uses the
// same engine and declaration, a reload in between notwithstanding. A DTMF-only request never
// resolves one.
type enginePick struct {
	se       *session
	engine   string // the request's engine=; "" for the call's or the default
	resolved bool
	r        asr.Recognizer
	info     asr.RecognizerInfo
	name     string
	err      error
}

func (se *session) newEnginePick(engine string) *enginePick {
	return &enginePick{se: se, engine: engine}
}

// get resolves the recognizer (first call) and returns it with its declaration and name.
func (p *enginePick) get() (asr.Recognizer, asr.RecognizerInfo, string, error) {
	if !p.resolved {
		p.resolved = true
		p.r, p.name, p.err = p.se.recognizerFor(p.engine)
		if p.err == nil {
			p.info, _ = p.se.srv.recognizerInfo(p.name, p.r)
		}
	}
	return p.r, p.info, p.name, p.err
}

// recognizerFor picks a request's recognizer: the one engine= names (it must exist), else the one
// the call's Request-URI user names when there is one, else the default. name is "" for the
// default.
func (se *session) recognizerFor(engine string) (r asr.Recognizer, name string, err error) {
	b := se.srv.cfg.Backends
	if b.Named != nil {
		if engine != "" {
			r, err = b.Named.Recognizer(engine)
			return r, engine, err
		}
		if se.user != "" {
			if r, err := b.Named.Recognizer(se.user); err == nil {
				return r, se.user, nil
			}
		}
		if b.Recognizer == nil {
			r, err = b.Named.Recognizer("")
			return r, "", err
		}
	}
	if b.Recognizer == nil {
		return nil, "", asr.Errorf(asr.ErrUnavailable, false, "no recognizer configured for voice grammars")
	}
	return b.Recognizer, "", nil
}

// synthesizerFor picks a SPEAK's synthesizer as recognizerFor does, the default being the one
// its Voice-Name selects (a plugin name, or a voice one of them lists).
func (se *session) synthesizerFor(engine, voice string) (asr.Synthesizer, error) {
	b := se.srv.cfg.Backends
	if b.Named != nil {
		if engine != "" {
			return b.Named.Synthesizer(engine)
		}
		if se.user != "" {
			if s, err := b.Named.Synthesizer(se.user); err == nil {
				return s, nil
			}
		}
		if b.Synthesizer == nil {
			ctx, cancel := context.WithTimeout(se.ctx, 5*time.Second)
			defer cancel()
			s, _, err := b.Named.SynthesizerForVoice(ctx, voice)
			return s, err
		}
	}
	if b.Synthesizer == nil {
		return nil, asr.Errorf(asr.ErrUnavailable, false, "no synthesizer configured")
	}
	return b.Synthesizer, nil
}

// recognizerInfo is a recognizer's declaration, fetched once per engine name.
func (s *Server) recognizerInfo(name string, r asr.Recognizer) (asr.RecognizerInfo, bool) {
	if r == nil {
		return asr.RecognizerInfo{}, false
	}
	s.infoMu.Lock()
	info, ok := s.infos[name]
	s.infoMu.Unlock()
	if ok {
		return info, true
	}
	ctx, cancel := context.WithTimeout(s.baseCtx, 5*time.Second)
	defer cancel()
	info, err := r.Info(ctx)
	if err != nil {
		s.log.Warn("recognizer info", "engine", name, "err", err)
		return asr.RecognizerInfo{}, false
	}
	s.infoMu.Lock()
	if s.infos == nil {
		s.infos = map[string]asr.RecognizerInfo{}
	}
	s.infos[name] = info
	s.infoMu.Unlock()
	return info, true
}

package server

import (
	"context"
	"time"

	"github.com/mrcpd/mrcpd/asr"
	"github.com/mrcpd/mrcpd/mrcp"
)

// Engines finds engines by name (*asr.Registry implements it), for the per-call and per-request
// choice of issue #6: the SIP Request-URI user part (mod_unimrcp's server-username) and the
// Vendor-Specific-Parameters pair engine=<name>.
type Engines interface {
	Recognizer(name string) (asr.Recognizer, error)
	Synthesizer(name string) (asr.Synthesizer, error)
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
	}
	if b.Recognizer == nil {
		return nil, "", asr.Errorf(asr.ErrUnavailable, false, "no recognizer configured for voice grammars")
	}
	return b.Recognizer, "", nil
}

// pickRecognizer is recognizerFor with the engine's declaration, for one request.
func (se *session) pickRecognizer(engine string) (asr.Recognizer, asr.RecognizerInfo, string, error) {
	backend, name, err := se.recognizerFor(engine)
	if err != nil {
		return nil, asr.RecognizerInfo{}, name, err
	}
	info, _ := se.srv.recognizerInfo(name, backend)
	return backend, info, name, nil
}

// synthesizerFor is recognizerFor for SPEAK.
func (se *session) synthesizerFor(engine string) (asr.Synthesizer, error) {
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

package server

import (
	"errors"
	"strings"
	"time"

	"github.com/mrcpd/mrcpd/asr/grammar"
	"github.com/mrcpd/mrcpd/mrcp"
	"github.com/mrcpd/mrcpd/mrcp/nlsml"
	"github.com/mrcpd/mrcpd/mrcp/server/recog"
)

// Recognizer states of RFC 6787 §9.1: IDLE, RECOGNIZING (active != nil), RECOGNIZED (result set
// and active == nil).
type recognizer struct {
	ch       *channel
	grammars map[string]*grammarDef // DEFINE-GRAMMAR and inline grammars by Content-Id (§9.8)
	active   *recognition
	result   *nlsml.Result // of the last completed recognition, for GET-RESULT (§9.10)
}

// grammarDef is a grammar the client gave us, parsed when we understand its type.
type grammarDef struct {
	id          string // what NLSML names it by: session:<id>, the builtin URI, or the Content-Id
	contentType string
	body        []byte
	g           *grammar.Grammar // nil for types only the voice backend understands
	mode        string
}

func newRecognizer(ch *channel) *recognizer {
	return &recognizer{ch: ch, grammars: map[string]*grammarDef{}}
}

func (r *recognizer) inputSince() (time.Time, bool) {
	if r.active == nil {
		return time.Time{}, false
	}
	return r.active.started, true
}

func (r *recognizer) request(m *mrcp.Message) (*mrcp.Message, error) {
	switch m.Name {
	case mrcp.MethodDefineGrammar:
		return r.defineGrammar(m)
	case mrcp.MethodRecognize:
		return r.recognize(m)
	case mrcp.MethodGetResult:
		return r.getResult(m)
	case mrcp.MethodStartInputTimers:
		return r.startInputTimers(m)
	case mrcp.MethodStop:
		return r.stopRequest(m)
	}
	return nil, &mrcp.StatusError{Code: mrcp.Status407, Reason: m.Name + " is not implemented"}
}

// defineGrammar implements §9.8: the grammar is compiled now so that errors surface here, and kept
// for session:<Content-Id> references. The reply mirrors the UniMRCP server: 200 COMPLETE with
// Completion-Cause 000 success.
func (r *recognizer) defineGrammar(m *mrcp.Message) (*mrcp.Message, error) {
	if r.active != nil {
		return nil, &mrcp.StatusError{Code: mrcp.Status402, Reason: "DEFINE-GRAMMAR while recognizing"}
	}
	id := strings.Trim(m.Header.Value(mrcp.HeaderContentID), "<>")
	if len(m.Body) == 0 {
		// §9.8: an empty DEFINE-GRAMMAR with a Content-Id deletes that grammar.
		if id != "" {
			delete(r.grammars, id)
		}
		return completeWith(m, mrcp.Status200, mrcp.RecogSuccess.String()), nil
	}
	if id == "" {
		return nil, &mrcp.StatusError{Code: mrcp.Status406, Header: mrcp.HeaderContentID, Reason: "DEFINE-GRAMMAR needs a Content-Id"}
	}
	if err := r.grammarsFit(id, len(m.Body)); err != nil {
		return nil, err
	}
	def, err := r.parseGrammar(r.ch.se.newEnginePick(requestEngine(r.ch, m)), "session:"+id, m.Header.Value(mrcp.HeaderContentType), m.Body)
	if err != nil {
		return grammarFailure(m, err), nil
	}
	r.grammars[id] = def
	return completeWith(m, mrcp.Status200, mrcp.RecogSuccess.String()), nil
}

func (r *recognizer) parseGrammar(pick *enginePick, id, contentType string, body []byte) (*grammarDef, error) {
	def := &grammarDef{id: id, contentType: contentType, body: body, mode: grammar.ModeVoice}
	g, err := grammar.Parse(contentType, body)
	var ge *grammar.Error
	switch {
	case err == nil:
		def.g, def.mode = g, g.Mode
	case errors.As(err, &ge) && errors.Is(err, grammar.ErrMediaType) && voiceAccepts(pick, contentType):
		// A type only the engine knows (e.g. a phrase list): it judges the grammar itself.
	default:
		return nil, err
	}
	return def, nil
}

// voiceAccepts reports whether the engine that serves the request reads this grammar type.
func voiceAccepts(pick *enginePick, contentType string) bool {
	_, info, _, err := pick.get()
	if err != nil {
		return false
	}
	mt, _, _ := strings.Cut(contentType, ";")
	for _, t := range info.GrammarTypes {
		if strings.EqualFold(strings.TrimSpace(mt), t) {
			return true
		}
	}
	return false
}

// grammarFailure answers a request whose grammar cannot be used: 407 with the Completion-Cause of
// §9.4.11 (004 load, 005 compilation, 009 uri ...).
func grammarFailure(m *mrcp.Message, err error) *mrcp.Message {
	cause := mrcp.RecogGrammarCompilationFailure.String()
	var ge *grammar.Error
	if errors.As(err, &ge) {
		cause = ge.CompletionCause()
	}
	resp := completeWith(m, mrcp.Status407, cause)
	resp.Header.Set(mrcp.HeaderCompletionReason, oneLine(err.Error()))
	return resp
}

func completeWith(m *mrcp.Message, code int, cause string) *mrcp.Message {
	resp := m.NewResponse(code, mrcp.StateComplete)
	resp.Header.Set(mrcp.HeaderCompletionCause, cause)
	return resp
}

func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '\r' || r == '\n' {
			return ' '
		}
		return r
	}, s)
}

// grammarsOf resolves the grammars of a RECOGNIZE (§9.9): a text/uri-list of session:, builtin:
// URIs, or an inline grammar (kept under its Content-Id, if any).
func (r *recognizer) grammarsOf(m *mrcp.Message, pick *enginePick) ([]*grammarDef, error) {
	ct := m.Header.ContentType()
	if len(m.Body) == 0 {
		return nil, &grammar.Error{Cause: grammar.CauseLoadFailure, Msg: "RECOGNIZE without a grammar", Err: grammar.ErrEmptyGrammar}
	}
	if ct != "text/uri-list" {
		id := m.Header.ContentID()
		name := "session:" + id
		if id == "" {
			name = "inline"
		}
		def, err := r.parseGrammar(pick, name, ct, m.Body)
		if err != nil {
			return nil, err
		}
		if id != "" {
			if err := r.grammarsFit(id, len(m.Body)); err != nil {
				return nil, err
			}
			r.grammars[id] = def
		}
		return []*grammarDef{def}, nil
	}
	uris, err := mrcp.ParseURIList(m.Body)
	if err != nil {
		// §9.4.11: a grammar list that names no grammar is a load failure (407, 004).
		return nil, &grammar.Error{Cause: grammar.CauseLoadFailure, Msg: err.Error(), Err: grammar.ErrEmptyGrammar}
	}
	defs := make([]*grammarDef, 0, len(uris))
	for _, uri := range uris {
		def, err := r.resolveURI(uri)
		if err != nil {
			return nil, err
		}
		defs = append(defs, def)
	}
	return defs, nil
}

func (r *recognizer) resolveURI(uri string) (*grammarDef, error) {
	switch {
	case strings.HasPrefix(uri, "session:"):
		id := strings.Trim(strings.TrimPrefix(uri, "session:"), "<>")
		def, ok := r.grammars[id]
		if !ok {
			return nil, &grammar.Error{Cause: grammar.CauseURIFailure, Where: uri, Msg: "no grammar defined with this Content-Id", Err: grammar.ErrUnknownRule}
		}
		return def, nil
	case strings.HasPrefix(uri, "builtin:"):
		g, err := r.ch.se.srv.builtins.get(uri)
		if err != nil {
			return nil, err
		}
		return &grammarDef{id: uri, g: g, mode: g.Mode}, nil
	}
	// Fetching http(s) grammars is not supported: RFC 6787 §9.4.11 009 uri-failure.
	return nil, &grammar.Error{Cause: grammar.CauseURIFailure, Where: uri, Msg: "cannot fetch grammar URIs", Err: grammar.ErrMediaType}
}

// recognize implements §9.9.
func (r *recognizer) recognize(m *mrcp.Message) (*mrcp.Message, error) {
	p := &params{ch: r.ch, m: m}
	if r.active != nil {
		// §9.4.27 Cancel-If-Queue of the request in progress decides: true cancels it, false
		// would queue the new one, which this server does not do (it answers 402).
		if !r.active.cancelIfQueue {
			return nil, &mrcp.StatusError{Code: mrcp.Status402, Reason: "a recognition is in progress"}
		}
		r.active.handle(recog.Cancel{})
	}
	rec := newRecognition(r.env(), m, p)
	r.captureParams(rec, p)
	if p.err != nil {
		return nil, p.err
	}
	engine, _ := vendorKey(rec.vendor, engineParam)
	rec.pick = r.ch.se.newEnginePick(engine)
	defs, err := r.grammarsOf(m, rec.pick)
	if err != nil {
		return grammarFailure(m, err), nil
	}
	var voice []*grammarDef
	for _, d := range defs {
		if d.mode != grammar.ModeDTMF || d.g == nil {
			voice = append(voice, d)
		}
	}
	r.result = nil
	r.active = rec
	r.startCapture(rec)
	// mod_unimrcp treats anything but 200 IN-PROGRESS as a failed RECOGNIZE.
	r.ch.send(m.NewResponse(mrcp.Status200, mrcp.StateInProgress))
	var startErr error
	if len(voice) > 0 {
		startErr = rec.startVoice(voice)
	}
	rec.start(defs)
	if startErr != nil {
		rec.handle(recog.EngineEnded{Err: startErr})
	}
	return nil, nil
}

// env is what this channel's recognitions are given.
func (r *recognizer) env() recogEnv {
	ch, se := r.ch, r.ch.se
	cfg := &se.srv.cfg
	return recogEnv{
		channel:  ch.id,
		log:      ch.log,
		now:      cfg.Clock.Now,
		after:    se.after,
		send:     ch.send,
		complete: r.complete,
		active:   func(rec *recognition) bool { return r.active == rec },
		finalize: cfg.FinalizeTimeout,
		freeText: cfg.FreeText,
		engines: engineSource{ctx: se.ctx, wg: &se.wg, post: se.post, postEvent: se.postEvent,
			rate: cfg.InputRate, newEndpointer: cfg.NewEndpointer, input: ch.input},
	}
}

// complete ends the active recognition with RECOGNITION-COMPLETE (§9.14).
func (r *recognizer) complete(rec *recognition, cause mrcp.RecogCause, res *nlsml.Result) {
	if r.active != rec {
		return
	}
	rec.close()
	r.active = nil
	ev := r.ch.event(mrcp.EventRecognitionComplete, rec.id, mrcp.StateComplete)
	ev.Header.Set(mrcp.HeaderCompletionCause, cause.String())
	if res != nil {
		r.result = res
		ev.Header.Set(mrcp.HeaderContentType, "application/x-nlsml")
		ev.Body = res.Marshal()
	}
	r.finish(rec, endComplete, cause.String(), res, ev)
	r.ch.se.srv.cfg.Metrics.completion(ResourceRecog, cause.String())
	r.ch.send(ev)
}

// getResult implements §9.10: the last result, in the RECOGNIZED state only.
func (r *recognizer) getResult(m *mrcp.Message) (*mrcp.Message, error) {
	if r.active != nil || r.result == nil {
		return nil, &mrcp.StatusError{Code: mrcp.Status402, Reason: "no recognition result"}
	}
	resp := m.NewResponse(mrcp.Status200, mrcp.StateComplete)
	resp.Header.Set(mrcp.HeaderContentType, "application/x-nlsml")
	resp.Body = r.result.Marshal()
	return resp, nil
}

// startInputTimers implements §9.12. After the recognition ended (mod_unimrcp sends it when its
// prompt ends, which may be after a quick DTMF result) it is a harmless no-op.
func (r *recognizer) startInputTimers(m *mrcp.Message) (*mrcp.Message, error) {
	if rec := r.active; rec != nil {
		rec.startInputTimers()
	}
	return m.NewResponse(mrcp.Status200, mrcp.StateComplete), nil
}

// stopRequest implements §9.11: the stopped RECOGNIZE gets no RECOGNITION-COMPLETE; the response
// names it in Active-Request-Id-List.
func (r *recognizer) stopRequest(m *mrcp.Message) (*mrcp.Message, error) {
	resp := m.NewResponse(mrcp.Status200, mrcp.StateComplete)
	rec := r.active
	if rec == nil || !listed(m, rec.id) {
		return resp, nil
	}
	rec.close()
	r.active = nil
	r.finish(rec, endStop, "", nil, nil)
	resp.Header.SetActiveRequestIDs(rec.id)
	return resp, nil
}

func (r *recognizer) stop() {
	if rec := r.active; rec != nil {
		rec.close()
		r.active = nil
		r.finish(rec, endSession, "", nil, nil)
	}
}

func (r *recognizer) dtmf(d rune) {
	if r.active != nil {
		r.active.digit(d)
	}
}

package load

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"

	"github.com/mrcpd/mrcpd/mrcp"
	"github.com/mrcpd/mrcpd/mrcp/client"
	"github.com/mrcpd/mrcpd/mrcp/nlsml"
)

// failure is a session's end for a reason the report counts (a short, bounded label) with the
// error behind it.
type failure struct {
	reason string
	err    error
}

func (f *failure) Error() string { return f.err.Error() }
func (f *failure) Unwrap() error { return f.err }

func fail(reason string, err error) error { return &failure{reason: reason, err: err} }

func reasonOf(err error) string {
	var f *failure
	if errors.As(err, &f) {
		return f.reason
	}
	return "error"
}

// stepFailure labels an error of a request or of the wait for its event: the server's BYE, a
// timeout, or the I/O error itself.
func stepFailure(step string, err error) error {
	switch {
	case errors.Is(err, client.ErrSessionEnded):
		return fail(step+": session ended by the server", err)
	case errors.Is(err, context.DeadlineExceeded):
		return fail(step+": timeout", err)
	case errors.Is(err, context.Canceled):
		return fail("interrupted", err)
	}
	return fail(step+": control connection error", err)
}

// session is one session's life: INVITE, its turns, holding, BYE.
type session struct {
	r      *runner
	speak  bool
	st     *Stream
	s      *client.Session
	prog   *Program
	turn   int
	ctx    context.Context // ends when the hold does
	uri    string          // grammar to recognize
	opened time.Time
}

func (x *session) run(ctx context.Context) error {
	st, err := x.r.eng.NewStream()
	if err != nil {
		return fail("RTP socket", err)
	}
	x.st = st
	defer st.Close()
	resource := "speechrecog"
	if x.speak {
		resource = "speechsynth"
	}
	octx, cancel := context.WithTimeout(ctx, x.r.cfg.Timeout)
	s, err := x.r.client.OpenPort(octx, resource, st.Port)
	cancel()
	if err != nil {
		return openFailure(err)
	}
	x.s, x.opened = s, time.Now()
	x.r.col.add(&x.r.col.invite, s.InviteLatency)
	x.r.opened(1)
	err = x.converse(ctx)
	x.r.opened(-1)
	st.Close() // media stops before the BYE, as a hanging-up caller's does
	if cerr := s.Close(context.WithoutCancel(ctx)); err == nil && cerr != nil {
		err = fail("BYE", cerr)
	}
	return err
}

func openFailure(err error) error {
	var se *client.SIPError
	switch {
	case errors.As(err, &se):
		return fail(fmt.Sprintf("INVITE answered %d", se.Code), err)
	case errors.Is(err, context.DeadlineExceeded):
		return fail("INVITE: timeout", err)
	case errors.Is(err, context.Canceled):
		return fail("interrupted", err)
	case strings.Contains(err.Error(), "control connection"):
		return fail("control connection", err)
	}
	return fail("INVITE: error", err)
}

// converse runs the turns and holds the session.
func (x *session) converse(ctx context.Context) error {
	cfg := &x.r.cfg
	p := &Program{Clock: x.s.Codec.ClockRate} // a synthesizer's stream only listens
	if !x.speak {
		var err error
		if p, err = x.r.progs.get(x.s.Codec, x.s.DTMF); err != nil {
			return fail("codec", err)
		}
	}
	x.prog = p
	if err := x.st.Connect(x.s.RemoteRTP, p, !x.speak); err != nil {
		return fail("RTP socket", err)
	}
	x.ctx = ctx
	if cfg.Hold > 0 {
		var cancel context.CancelFunc
		x.ctx, cancel = context.WithDeadline(ctx, x.opened.Add(cfg.Hold))
		defer cancel()
	}
	turns := cfg.Turns
	switch {
	case cfg.Idle:
		turns = -1
		x.st.Play(true)
	case turns == 0 && cfg.Hold == 0:
		turns = 1
	}
	var err error
	for ; turns == 0 || x.turn < turns; x.turn++ { // turns < 0: none
		if x.ctx.Err() != nil {
			break
		}
		// With a hold, the hold bounds a turn: a RECOGNIZE may rightly wait longer than Timeout.
		tctx, cancel := context.WithCancel(x.ctx)
		if cfg.Hold == 0 {
			tctx, cancel = context.WithTimeout(x.ctx, cfg.Timeout)
		}
		if x.speak {
			err = x.speakTurn(tctx)
		} else {
			err = x.recognizeTurn(tctx)
		}
		cancel()
		if err != nil {
			if x.ctx.Err() != nil && ctx.Err() == nil {
				return x.hangUp(ctx) // the hold ended during the turn
			}
			return err
		}
	}
	if cfg.Hold > 0 {
		<-x.ctx.Done()
	}
	if ctx.Err() != nil {
		return fail("interrupted", ctx.Err())
	}
	return nil
}

// hangUp stops the request a hold's end cut short, as mod_unimrcp sends STOP when the caller
// hangs up before the BYE; the server must answer it.
func (x *session) hangUp(ctx context.Context) error {
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), x.r.cfg.Timeout)
	defer cancel()
	res, err := x.s.Send(sctx, x.s.NewRequest(mrcp.MethodStop))
	if err != nil {
		return stepFailure("STOP", err)
	}
	if !mrcp.IsSuccess(res.StatusCode) {
		return fail(fmt.Sprintf("STOP answered %d", res.StatusCode), fmt.Errorf("STOP answered %d", res.StatusCode))
	}
	return nil
}

// recognizeTurn is one RECOGNIZE (RFC 6787 §9.9) with the input streamed once it is
// IN-PROGRESS, as a caller speaks after the prompt.
func (x *session) recognizeTurn(ctx context.Context) error {
	rc := x.r.cfg.Recognize
	if x.uri == "" {
		x.uri = rc.Grammar
		if len(rc.GrammarBody) > 0 {
			if err := x.defineGrammar(ctx); err != nil {
				return err
			}
		}
	}
	req := x.s.RecognizeMessage(x.uri, rc.Headers)
	sent := time.Now()
	res, err := x.s.Send(ctx, req)
	if err != nil {
		return stepFailure("RECOGNIZE", err)
	}
	if res.StatusCode != mrcp.Status200 || res.State != mrcp.StateInProgress {
		return fail(fmt.Sprintf("RECOGNIZE answered %d %s", res.StatusCode, res.State), fmt.Errorf("RECOGNIZE answered %d %s", res.StatusCode, res.State))
	}
	x.r.col.add(&x.r.col.recogIP, time.Since(sent))
	x.st.Play(rc.Loop)
	defer x.st.Silence()
	ev, err := x.await(ctx, req.RequestID, mrcp.EventRecognitionComplete)
	if err != nil {
		return stepFailure("RECOGNITION-COMPLETE", err)
	}
	done := time.Now()
	cause := ev.Header.Value(mrcp.HeaderCompletionCause)
	heard, right := x.check(ev.Body)
	x.r.col.recognized(cause, done, x.st.InputEnd(), heard, right)
	if !strings.HasPrefix(cause, "000") {
		return fail("RECOGNITION-COMPLETE "+cause, fmt.Errorf("recognition ended with %s", cause))
	}
	return nil
}

func (x *session) defineGrammar(ctx context.Context) error {
	rc := x.r.cfg.Recognize
	def, ref := x.s.DefineGrammarMessage(rc.GrammarType, rc.GrammarBody)
	res, err := x.s.Send(ctx, def)
	if err != nil {
		return stepFailure("DEFINE-GRAMMAR", err)
	}
	if !mrcp.IsSuccess(res.StatusCode) {
		return fail(fmt.Sprintf("DEFINE-GRAMMAR answered %d", res.StatusCode), fmt.Errorf("DEFINE-GRAMMAR answered %d", res.StatusCode))
	}
	x.uri = ref
	return nil
}

// check compares the first interpretation with the expected result, ignoring case, spaces and
// punctuation ("1 2 3 4" is "1234").
func (x *session) check(body []byte) (heard string, right bool) {
	want := x.r.cfg.Recognize.Expect
	if want == "" {
		return "", false
	}
	res, err := nlsml.Parse(body)
	if err != nil || len(res.Interpretations) == 0 {
		return "(no interpretation)", false
	}
	in := res.Interpretations[0]
	w := normalise(want)
	return in.Input, normalise(in.Input) == w || normalise(in.Instance) == w
}

func normalise(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsLetter(r) || unicode.IsDigit(r) || r == '*' || r == '#' {
			return unicode.ToLower(r)
		}
		return -1
	}, s)
}

// speakTurn is one SPEAK (RFC 6787 §8.4): the time to its first RTP packet, and what arrived.
func (x *session) speakTurn(ctx context.Context) error {
	sc := x.r.cfg.Speak
	req := x.s.SpeakMessage(sc.ContentType, sc.Voice, sc.Text, sc.Headers)
	sent := time.Now()
	x.st.Listen(sent)
	res, err := x.s.Send(ctx, req)
	if err != nil {
		return stepFailure("SPEAK", err)
	}
	if res.StatusCode != mrcp.Status200 || res.State != mrcp.StateInProgress {
		return fail(fmt.Sprintf("SPEAK answered %d %s", res.StatusCode, res.State), fmt.Errorf("SPEAK answered %d %s", res.StatusCode, res.State))
	}
	ev, err := x.await(ctx, req.RequestID, mrcp.EventSpeakComplete)
	if err != nil {
		return stepFailure("SPEAK-COMPLETE", err)
	}
	// The last packets may still be in the worker's next read.
	wait := time.NewTimer(2 * ptime)
	select {
	case <-wait.C:
	case <-ctx.Done():
		wait.Stop()
	}
	cause := ev.Header.Value(mrcp.HeaderCompletionCause)
	x.r.col.spoke(cause, x.st.Received(), sent)
	if !strings.HasPrefix(cause, "000") {
		return fail("SPEAK-COMPLETE "+cause, fmt.Errorf("SPEAK ended with %s", cause))
	}
	return nil
}

// await reads the channel until the named event of request id.
func (x *session) await(ctx context.Context, id uint32, name string) (*mrcp.Message, error) {
	for {
		ev, err := x.s.Next(ctx)
		if err != nil {
			return nil, err
		}
		if ev.Kind == mrcp.KindEvent && ev.Name == name && ev.RequestID == id {
			return ev, nil
		}
	}
}

package flow

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/mrcpd/mrcpd/esl"
)

const defaultGrammar = "builtin:speech/transcribe"

// do runs the step's action. A non-empty return is a jump decided by the
// action itself (a webhook's "next").
func (ru *run) do(ctx context.Context, s *Step) (string, error) {
	if s.Originate == nil && s.Set == nil && s.Webhook == nil && ru.call == nil {
		return "", fail(s.Kind()+" before originate", nil)
	}
	v := func(x string) string { return expand(x, ru.vars) }
	if talks(s) {
		ru.digits = nil
	}
	switch {
	case s.Originate != nil:
		return "", ru.originate(ctx, s)
	case s.Answer != nil:
		return "", ru.call.Answer(ctx)
	case s.WaitAnswer != nil:
		accept := s.WaitAnswer.EarlyMedia == "accept"
		return "", ru.wait(ctx, func() bool { return ru.state.answered || (accept && ru.state.media) })
	case s.WaitMedia != nil:
		return "", ru.wait(ctx, func() bool { return ru.state.media })
	case s.WaitPromptEnd != nil:
		return "", ru.waitPromptEnd(ctx, s)
	case s.SendDTMF != nil:
		return "", ru.sendDTMF(ctx, s)
	case s.Playback != nil:
		return "", ru.call.Playback(ctx, v(s.Playback.File))
	case s.Speak != nil:
		return "", ru.call.Speak(ctx, ru.tts(), v(s.Speak.Voice), v(s.Speak.Text))
	case s.DetectSpeech != nil:
		d := s.DetectSpeech
		params := map[string]string{}
		for k, x := range d.Params {
			params[k] = v(x)
		}
		return "", ru.detect(ctx, s.ID, esl.DetectRequest{Prompt: v(d.Prompt), Profile: ru.profile(),
			Grammar: orDefault(v(d.Grammar), defaultGrammar), Params: params})
	case s.CollectDTMF != nil:
		return "", ru.collect(ctx, s)
	case s.Record != nil:
		err := ru.call.RecordSession(ctx, v(s.Record.Path))
		if err == nil {
			ru.mark(s.ID, "recording", v(s.Record.Path))
		}
		return "", err
	case s.Webhook != nil:
		return ru.webhook(ctx, s)
	case s.Transfer != nil:
		t := s.Transfer
		if err := ru.call.Transfer(ctx, v(t.Extension), orDefault(t.Dialplan, "XML"), orDefault(v(t.Context), "default")); err != nil {
			return "", err
		}
		ru.handedOff = true
		ru.mark(s.ID, "transfer", v(t.Extension))
		return "end", nil
	case s.Bridge != nil:
		ru.mark(s.ID, "bridge", v(s.Bridge.Dial))
		return "", ru.call.Bridge(ctx, v(s.Bridge.Dial), nil)
	case s.Hangup != nil:
		if err := ru.call.Hangup(ctx, v(s.Hangup.Cause)); err != nil {
			return "", err
		}
		return "end", ru.wait(ctx, func() bool { return ru.state.hungup })
	case s.Set != nil:
		for k, x := range s.Set {
			ru.vars[k] = v(x)
		}
		return "", nil
	}
	return "", fail("step without action", nil)
}

// talks reports whether the step says or does something to the far end (so a
// hangup after it is no longer an answer to digits sent before it).
func talks(s *Step) bool {
	if d := s.DetectSpeech; d != nil {
		return d.Prompt != "" && !strings.HasPrefix(d.Prompt, "silence_stream://")
	}
	return s.Originate != nil || s.Answer != nil || s.Playback != nil || s.Speak != nil || s.Transfer != nil ||
		s.Bridge != nil || s.Hangup != nil || s.SendDTMF != nil
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func (ru *run) profile() string { return orDefault(ru.f.Profile, "mrcpd") }
func (ru *run) tts() string     { return orDefault(ru.f.TTS, "unimrcp:"+ru.profile()) }

func (ru *run) originate(ctx context.Context, s *Step) error {
	if ru.call != nil {
		return fail("originate: the flow already has a call", nil)
	}
	o := s.Originate
	vars := map[string]string{}
	for k, x := range o.Vars {
		vars[k] = expand(x, ru.vars)
	}
	// FreeSWITCH's originate returns on early media unless told not to; the
	// flow's early-media policy decides.
	vars["ignore_early_media"] = "true"
	for _, st := range ru.f.Steps {
		if st.WaitAnswer != nil && st.WaitAnswer.EarlyMedia == "accept" {
			delete(vars, "ignore_early_media")
		}
	}
	req := esl.OriginateRequest{Dial: expand(o.Dial, ru.vars), Vars: vars, Timeout: o.Timeout.D(),
		CallerIDNumber: expand(o.CallerIDNumber, ru.vars), CallerIDName: expand(o.CallerIDName, ru.vars),
		UUID: esl.NewUUID()}
	ru.rep.UUID = req.UUID
	ru.vars["call_uuid"] = req.UUID
	if ru.r.Pacer != nil {
		acked, err := ru.r.Pacer.Wait(ctx)
		if err != nil {
			return err
		}
		var once sync.Once
		req.Acked = func() { once.Do(acked) }
		defer req.Acked()
	}
	ru.mark(s.ID, "originate", req.Dial)
	call, err := ru.r.Client.Originate(ctx, req)
	if err != nil {
		if cause := originateCause(err); cause != "" {
			ru.rep.HangupCause = cause
		}
		return fail("originate", err)
	}
	ru.call = call
	ru.log = ru.log.With("uuid", call.UUID)
	ru.drain()
	return nil
}

func originateCause(err error) string {
	var ce *esl.CommandError
	if errors.As(err, &ce) {
		return ce.HangupCause()
	}
	return ""
}

func (ru *run) detect(ctx context.Context, step string, req esl.DetectRequest) error {
	rec, err := ru.call.PlayAndDetectSpeech(ctx, req)
	if err != nil {
		return err
	}
	ru.last = result{Text: rec.Text(), Matched: rec.Matched(), Cause: rec.Cause}
	if rec.Matched() {
		ru.last.Conf = rec.Interpretations[0].Confidence
		ru.last.Instance = rec.Interpretations[0].Instance
	}
	ru.vars["last_text"] = ru.last.Text
	ru.vars[step+"_text"] = ru.last.Text
	ru.mark(step, "heard", orDefault(rec.Text(), rec.Cause))
	return nil
}

// waitPromptEnd waits until the remote's prompt is over, by the step's mode.
func (ru *run) waitPromptEnd(ctx context.Context, s *Step) error {
	p := s.WaitPromptEnd
	var err error
	switch p.Mode {
	case "fixed":
		err = ru.call.Sleep(ctx, p.Delay.D())
	case "silence":
		err = ru.waitSilence(ctx, s)
	case "speech", "keyword":
		err = ru.listenForPromptEnd(ctx, s)
	}
	if err != nil {
		return err
	}
	ru.mark(s.ID, "prompt_end", p.Mode)
	return nil
}

// listenForPromptEnd uses mrcpd's endpointer: one recognition ends when the
// prompt's speech is followed by speech-complete-timeout of silence. In keyword
// mode it keeps listening until an utterance contains a keyword.
func (ru *run) listenForPromptEnd(ctx context.Context, s *Step) error {
	p := s.WaitPromptEnd
	noInput := orInt(p.NoInputMS, 8000)
	req := esl.DetectRequest{
		Prompt:  "silence_stream://" + strconv.Itoa(noInput+30000),
		Profile: ru.profile(),
		Grammar: orDefault(p.Grammar, defaultGrammar),
		Params: map[string]string{"start-input-timers": "true", "no-input-timeout": strconv.Itoa(noInput),
			"speech-complete-timeout": strconv.Itoa(orInt(p.CompleteMS, 800))},
	}
	listens := orInt(p.MaxListens, 6)
	for i := 0; i < listens; i++ {
		if err := ru.detect(ctx, s.ID, req); err != nil {
			return err
		}
		if !ru.last.Matched {
			return fail("no prompt heard", fmt.Errorf("%s", ru.last.Cause))
		}
		if p.Mode == "speech" {
			return nil
		}
		text := strings.ToLower(ru.last.Text)
		for _, k := range p.Keywords {
			if strings.Contains(text, strings.ToLower(expand(k, ru.vars))) {
				return nil
			}
		}
	}
	return fail("keyword not heard", fmt.Errorf("listened %d times for %v", listens, p.Keywords))
}

func orInt(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

// sendDTMF: stop local playback, check dtmf_type once, send, confirm.
func (ru *run) sendDTMF(ctx context.Context, s *Step) error {
	d := s.SendDTMF
	digits := expand(d.Digits, ru.vars)
	if _, err := esl.ValidateDigits(digits); err != nil {
		return fail("send_dtmf", err)
	}
	if err := ru.call.Break(ctx, true); err != nil {
		return err
	}
	if !ru.dtmfOK {
		if err := ru.checkDTMFType(ctx, d); err != nil {
			return err
		}
		ru.dtmfOK = true
	}
	method := esl.DTMFExecute
	if d.Method == "api" {
		method = esl.DTMFAPI
	}
	if err := ru.call.SendDTMF(ctx, esl.DTMFRequest{Digits: digits, Duration: d.Duration.D(), Method: method}, ru.r.Clock); err != nil {
		return err
	}
	ru.mark(s.ID, "digits_sent", digits)
	last := ru.rep.Timeline[len(ru.rep.Timeline)-1]
	ru.digits = &last
	return nil
}

// checkDTMFType: rfc2833 reaches any RTP peer; "info" only peers that take SIP
// INFO (many auto-attendants do not); "none" sends nothing. Fall back to
// in-band tones when allowed.
func (ru *run) checkDTMFType(ctx context.Context, d *SendDTMF) error {
	t, err := ru.call.GetVar(ctx, "dtmf_type")
	if err != nil {
		return err
	}
	ru.mark("", "dtmf_type", orDefault(t, "unset"))
	if t == "" || t == "rfc2833" {
		return nil
	}
	fallback := d.InbandFallback == nil || *d.InbandFallback
	if !fallback {
		ru.warn(fmt.Sprintf("dtmf_type is %q: digits go as %s and the remote may never hear them", t, dtmfRoute(t)))
		return nil
	}
	ru.warn(fmt.Sprintf("dtmf_type is %q: digits would go as %s; generating them in-band instead", t, dtmfRoute(t)))
	_, err = ru.call.Execute(ctx, "start_dtmf_generate", "")
	return err
}

func dtmfRoute(t string) string {
	if t == "info" {
		return "SIP INFO"
	}
	return "nothing (no DTMF method negotiated)"
}

// collect takes the digits the far end pressed (DTMF events) from the call's digit queue. Digits
// pressed before the step began count, as they stay in FreeSWITCH's own DTMF queue: a far end that
// keys in right after answer, while the flow is still on the step before, would otherwise lose them
// (TestCollectDigitsPressedEarly). Digits after this step's terminator or max stay for the next.
func (ru *run) collect(ctx context.Context, s *Step) error {
	c := s.CollectDTMF
	max := orInt(c.Max, 20)
	n := 0 // digits this step takes, once done
	done := func() bool {
		n = collected(ru.state.digits, max, c.Terminator)
		return n > 0
	}
	err := ru.wait(ctx, done)
	if n == 0 { // timed out or hung up: whatever arrived
		n = len(ru.state.digits)
	}
	took := ru.state.digits[:n]
	ru.state.digits = ru.state.digits[n:]
	got := strings.TrimSuffix(took, c.Terminator)
	ru.last = result{Text: got, Matched: got != ""}
	ru.vars[orDefault(c.Var, "digits")] = got
	ru.vars["last_text"] = got
	ru.mark(s.ID, "digits_received", got)
	if err != nil && ctx.Err() != nil && got != "" {
		return nil // inter-digit timeout with some digits is a result
	}
	return err
}

// collected is how many leading digits of queue make a complete entry: up to and including the
// first terminator, or max digits; 0 while neither has arrived.
func collected(queue string, max int, terminator string) int {
	if terminator != "" {
		if i := strings.Index(queue, terminator); i >= 0 && i < max {
			return i + len(terminator)
		}
	}
	if len(queue) >= max {
		return max
	}
	return 0
}

package flow

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/mrcpd/mrcpd/asr/clock"
	"github.com/mrcpd/mrcpd/esl"
)

// Caller is the part of esl.Client a flow needs (an interface so the runner
// can be driven by an outbound session's client too).
type Caller interface {
	Originate(ctx context.Context, r esl.OriginateRequest) (*esl.Call, error)
}

// Runner executes flows. It is safe for concurrent use: each Run owns its call.
type Runner struct {
	Client Caller
	Clock  clock.Clock // DTMF pauses; default the wall clock
	Log    *slog.Logger
	HTTP   *http.Client // webhooks; default a client with a 10 s timeout
	// StepTimeout applies to steps without their own; default 60 s.
	StepTimeout time.Duration
	// Pacer, when set, is waited on before each originate; the function it
	// returns is called once FreeSWITCH acknowledged the command (a campaign's
	// calls-per-second limit is about when FreeSWITCH receives originates).
	Pacer interface {
		Wait(ctx context.Context) (acked func(), err error)
	}
}

// Mark is one entry of a call's timeline.
type Mark struct {
	At     time.Time `json:"at"`
	Step   string    `json:"step,omitempty"`
	What   string    `json:"what"`
	Detail string    `json:"detail,omitempty"`
}

// Report is the outcome of one flow run.
type Report struct {
	Flow        string            `json:"flow"`
	UUID        string            `json:"uuid,omitempty"`
	Result      string            `json:"result"` // success or failed
	Reason      string            `json:"reason,omitempty"`
	HangupCause string            `json:"hangup_cause,omitempty"`
	Throttled   bool              `json:"throttled,omitempty"`
	Warnings    []string          `json:"warnings,omitempty"`
	Vars        map[string]string `json:"vars"`
	Timeline    []Mark            `json:"timeline"`
}

// Offset returns when the first mark named what happened, relative to the
// first mark of the timeline, and whether it happened.
func (r *Report) Offset(what string) (time.Duration, bool) {
	if len(r.Timeline) == 0 {
		return 0, false
	}
	for _, m := range r.Timeline {
		if m.What == what {
			return m.At.Sub(r.Timeline[0].At), true
		}
	}
	return 0, false
}

// run is the state of one flow execution.
type run struct {
	r         *Runner
	f         *Flow
	log       *slog.Logger
	rep       *Report
	vars      map[string]string
	call      *esl.Call
	last      result
	tries     map[string]int
	state     callState
	handedOff bool   // transferred: no longer ours to hang up
	dtmfOK    bool   // dtmf_type checked
	watch     *watch // the silence detector running, if any
	watches   int    // detectors started, for unique scratch paths
	// digits is the last digits sent while nothing else was said to the far
	// end since: a hangup now is the far end's answer to them.
	digits *Mark
}

type result struct {
	Text     string  `json:"text"`
	Instance string  `json:"instance,omitempty"` // NLSML semantic result (SISR out)
	Matched  bool    `json:"matched"`
	Cause    string  `json:"cause,omitempty"`
	Conf     float64 `json:"confidence,omitempty"`
}

type callState struct {
	answered, media, hungup bool
	cause                   string
	digits                  string
	lastDate                time.Time
}

// stepError fails a step; transport errors (a reconnect) are retried once
// even without Retries, since the step's outcome is unknown.
type stepError struct {
	reason string
	err    error
}

func (e *stepError) Error() string {
	if e.err != nil {
		return e.reason + ": " + e.err.Error()
	}
	return e.reason
}

func (e *stepError) Unwrap() error { return e.err }

func fail(reason string, err error) error { return &stepError{reason: reason, err: err} }

// Run executes the flow with extra variables (a campaign row) and returns its
// report. It never returns without a report.
func (rr *Runner) Run(ctx context.Context, f *Flow, vars map[string]string) *Report {
	return rr.RunCall(ctx, f, nil, vars)
}

// RunCall runs a flow on a call that already exists (an inbound call handed
// over by FreeSWITCH's socket application); the flow then has no originate.
// The call is released when the flow ends.
func (rr *Runner) RunCall(ctx context.Context, f *Flow, call *esl.Call, vars map[string]string) *Report {
	r := *rr // defaults go in a copy: one Runner serves concurrent calls
	if r.Clock == nil {
		r.Clock = clock.Real{}
	}
	if r.Log == nil {
		r.Log = slog.New(slog.DiscardHandler)
	}
	if r.HTTP == nil {
		r.HTTP = &http.Client{Timeout: 10 * time.Second}
	}
	if r.StepTimeout == 0 {
		r.StepTimeout = 60 * time.Second
	}
	ru := &run{r: &r, f: f, log: r.Log.With("flow", f.Name), vars: map[string]string{}, tries: map[string]int{},
		rep: &Report{Flow: f.Name}}
	for k, v := range f.Vars {
		ru.vars[k] = v
	}
	for k, v := range vars {
		ru.vars[k] = v
	}
	if call != nil {
		ru.call = call
		ru.rep.UUID = call.UUID
		ru.vars["call_uuid"] = call.UUID
	}
	ru.mark("", "start", "")
	err := ru.loop(ctx)
	ru.finish(ctx, err)
	return ru.rep
}

func (ru *run) mark(step, what, detail string) {
	ru.drain() // events already queued happened before this mark
	at := ru.r.Clock.Now()
	if !ru.state.lastDate.IsZero() {
		// FreeSWITCH's own event time: the channel's clock, not ours.
		at = ru.state.lastDate
	}
	ru.rep.Timeline = append(ru.rep.Timeline, Mark{At: at, Step: step, What: what, Detail: detail})
}

func (ru *run) warn(msg string) {
	ru.rep.Warnings = append(ru.rep.Warnings, msg)
	ru.log.Warn(msg)
}

func (ru *run) index(id string) int {
	for i := range ru.f.Steps {
		if ru.f.Steps[i].ID == id {
			return i
		}
	}
	return -1
}

func (ru *run) loop(ctx context.Context) error {
	i := 0
	for steps := 0; i < len(ru.f.Steps); steps++ {
		if steps > 1000 {
			return fail("flow loops without end", nil)
		}
		s := &ru.f.Steps[i]
		next, err := ru.step(ctx, s)
		if err != nil {
			var se *stepError
			transport := errors.Is(err, esl.ErrReconnected) || errors.Is(err, esl.ErrDisconnected)
			ru.tries[s.ID]++
			if (ru.tries[s.ID] <= s.Retries || (transport && ru.tries[s.ID] <= s.Retries+1)) && !ru.state.hungup {
				ru.mark(s.ID, "retry", err.Error())
				from := s.ID
				if s.RetryFrom != "" {
					from = s.RetryFrom
				}
				i = ru.index(from)
				continue
			}
			if !errors.As(err, &se) {
				err = fail(s.Kind()+" failed", err)
			}
			return err
		}
		switch next {
		case "":
			i++
		case "end":
			return nil
		default:
			i = ru.index(next)
		}
	}
	return nil
}

// step runs one step under its timeout and picks what comes next.
func (ru *run) step(ctx context.Context, s *Step) (string, error) {
	timeout := ru.timeout(s)
	sctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	ru.drain()
	if ru.state.hungup && s.Originate == nil {
		return "", fail("remote hung up", fmt.Errorf("cause %s", ru.state.cause))
	}
	ru.mark(s.ID, "step", s.Kind())
	next, err := ru.do(sctx, s)
	ru.drain()
	if err != nil {
		if sctx.Err() != nil && ctx.Err() == nil {
			return "", fail(s.Kind()+" timed out after "+timeout.String(), err)
		}
		return "", err
	}
	if next != "" {
		return next, nil
	}
	for _, b := range s.Branches {
		if !ru.matches(b) {
			continue
		}
		if b.Fail != "" {
			return "", fail(expand(b.Fail, ru.vars), nil)
		}
		return b.Goto, nil
	}
	return s.Next, nil
}

func (ru *run) matches(b Branch) bool {
	text := strings.ToLower(ru.last.Text + " " + ru.last.Instance)
	if len(b.Contains) > 0 {
		found := false
		for _, w := range b.Contains {
			if strings.Contains(text, strings.ToLower(expand(w, ru.vars))) {
				found = true
			}
		}
		if !found {
			return false
		}
	}
	if b.Equals != "" && !strings.EqualFold(strings.TrimSpace(ru.last.Text), expand(b.Equals, ru.vars)) {
		return false
	}
	if b.Matched != nil && *b.Matched != ru.last.Matched {
		return false
	}
	if b.Var != "" && ru.vars[b.Var] != expand(b.Value, ru.vars) {
		return false
	}
	return true
}

// drain applies queued call events to the state without waiting.
func (ru *run) drain() {
	if ru.call == nil {
		return
	}
	for ev := ru.call.Poll(); ev != nil; ev = ru.call.Poll() {
		ru.apply(ev)
	}
}

func (ru *run) apply(ev *esl.Event) {
	if ts, err := strconv.ParseInt(ev.Get("Event-Date-Timestamp"), 10, 64); err == nil && ts > 0 {
		ru.state.lastDate = time.UnixMicro(ts).UTC()
	}
	switch ev.Name {
	case esl.EventChannelProgressMedia:
		if !ru.state.media {
			ru.state.media = true
			ru.mark("", "media", "early media")
		}
	case esl.EventChannelAnswer:
		if !ru.state.answered {
			ru.state.answered = true
			ru.mark("", "answer", "")
		}
		if !ru.state.media {
			ru.state.media = true
			ru.mark("", "media", "answered")
		}
	case esl.EventDTMF:
		ru.state.digits += ev.Get("DTMF-Digit")
	case esl.EventChannelHangup, esl.EventChannelHangupComplete, esl.EventGone:
		if !ru.state.hungup {
			ru.state.hungup = true
			ru.state.cause = ev.HangupCause()
			ru.rep.HangupCause = ru.state.cause
			ru.mark("", "hangup", ru.state.cause)
		}
	case esl.EventRecordStart:
		if w := ru.watch; w != nil && ev.Get("Record-File-Path") == w.Path {
			w.started = true
		}
	case esl.EventRecordStop:
		// After a hangup the cause says nothing about the prompt.
		if w := ru.watch; w != nil && !ru.state.hungup && ev.Get("Record-File-Path") == w.Path {
			w.cause = orDefault(ev.Get("Record-Completion-Cause"), "none")
		}
	case esl.EventResync:
		if ru.watch != nil {
			ru.watch.resync = true
		}
		ru.mark("", "resync", ev.Get("Resync-Reason"))
		if ev.Get("Answer-State") == "answered" && !ru.state.answered {
			ru.state.answered, ru.state.media = true, true
			ru.mark("", "answer", "from resync")
		}
	}
}

// wait reads events until cond holds, the call hangs up, or ctx ends.
func (ru *run) wait(ctx context.Context, cond func() bool) error {
	ru.drain()
	for !cond() {
		if ru.state.hungup {
			return fail("remote hung up", fmt.Errorf("cause %s", ru.state.cause))
		}
		ev, err := ru.call.Next(ctx)
		if err != nil {
			return err
		}
		ru.apply(ev)
	}
	return nil
}

// hungUpAfterDigits says plainly that the far end ended the call after our
// digits, which is usually its way of acting on them (an attendant that
// transferred the call away or ended it), rather than blaming whatever step
// noticed the hangup.
func (ru *run) hungUpAfterDigits() string {
	after := ""
	for _, m := range ru.rep.Timeline {
		if m.What == "hangup" && !m.At.Before(ru.digits.At) {
			after = " " + m.At.Sub(ru.digits.At).Round(10*time.Millisecond).String()
			break
		}
	}
	return fmt.Sprintf("the remote hung up%s after the digits %s were sent (cause %s): the far end transferred or ended the call",
		after, ru.digits.Detail, ru.state.cause)
}

// finish records the result, hangs up a call we still own, and collects the
// hangup cause.
func (ru *run) finish(ctx context.Context, err error) {
	ru.rep.Vars = ru.vars
	if err != nil {
		ru.rep.Result = "failed"
		ru.rep.Reason = err.Error()
		if ru.state.hungup && ru.digits != nil {
			ru.rep.Reason = ru.hungUpAfterDigits() + " (" + ru.rep.Reason + ")"
		}
		ru.rep.Throttled = errors.Is(err, esl.ErrThrottled)
	} else {
		ru.rep.Result = "success"
	}
	ru.mark("", "result", ru.rep.Result)
	if ru.call == nil {
		return
	}
	defer ru.call.Release()
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	ru.drain()
	if !ru.state.hungup && !ru.handedOff {
		herr := ru.call.Hangup(cctx, "NORMAL_CLEARING")
		if errors.Is(herr, esl.ErrDisconnected) {
			herr = ru.call.Hangup(cctx, "NORMAL_CLEARING") // idempotent: once more on the new connection
		}
		if herr != nil {
			if !errors.Is(herr, esl.ErrClosed) {
				ru.warn("hangup: " + herr.Error())
			}
			return
		}
	}
	if ru.handedOff && !ru.state.hungup {
		return
	}
	_ = ru.wait(cctx, func() bool { return ru.state.hungup })
}

package esl

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// OriginateRequest describes a bgapi originate. Variables go in {} (all legs)
// or [] (this leg); values are quoted and escaped so a comma, space or quote in
// a caller name cannot break the dial string.
type OriginateRequest struct {
	Dial           string // endpoint, e.g. sofia/gateway/pstn/15551234567
	Vars           map[string]string
	LegVars        map[string]string
	Timeout        time.Duration // originate_timeout; 0 leaves FreeSWITCH's 60 s
	CallerIDNumber string
	CallerIDName   string
	// App is what the answered leg runs; default "&park()" so the client
	// drives it.
	App string
	// UUID is the channel's origination_uuid; generated when empty.
	UUID string
	// Acked, if set, is called when FreeSWITCH has accepted the bgapi (before
	// the call is up): the moment that counts for its sessions-per-second.
	Acked func()
}

var (
	varNameRE  = regexp.MustCompile(`^[A-Za-z0-9_.\-]+$`)
	dialRE     = regexp.MustCompile(`^[^\s{}\[\]'",]+$`)
	appRE      = regexp.MustCompile(`^(&[A-Za-z0-9_]+\([^()\r\n]*\)|[A-Za-z0-9_*#+]+( [A-Za-z0-9_]+){0,2})$`)
	causeRE    = regexp.MustCompile(`^[A-Z_]+$`)
	profileRE  = regexp.MustCompile(`^[A-Za-z0-9_.\-]+$`)
	extRE      = regexp.MustCompile(`^[A-Za-z0-9_*#+.\-]+$`)
	contextRE  = regexp.MustCompile(`^[A-Za-z0-9_.\-]*$`)
	noSpacesRE = regexp.MustCompile(`^\S+$`)
)

// quoteVar escapes a channel-variable value for {} and []: FreeSWITCH splits on
// ',' (escaped as '\,') and strips one pair of single quotes around a value
// with spaces. A value with a quote, brace or bracket cannot be escaped
// portably and is refused.
func quoteVar(v string) (string, error) {
	if strings.ContainsAny(v, "'{}[]\r\n\x00") {
		return "", fmt.Errorf("%w: channel variable value %q", ErrInvalidValue, truncate(v))
	}
	v = strings.ReplaceAll(v, ",", `\,`)
	if strings.ContainsAny(v, " \t") {
		v = "'" + v + "'"
	}
	return v, nil
}

func buildVars(open, close string, vars map[string]string) (string, error) {
	if len(vars) == 0 {
		return "", nil
	}
	keys := make([]string, 0, len(vars))
	for k := range vars {
		if !varNameRE.MatchString(k) {
			return "", fmt.Errorf("%w: channel variable name %q", ErrInvalidValue, k)
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		v, err := quoteVar(vars[k])
		if err != nil {
			return "", err
		}
		parts = append(parts, k+"="+v)
	}
	return open + strings.Join(parts, ",") + close, nil
}

// Command returns the originate arguments (after "originate ").
func (r OriginateRequest) Command() (string, error) {
	if !dialRE.MatchString(r.Dial) {
		return "", fmt.Errorf("%w: dial string %q", ErrInvalidValue, r.Dial)
	}
	app := r.App
	if app == "" {
		app = "&park()"
	}
	if !appRE.MatchString(app) {
		return "", fmt.Errorf("%w: originate application %q", ErrInvalidValue, app)
	}
	vars := map[string]string{"origination_uuid": r.UUID}
	for k, v := range r.Vars {
		vars[k] = v
	}
	if r.Timeout > 0 {
		vars["originate_timeout"] = strconv.Itoa(int((r.Timeout + time.Second - 1) / time.Second))
	}
	if r.CallerIDNumber != "" {
		vars["origination_caller_id_number"] = r.CallerIDNumber
	}
	if r.CallerIDName != "" {
		vars["origination_caller_id_name"] = r.CallerIDName
	}
	global, err := buildVars("{", "}", vars)
	if err != nil {
		return "", err
	}
	leg, err := buildVars("[", "]", r.LegVars)
	if err != nil {
		return "", err
	}
	return global + leg + r.Dial + " " + app, nil
}

// Originate places a call and returns it tracked from before its first event.
// On failure the error is a *CommandError carrying the hangup cause
// (errors.Is(err, ErrThrottled) for FreeSWITCH's session limits).
func (c *Client) Originate(ctx context.Context, r OriginateRequest) (*Call, error) {
	if r.UUID == "" {
		r.UUID = NewUUID()
	} else if !profileRE.MatchString(r.UUID) {
		return nil, fmt.Errorf("%w: uuid %q", ErrInvalidValue, r.UUID)
	}
	args, err := r.Command()
	if err != nil {
		return nil, err
	}
	call := c.Track(r.UUID)
	call.originating.Store(true)
	defer call.originating.Store(false)
	body, err := c.bgapi(ctx, "originate "+args, r.UUID, r.Acked)
	if err != nil && (errors.Is(err, ErrDisconnected) || errors.Is(err, ErrReconnected)) && ctx.Err() == nil {
		// The connection died around the command: FreeSWITCH may have the
		// call. Its channel exists from the first ring, so ask.
		if alive, cerr := c.API(ctx, "uuid_exists "+r.UUID); cerr == nil && strings.TrimSpace(alive) == "true" {
			// Its first events went with the old connection: say so, with
			// the channel's current state.
			dump, _ := c.API(ctx, "uuid_dump "+r.UUID+" json")
			call.mb.push(resyncEvent(r.UUID, []byte(dump), "reconnect"))
			return call, nil
		}
	}
	if err != nil {
		if ctx.Err() != nil {
			// The call may still come up: make sure it does not linger.
			kctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			_, _ = c.API(kctx, "uuid_kill "+r.UUID)
			cancel()
		}
		call.Release()
		return nil, err
	}
	if !strings.HasPrefix(body, "+OK") {
		call.Release()
		return nil, &CommandError{Command: "originate", Reply: body}
	}
	return call, nil
}

// Answer answers an inbound channel.
func (call *Call) Answer(ctx context.Context) error {
	_, err := call.Execute(ctx, "answer", "")
	return err
}

// PreAnswer opens early media.
func (call *Call) PreAnswer(ctx context.Context) error {
	_, err := call.Execute(ctx, "pre_answer", "")
	return err
}

// Playback plays a file or tone_stream:// and reports FreeSWITCH's verdict.
func (call *Call) Playback(ctx context.Context, file string) error {
	if err := checkLine(file); err != nil {
		return err
	}
	ev, err := call.Execute(ctx, "playback", file)
	return appResult("playback", ev, err)
}

// Speak synthesises text with a TTS engine ("unimrcp:mrcpd" for mrcpd).
func (call *Call) Speak(ctx context.Context, engine, voice, text string) error {
	if !noSpacesRE.MatchString(engine) || strings.Contains(engine, "|") {
		return fmt.Errorf("%w: tts engine %q", ErrInvalidValue, engine)
	}
	if voice == "" {
		voice = "default"
	}
	if strings.ContainsAny(voice, "|\r\n") {
		return fmt.Errorf("%w: voice %q", ErrInvalidValue, voice)
	}
	ev, err := call.Execute(ctx, "speak", engine+"|"+voice+"|"+text)
	return appResult("speak", ev, err)
}

// Sleep keeps the channel busy for d (FreeSWITCH times it, so it is measured
// on the channel's clock, not ours).
func (call *Call) Sleep(ctx context.Context, d time.Duration) error {
	_, err := call.Execute(ctx, "sleep", strconv.FormatInt(d.Milliseconds(), 10))
	return err
}

// SilenceParams are wait_for_silence's arguments.
type SilenceParams struct {
	Threshold   int           // energy threshold, FreeSWITCH's examples use 200-300
	SilenceHits int           // consecutive silent 20 ms frames required
	ListenHits  int           // frames of audio required before silence counts
	Timeout     time.Duration // give up after this many frames' worth of audio read
}

// WaitForSilence runs wait_for_silence on the leg and reports whether it found
// silence (its wait_for_silence_timeout variable is "false") rather than
// timing out. It scores only frames that carry an RTP sequence number, so on
// legs without RTP (loopback) it never hears the audio that must come before
// the silence, and its timeout counts frames read rather than time: use
// WatchSilence to find the end of a prompt.
func (call *Call) WaitForSilence(ctx context.Context, p SilenceParams) (bool, error) {
	arg := fmt.Sprintf("%d %d %d %d", p.Threshold, p.SilenceHits, p.ListenHits, p.Timeout.Milliseconds())
	ev, err := call.Execute(ctx, "wait_for_silence", arg)
	if err != nil {
		return false, err
	}
	return ev.Var("wait_for_silence_timeout") == "false", nil
}

// RecordSession starts recording the whole call to path.
func (call *Call) RecordSession(ctx context.Context, path string) error {
	if err := checkLine(path); err != nil {
		return err
	}
	_, err := call.Execute(ctx, "record_session", path)
	return err
}

// Transfer sends the channel to an extension in a dialplan context.
func (call *Call) Transfer(ctx context.Context, ext, dialplan, dpContext string) error {
	if !extRE.MatchString(ext) || !contextRE.MatchString(dialplan) || !contextRE.MatchString(dpContext) {
		return fmt.Errorf("%w: transfer target %q %q %q", ErrInvalidValue, ext, dialplan, dpContext)
	}
	arg := strings.TrimSpace(ext + " " + dialplan + " " + dpContext)
	_, err := call.Execute(ctx, "transfer", arg)
	return err
}

// Bridge connects the channel to a dial string and returns when the bridge ends.
func (call *Call) Bridge(ctx context.Context, dial string, vars map[string]string) error {
	if !dialRE.MatchString(dial) {
		return fmt.Errorf("%w: bridge target %q", ErrInvalidValue, dial)
	}
	v, err := buildVars("{", "}", vars)
	if err != nil {
		return err
	}
	ev, err := call.Execute(ctx, "bridge", v+dial)
	if err != nil {
		return err
	}
	if cause := ev.Var("originate_disposition"); cause != "" && cause != "SUCCESS" && cause != "ANSWER" {
		return &ExecuteError{App: "bridge", Response: cause}
	}
	return nil
}

// appResult maps an application's current_application_response to an error.
func appResult(app string, ev *Event, err error) error {
	if err != nil {
		return err
	}
	resp := ev.Get("Application-Response")
	if resp == "" {
		resp = ev.Var("current_application_response")
	}
	if strings.HasPrefix(resp, "-ERR") || strings.Contains(resp, "FILE NOT FOUND") || resp == "PLAYBACK ERROR" {
		return &ExecuteError{App: app, Response: resp}
	}
	return nil
}

// HangupCauseOK reports whether a Q.850 cause name is syntactically valid.
func HangupCauseOK(cause string) bool { return causeRE.MatchString(cause) }

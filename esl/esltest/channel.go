package esltest

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mrcpd/mrcpd/esl"
)

// channel is one simulated call leg. mu serialises its applications, as
// FreeSWITCH runs one application at a time per channel.
type channel struct {
	s       *Server
	uuid    string
	name    string
	dest    string
	created time.Time
	beh     Behavior

	mu        sync.Mutex
	now       time.Duration // the channel's virtual clock, from creation
	answered  bool
	early     bool
	hungup    bool
	cause     string
	remote    *remote
	inband    bool
	vars      []esl.Header
	apps      []AppRecord
	recording string
	bugs      []*recordBug
	started   *recordBug // attached by the running record_session
	breaks    int
	said      int  // Behavior.Says consumed
	inbound   bool // created by Outbound: a caller calling in
}

// AppRecord is one application the channel ran, with its virtual start and end.
type AppRecord struct {
	App, Arg   string
	Start, End time.Duration
	Response   string
}

// ChannelReport is what a test can inspect about a channel, live or ended.
type ChannelReport struct {
	UUID      string
	Dest      string
	Answered  bool
	Cause     string
	Apps      []AppRecord
	Heard     string   // digits that reached the remote
	Discarded string   // digits the remote ignored (sent during its prompt)
	Accepted  []string // extensions the remote connected
	Recording string
	Breaks    int
	Now       time.Duration
}

func (ch *channel) date() time.Time { return ch.created.Add(ch.now) }

func (ch *channel) direction() string {
	if ch.inbound {
		return "inbound"
	}
	return "outbound"
}

func (ch *channel) setVar(k, v string) {
	for i := range ch.vars {
		if ch.vars[i].Name == k {
			ch.vars[i].Value = v
			return
		}
	}
	ch.vars = append(ch.vars, esl.Header{Name: k, Value: v})
}

func (ch *channel) unsetVar(k string) {
	for i := range ch.vars {
		if ch.vars[i].Name == k {
			ch.vars = append(ch.vars[:i], ch.vars[i+1:]...)
			return
		}
	}
}

func (ch *channel) getVar(k string) (string, bool) {
	for _, h := range ch.vars {
		if h.Name == k {
			return h.Value, true
		}
	}
	return "", false
}

func (ch *channel) report() *ChannelReport {
	r := &ChannelReport{UUID: ch.uuid, Dest: ch.dest, Answered: ch.answered, Cause: ch.cause,
		Apps: append([]AppRecord(nil), ch.apps...), Recording: ch.recording, Breaks: ch.breaks, Now: ch.now}
	if ch.remote != nil {
		r.Heard, r.Discarded = ch.remote.Heard, ch.remote.Discarded
		r.Accepted = append([]string(nil), ch.remote.Accepted...)
	}
	return r
}

// Channel reports on a channel by UUID, including ones that have hung up.
func (s *Server) Channel(uuid string) (*ChannelReport, bool) {
	s.mu.Lock()
	ch, ok := s.channels[uuid]
	if !ok {
		r, ok := s.ended[uuid]
		s.mu.Unlock()
		return r, ok
	}
	s.mu.Unlock()
	ch.mu.Lock()
	defer ch.mu.Unlock()
	return ch.report(), true
}

// headers are the channel part of every event, as FreeSWITCH lays it out.
// ch.mu held.
func (ch *channel) headers() []esl.Header {
	state, callState, num, answer := "CS_EXECUTE", "ACTIVE", "4", "answered"
	switch {
	case ch.hungup:
		state, callState, num, answer = "CS_HANGUP", "HANGUP", "10", "hangup"
	case !ch.answered && ch.early:
		callState, answer = "EARLY", "early"
	case !ch.answered:
		state, callState, num, answer = "CS_ROUTING", "DOWN", "3", "ringing"
	}
	hs := []esl.Header{
		{Name: "Channel-State", Value: state},
		{Name: "Channel-Call-State", Value: callState},
		{Name: "Channel-State-Number", Value: num},
		{Name: "Channel-Name", Value: ch.name},
		{Name: "Unique-ID", Value: ch.uuid},
		{Name: "Call-Direction", Value: ch.direction()},
		{Name: "Presence-Call-Direction", Value: ch.direction()},
		{Name: "Channel-HIT-Dialplan", Value: "false"},
		{Name: "Channel-Call-UUID", Value: ch.uuid},
		{Name: "Answer-State", Value: answer},
	}
	if ch.hungup {
		hs = append(hs, esl.Header{Name: "Hangup-Cause", Value: ch.cause})
	}
	hs = append(hs,
		esl.Header{Name: "Channel-Read-Codec-Name", Value: "PCMU"},
		esl.Header{Name: "Channel-Read-Codec-Rate", Value: "8000"},
		esl.Header{Name: "Caller-Destination-Number", Value: ch.dest},
		esl.Header{Name: "Caller-Unique-ID", Value: ch.uuid},
	)
	for _, v := range ch.vars {
		hs = append(hs, esl.Header{Name: "variable_" + v.Name, Value: v.Value})
	}
	return hs
}

// event emits a channel event. ch.mu held.
func (ch *channel) event(name, fn string, extra ...esl.Header) {
	ch.s.emit(name, ch.date(), fn, append(ch.headers(), extra...), "")
}

// hangup ends the channel at its current virtual time. ch.mu held.
func (ch *channel) hangup(cause string) {
	if ch.hungup {
		return
	}
	ch.hungup = true
	ch.cause = cause
	ch.setVar("hangup_cause", cause)
	ch.event(esl.EventChannelHangup, "switch_channel_perform_hangup")
	ch.closeBugs()
	ch.event(esl.EventChannelHangupComplete, "switch_core_session_reporting_state")
	s := ch.s
	rep := ch.report()
	s.mu.Lock()
	delete(s.channels, ch.uuid)
	s.ended[ch.uuid] = rep
	s.lingerDone(ch.uuid)
	s.mu.Unlock()
}

// remoteGone hangs up the channel if the far end has hung up by now. ch.mu held.
func (ch *channel) remoteGone() bool {
	if ch.remote == nil || ch.hungup {
		return ch.hungup
	}
	if at, gone := ch.remote.gone(ch.now); gone {
		ch.now = at
		ch.hangup("NORMAL_CLEARING")
		return true
	}
	return false
}

// execute runs one application in virtual time and emits CHANNEL_EXECUTE and
// CHANNEL_EXECUTE_COMPLETE with the caller's Application-UUID.
func (ch *channel) execute(app, arg, appUUID string) {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	if ch.remoteGone() {
		return
	}
	ids := []esl.Header{{Name: "Application", Value: app}, {Name: "Application-Data", Value: arg},
		{Name: "Application-UUID", Value: appUUID}}
	ch.setVar("current_application", app)
	ch.setVar("current_application_data", arg)
	ch.event(esl.EventChannelExecute, "switch_core_session_exec", ids...)
	start := ch.now
	resp, hangupCause := ch.run(app, arg)
	ch.setVar("current_application_response", resp)
	ch.apps = append(ch.apps, AppRecord{App: app, Arg: arg, Start: start, End: ch.now, Response: resp})
	ch.event(esl.EventChannelExecuteComplete, "switch_core_session_exec",
		esl.Header{Name: "Application", Value: app}, esl.Header{Name: "Application-Data", Value: arg},
		esl.Header{Name: "Application-Response", Value: resp}, esl.Header{Name: "Application-UUID", Value: appUUID})
	if hangupCause != "" {
		ch.hangup(hangupCause)
		return
	}
	if b := ch.started; b != nil {
		ch.started = nil
		if b.selfStopping() {
			ch.runBug(b)
		}
	}
	ch.remoteGone()
}

// run performs an application, moving the channel clock. ch.mu held.
func (ch *channel) run(app, arg string) (resp, hangup string) {
	switch app {
	case "answer", "pre_answer":
		if !ch.answered && app == "answer" {
			ch.answered = true
			ch.event(esl.EventChannelAnswer, "switch_channel_perform_mark_answered")
		}
		return "", ""
	case "park":
		return "", ""
	case "sleep":
		ms, _ := strconv.Atoi(strings.TrimSpace(arg))
		ch.now += time.Duration(ms) * time.Millisecond
		return "", ""
	case "playback":
		ch.now += mediaLength(arg)
		ch.setVar("playback_ms", strconv.FormatInt(mediaLength(arg).Milliseconds(), 10))
		return "FILE PLAYED", ""
	case "speak":
		parts := strings.SplitN(arg, "|", 3)
		ch.now += time.Duration(len(parts[len(parts)-1])) * 60 * time.Millisecond
		return "", ""
	case "wait_for_silence":
		return ch.waitForSilence(arg), ""

	case "play_and_detect_speech":
		return ch.detect(arg)
	case "send_dtmf":
		ch.sendDTMF(arg)
		return "", ""
	case "start_dtmf_generate":
		ch.inband = true
		return "", ""
	case "record_session":
		ch.started = ch.recordSession(arg)
		return "", ""
	case "stop_record_session":
		return ch.stopRecordSession(arg), ""
	case "transfer":
		ch.setVar("transfer_destination", arg)
		return "", ""
	case "bridge":
		if strings.Contains(arg, "error/") {
			cause := arg[strings.Index(arg, "error/")+len("error/"):]
			ch.setVar("originate_disposition", cause)
			return "", ""
		}
		ch.setVar("originate_disposition", "SUCCESS")
		ch.event(esl.EventChannelBridge, "switch_core_session_bridge")
		ch.now += time.Second
		return "", ""
	case "hangup":
		cause := strings.TrimSpace(arg)
		if cause == "" {
			cause = "NORMAL_CLEARING"
		}
		return "", cause
	}
	return "-ERR unknown application " + app, ""
}

// mediaLength: silence_stream://N lasts N ms, tones 500 ms, files 1 s.
func mediaLength(file string) time.Duration {
	if ms, ok := strings.CutPrefix(file, "silence_stream://"); ok {
		n, _ := strconv.Atoi(strings.SplitN(ms, ",", 2)[0])
		if n > 0 {
			return time.Duration(n) * time.Millisecond
		}
		return 0
	}
	if strings.HasPrefix(file, "tone_stream://") {
		return 500 * time.Millisecond
	}
	return time.Second
}

// detect handles "<prompt> detect:unimrcp:<profile> {k=v,...}<grammar>".
func (ch *channel) detect(arg string) (string, string) {
	f := strings.Fields(arg)
	if len(f) < 3 || !strings.HasPrefix(f[1], "detect:") {
		return "-ERR usage", ""
	}
	params := map[string]string{}
	g := strings.Join(f[2:], " ")
	if strings.HasPrefix(g, "{") {
		end := strings.Index(g, "}")
		for _, kv := range strings.Split(g[1:end], ",") {
			k, v, _ := strings.Cut(kv, "=")
			params[k] = v
		}
		g = g[end+1:]
	}
	ms := func(k string, def time.Duration) time.Duration {
		if v, err := strconv.Atoi(params[k]); err == nil {
			return time.Duration(v) * time.Millisecond
		}
		return def
	}
	noInput := ms("no-input-timeout", 5*time.Second)
	complete := ms("speech-complete-timeout", 800*time.Millisecond)
	if ch.remote == nil && ch.said < len(ch.beh.Says) {
		text := ch.beh.Says[ch.said]
		ch.said++
		ch.now += 300*time.Millisecond + time.Duration(len(text))*60*time.Millisecond + complete
		ch.setVar("detect_speech_result", nlsml(g, text))
		return "", ""
	}
	if ch.remote == nil {
		ch.now += noInput
		ch.setVar("detect_speech_result", noInputNLSML)
		return "", ""
	}
	done, text, ok := ch.remote.detect(ch.now, noInput, complete)
	ch.now = done
	if !ok {
		ch.setVar("detect_speech_result", noInputNLSML)
		return "", ""
	}
	ch.setVar("detect_speech_result", nlsml(g, text))
	return "", ""
}

func nlsml(grammar, text string) string {
	return fmt.Sprintf("<?xml version=\"1.0\"?>\n<result>\n  <interpretation grammar=\"%s\" confidence=\"0.92\">\n"+
		"    <instance>%s</instance>\n    <input mode=\"speech\">%s</input>\n  </interpretation>\n</result>", grammar, text, text)
}

// PressDigits is the far end pressing keys: DTMF events on the channel.
func (s *Server) PressDigits(uuid, digits string) error {
	ch := s.channel(uuid)
	if ch == nil {
		return errNoChannel
	}
	ch.mu.Lock()
	defer ch.mu.Unlock()
	for i := 0; i < len(digits); i++ {
		ch.now += 250 * time.Millisecond
		ch.event(esl.EventDTMF, "switch_channel_dequeue_dtmf", esl.Header{Name: "DTMF-Digit", Value: digits[i : i+1]},
			esl.Header{Name: "DTMF-Duration", Value: "800"}, esl.Header{Name: "DTMF-Source", Value: "RTP"})
	}
	return nil
}

const noInputNLSML = "<?xml version=\"1.0\"?>\n<result>\n  <interpretation>\n    <input><noinput/></input>\n  </interpretation>\n</result>"

// sendDTMF: "digits[@duration_ms]". Digits reach the remote only when they can
// travel: RFC 2833 or in-band generation; SIP INFO is not understood by the
// attendant, and "none" goes nowhere.
func (ch *channel) sendDTMF(arg string) {
	digits, durS, _ := strings.Cut(arg, "@")
	dur := 100 * time.Millisecond
	if n, err := strconv.Atoi(durS); err == nil && n > 0 {
		dur = time.Duration(n) * time.Millisecond
	}
	dtmfType, _ := ch.getVar("dtmf_type")
	reaches := dtmfType == "rfc2833" || ch.inband
	for i := 0; i < len(digits); i++ {
		if ch.remote != nil && reaches {
			ch.remote.addDigit(ch.now, digits[i])
		}
		ch.now += dur + 50*time.Millisecond
	}
}

package esltest

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/mrcpd/mrcpd/esl"
)

// Idle is what a far end sends while it is not talking. FreeSWITCH 1.10
// itself sends no RTP while nothing plays (unless send_silence_when_idle).
type Idle int

const (
	// IdleNothing: no audio at all between and after utterances (nothing
	// playing, or silence suppression on the trunk).
	IdleNothing Idle = iota
	// IdleComfortNoise: RFC 3389 comfort-noise packets (payload type 13).
	IdleComfortNoise
	// IdleNoise: real low-energy audio (line hiss, a PBX that keeps sending
	// silence), at Attendant.NoiseLevel.
	IdleNoise
)

func (i Idle) String() string {
	switch i {
	case IdleComfortNoise:
		return "comfort_noise"
	case IdleNoise:
		return "noise"
	}
	return "nothing"
}

// frameKind is what arrives for one 20 ms frame.
type frameKind int

const (
	frameNone  frameKind = iota // no packet: FreeSWITCH synthesises a CNG frame
	frameCN                     // a comfort-noise packet: also a CNG frame
	frameAudio                  // audio samples at some energy
)

// mediaFrame is one frame as the leg receives it; level is the mean absolute
// sample value, the "energy score" FreeSWITCH's detectors compute.
type mediaFrame struct {
	kind  frameKind
	level int
}

const (
	defaultSpeechLevel = 2000
	defaultNoiseLevel  = 60
)

// frameAt is what the far end sends in the frame starting at t.
func (r *remote) frameAt(t time.Duration) mediaFrame {
	if r.speaking(t) {
		return mediaFrame{kind: frameAudio, level: r.a.SpeechLevel}
	}
	switch r.a.Idle {
	case IdleComfortNoise:
		return mediaFrame{kind: frameCN}
	case IdleNoise:
		return mediaFrame{kind: frameAudio, level: r.a.NoiseLevel}
	}
	return mediaFrame{kind: frameNone}
}

// frameAt is what the leg receives at t: nothing when no far end talks.
func (ch *channel) frameAt(t time.Duration) mediaFrame {
	if ch.remote == nil {
		return mediaFrame{kind: frameNone}
	}
	return ch.remote.frameAt(t)
}

// wfsScore is the score switch_ivr_wait_for_silence (switch_ivr_play_say.c,
// 1.10.12) gives a frame. It sums sample energy only for frames with a
// nonzero RTP sequence number ("if (read_frame->seq)"). Frames a loopback
// leg reads are copies of what the other leg wrote, and playback writes them
// with seq 0, so on loopback legs every frame scores 0, the prompt included.
// A CNG frame FreeSWITCH synthesises for a missing or comfort-noise packet has
// seq 0 and 0 samples: its score is (uint32_t)(0.0/0.0), undefined in C and 0
// on x86-64 builds, so there it counts as silence.
func (ch *channel) wfsScore(f mediaFrame) int {
	if f.kind == frameAudio && !ch.loopback() {
		return f.level
	}
	return 0
}

// bugLevel is the energy a media bug (record_session) sees: decoded audio
// whatever its sequence number, and for a CNG frame the 0xFF fill
// switch_core_session_read_frame writes when a bug is attached (-1 per
// sample, level 1).
func bugLevel(f mediaFrame) int {
	if f.kind == frameAudio {
		return f.level
	}
	return 1
}

func (ch *channel) loopback() bool { return strings.HasPrefix(ch.name, "loopback/") }

// maxBlock bounds applications that real FreeSWITCH would run forever (no
// timeout and a far end that never provides what they wait for).
const maxBlock = 24 * time.Hour

// waitForSilence is switch_ivr_wait_for_silence frame by frame:
// "<thresh> <silence_hits> <listen_hits> <timeout_ms> [<file>]". Its timeout
// is counted in frames read; silence counts only once more than listen_hits
// frames scored at or above the threshold; once silence_hits consecutive
// quiet frames are seen it reads 25 more frames (500 ms) before returning. It
// leaves wait_for_silence_timeout, _listenhits and _silence_hits.
func (ch *channel) waitForSilence(arg string) string {
	f := strings.Fields(arg)
	if len(f) < 4 {
		return "" // mod_dptools logs its usage and returns
	}
	thresh, _ := strconv.Atoi(f[0])
	hits, _ := strconv.Atoi(f[1])
	listenHits, _ := strconv.Atoi(f[2])
	timeoutMS, _ := strconv.Atoi(f[3])
	if thresh <= 0 || hits <= 0 {
		return ""
	}
	samples := timeoutMS // at 8 kHz, as a number of milliseconds
	listening, silence, countdown := 0, hits, 0
	set := func(timeout bool) {
		ch.setVar("wait_for_silence_timeout", strconv.FormatBool(timeout))
		ch.setVar("wait_for_silence_listenhits", strconv.Itoa(listening))
		ch.setVar("wait_for_silence_silence_hits", strconv.Itoa(silence))
	}
	for start := ch.now; ch.now-start < maxBlock; {
		if ch.remoteGone() {
			return ""
		}
		fr := ch.frameAt(ch.now)
		ch.now += frame
		if samples > 0 {
			if samples -= int(frame / time.Millisecond); samples <= 0 {
				set(true)
				return ""
			}
		}
		if countdown > 0 {
			if countdown--; countdown == 0 {
				set(false)
				return ""
			}
			continue
		}
		score := ch.wfsScore(fr)
		if score >= thresh {
			listening++
		}
		if (listenHits == 0 || listening > listenHits) && score < thresh {
			if silence--; silence == 0 {
				countdown = 25
			}
		} else {
			silence = hits
		}
	}
	return ""
}

// recordBug is a record_session media bug with switch_ivr_async.c's silence
// detection (RECORD_INITIAL_TIMEOUT_MS, RECORD_FINAL_TIMEOUT_MS,
// RECORD_SILENCE_THRESHOLD) and its completion causes.
type recordBug struct {
	path            string
	vars            [][2]string // the {} variables, in order
	start           time.Duration
	limit           time.Duration
	initial, final  time.Duration
	threshold       int
	minSec          int
	speech, stopped bool
	cause           string
}

// recordVar is get_recording_var: the {} variables first, then the channel's.
func (ch *channel) recordVar(vars [][2]string, name string) (string, bool) {
	for _, kv := range vars {
		if strings.EqualFold(kv[0], name) {
			return kv[1], true
		}
	}
	return ch.getVar(name)
}

// recordSession handles "<path> [+<limit_s>] [{var=value,...}]": the bug is
// attached and RECORD_START sent before the application completes.
func (ch *channel) recordSession(arg string) *recordBug {
	f := strings.Fields(arg)
	if len(f) == 0 {
		return nil
	}
	b := &recordBug{path: expandGlobals(f[0]), start: ch.now}
	if !ch.s.writable(b.path) {
		// switch_ivr_record_session_event: no bug, no event, no hangup
		// (RECORD_HANGUP_ON_ERROR is off by default).
		ch.s.SendLog(3, "Error opening "+b.path+"\n")
		return nil
	}
	rest := f[1:]
	if len(rest) > 0 && strings.HasPrefix(rest[0], "+") {
		n, _ := strconv.Atoi(rest[0][1:])
		b.limit = time.Duration(n) * time.Second
		rest = rest[1:]
	}
	if len(rest) > 0 && strings.HasPrefix(rest[0], "{") && strings.HasSuffix(rest[0], "}") {
		for _, kv := range splitVars(rest[0][1 : len(rest[0])-1]) {
			k, v, _ := strings.Cut(kv, "=")
			b.vars = append(b.vars, [2]string{k, v})
		}
	}
	ms := func(name string) (time.Duration, bool) {
		v, ok := ch.recordVar(b.vars, name)
		n, err := strconv.Atoi(v)
		if !ok || err != nil || n < 0 {
			return 0, false
		}
		return time.Duration(n) * time.Millisecond, true
	}
	if d, ok := ms("RECORD_INITIAL_TIMEOUT_MS"); ok {
		b.initial, b.threshold = d, 200
	}
	if d, ok := ms("RECORD_FINAL_TIMEOUT_MS"); ok {
		b.final, b.threshold = d, 200
	}
	if v, ok := ch.recordVar(b.vars, "RECORD_SILENCE_THRESHOLD"); ok {
		if n, err := strconv.Atoi(v); err == nil && n >= 0 {
			b.threshold = n
		}
	}
	if v, ok := ch.recordVar(b.vars, "RECORD_MIN_SEC"); ok {
		b.minSec, _ = strconv.Atoi(v)
	}
	ch.recording = b.path
	ch.bugs = append(ch.bugs, b)
	ch.event("RECORD_START", "record_callback", b.headers()...)
	return b
}

// expandGlobals expands the one global variable paths usually use.
func expandGlobals(s string) string { return strings.ReplaceAll(s, "${temp_dir}", "/tmp") }

func (b *recordBug) headers() []esl.Header {
	hs := []esl.Header{{Name: "Record-File-Path", Value: b.path}}
	for _, kv := range b.vars {
		hs = append(hs, esl.Header{Name: "Recording-Variable-" + kv[0], Value: kv[1]})
	}
	return hs
}

// selfStopping: a bug that ends on its own, by silence or its time limit.
func (b *recordBug) selfStopping() bool { return b.threshold > 0 || b.limit > 0 }

// runBug plays a self-stopping bug forward on an idle (parked) leg: nothing
// else happens on the channel until it ends, so its clock moves to that end.
// As in record_callback's READ_PING, each frame is checked against the
// threshold; silence is timed from its first quiet frame (or from the start
// until speech was heard, against the initial timeout).
func (ch *channel) runBug(b *recordBug) {
	silenceSince := b.start // rh->silence_time, set at INIT
	timeout := b.initial
	for ch.now-b.start < maxBlock {
		if ch.remoteGone() {
			return // hangup stopped the bug
		}
		if b.limit > 0 && ch.now-b.start >= b.limit {
			ch.stopBug(b, "")
			return
		}
		quiet := bugLevel(ch.frameAt(ch.now)) < b.threshold
		switch {
		case b.threshold == 0:
		case quiet && silenceSince < 0:
			silenceSince = ch.now
		case quiet && timeout > 0 && ch.now-silenceSince >= timeout:
			ch.now += frame // pruned, and closed, on the next read
			cause := "no-input-timeout"
			if b.speech {
				cause = "success-silence"
			}
			ch.stopBug(b, cause)
			return
		case !quiet && silenceSince >= 0:
			b.speech = true
			silenceSince = -1
			timeout = b.final
		}
		ch.now += frame
	}
}

// stopBug is record_callback's CLOSE: a file shorter than RECORD_MIN_SEC is
// discarded ("input-too-short" unless a cause was set before), a hung-up
// channel gives success-silence or no-input-timeout by whether speech was
// heard, anything else success-maxtime. RECORD_STOP follows.
func (ch *channel) stopBug(b *recordBug, cause string) {
	if b.stopped {
		return
	}
	b.stopped = true
	b.cause = cause
	recorded := ch.now - b.start
	if b.threshold == 0 && recorded > 0 {
		b.speech = true // "No silence detection configured; assuming start of speech"
	}
	switch {
	case recorded < time.Duration(b.minSec)*time.Second:
		ch.setVar("RECORD_DISCARDED", "true")
		b.setCause("input-too-short")
	case ch.hungup && b.speech:
		b.setCause("success-silence")
	case ch.hungup:
		b.setCause("no-input-timeout")
	default:
		b.setCause("success-maxtime")
	}
	ch.setVar("record_ms", strconv.FormatInt(recorded.Milliseconds(), 10))
	ch.setVar("record_completion_cause", b.cause)
	ch.event("RECORD_STOP", "send_record_stop_event", append(b.headers(),
		esl.Header{Name: "Record-Completion-Cause", Value: b.cause})...)
}

func (b *recordBug) setCause(c string) {
	if b.cause == "" {
		b.cause = c
	}
}

func (s *Server) writable(path string) bool {
	for _, d := range s.opts.RecordDirs {
		if strings.HasPrefix(path, strings.TrimSuffix(d, "/")+"/") {
			return true
		}
	}
	return false
}

// bugList is uuid_buglist's XML (switch_core_media_bug_enumerate).
func (ch *channel) bugList() string {
	var b strings.Builder
	b.WriteString("<media-bugs>\n")
	for _, bug := range ch.bugs {
		if !bug.stopped {
			fmt.Fprintf(&b, " <media-bug>\n  <function>session_record</function>\n  <target>%s</target>\n"+
				"  <thread-locked>0</thread-locked>\n </media-bug>\n", bug.path)
		}
	}
	b.WriteString("</media-bugs>\n")
	return b.String()
}

// stopRecordSession is switch_ivr_stop_record_session: a path or "all".
func (ch *channel) stopRecordSession(arg string) string {
	path := expandGlobals(strings.TrimSpace(arg))
	for _, b := range ch.bugs {
		if !b.stopped && (strings.EqualFold(path, "all") || b.path == path) {
			ch.stopBug(b, "")
		}
	}
	return "" // the application sets no response either way
}

// closeBugs runs at hangup, between CHANNEL_HANGUP and CHANNEL_HANGUP_COMPLETE
// (switch_core_media_bug_remove_all in the hangup state).
func (ch *channel) closeBugs() {
	for _, b := range ch.bugs {
		ch.stopBug(b, "")
	}
}

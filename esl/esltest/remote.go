package esltest

import (
	"strings"
	"time"
)

// frame is the audio granularity of the fake: FreeSWITCH's 20 ms ptime.
const frame = 20 * time.Millisecond

// Segment is one stretch of speech in a remote prompt, followed by Gap of silence.
type Segment struct {
	Text string
	Dur  time.Duration
	Gap  time.Duration
}

// Attendant is a remote auto-attendant: after answer it plays its prompt, and
// like most real ones it DISCARDS digits that arrive while the prompt plays. It
// then listens DigitTimeout for the extension; a match is confirmed aloud, a
// miss is re-prompted, and after MaxLoops misses it hangs up.
type Attendant struct {
	Lead         time.Duration // silence between answer and prompt
	Prompt       []Segment
	Extension    string
	DigitTimeout time.Duration
	MaxLoops     int
	Confirm      string // said when the extension is accepted
	Agent        string // said by the extension once connected
	Reprompt     string
	// HangupOnAccept: once the extension is accepted (and Confirm said, if
	// not "-"), the attendant hands the call off and the leg ends.
	HangupOnAccept bool
	// Idle is what the far end sends while it is not talking; the default
	// is nothing at all, as FreeSWITCH does while nothing plays.
	Idle        Idle
	SpeechLevel int // energy of its speech frames, default 2000
	NoiseLevel  int // energy of IdleNoise frames, default 60
}

// NewAttendant builds the usual attendant with a prompt of the given length:
// its last words are "...dial the extension now" (the keyword mode's cue).
func NewAttendant(prompt time.Duration, ext string) *Attendant {
	a := &Attendant{Lead: 300 * time.Millisecond, Extension: ext}
	if prompt <= 3*time.Second {
		a.Prompt = []Segment{{Text: "please dial the extension now", Dur: prompt}}
	} else {
		// Short pauses between sentences, as real recordings have.
		first := prompt * 3 / 10
		second := prompt * 3 / 10
		gap := 400 * time.Millisecond
		last := prompt - first - second - 2*gap
		a.Prompt = []Segment{
			{Text: "thank you for calling acme corporation", Dur: first, Gap: gap},
			{Text: "your call may be recorded for quality purposes", Dur: second, Gap: gap},
			{Text: "if you know your party's extension please dial it now", Dur: last},
		}
	}
	return a
}

func (a *Attendant) defaults() {
	if a.DigitTimeout == 0 {
		a.DigitTimeout = 5 * time.Second
	}
	if a.MaxLoops == 0 {
		a.MaxLoops = 2
	}
	if a.Confirm == "" {
		a.Confirm = "connecting you to extension " + a.Extension
	}
	if a.Agent == "" {
		a.Agent = "hello this is extension " + a.Extension + " how can i help"
	}
	if a.Reprompt == "" {
		a.Reprompt = "sorry i did not get that"
	}
	if a.SpeechLevel == 0 {
		a.SpeechLevel = defaultSpeechLevel
	}
	if a.NoiseLevel == 0 {
		a.NoiseLevel = defaultNoiseLevel
	}
}

type utterance struct {
	start, end time.Duration
	text       string
}

type digitAt struct {
	at    time.Duration
	digit byte
}

type remoteState int

const (
	rsPrompting remoteState = iota
	rsListening
	rsConnected
	rsHangingUp
	rsGone
)

// remote is an attendant's state on one channel, evaluated lazily in the
// channel's virtual time as the channel's applications move that time on.
type remote struct {
	a         *Attendant
	utts      []utterance
	digits    []digitAt
	next      int // digits processed
	state     remoteState
	loop      int
	promptEnd time.Duration
	deadline  time.Duration
	buf       []byte

	Accepted  []string // digit strings the attendant acted on
	Discarded string   // digits heard while it was still talking
	Heard     string   // every digit that reached it
}

func newRemote(a *Attendant, answeredAt time.Duration) *remote {
	own := *a // shared by every call to the number: never mutate it
	own.defaults()
	r := &remote{a: &own}
	r.playPrompt(answeredAt)
	return r
}

func (r *remote) playPrompt(at time.Duration) {
	t := at + r.a.Lead
	for _, s := range r.a.Prompt {
		r.utts = append(r.utts, utterance{start: t, end: t + s.Dur, text: s.Text})
		t += s.Dur + s.Gap
	}
	r.promptEnd = r.utts[len(r.utts)-1].end
	r.state = rsPrompting
	r.deadline = r.promptEnd
	r.buf = r.buf[:0]
}

func (r *remote) say(at time.Duration, text string, d time.Duration) time.Duration {
	r.utts = append(r.utts, utterance{start: at, end: at + d, text: text})
	return at + d
}

// addDigit: a digit reaches the remote at channel time at.
func (r *remote) addDigit(at time.Duration, d byte) {
	r.digits = append(r.digits, digitAt{at: at, digit: d})
}

// advance runs the attendant's state machine up to t.
func (r *remote) advance(t time.Duration) {
	for {
		dl := time.Duration(-1)
		if r.state == rsPrompting || r.state == rsListening || r.state == rsHangingUp {
			dl = r.deadline
		}
		if r.next < len(r.digits) && r.digits[r.next].at <= t && (dl < 0 || r.digits[r.next].at < dl) {
			r.onDigit(r.digits[r.next])
			r.next++
			continue
		}
		if dl >= 0 && dl <= t {
			r.onDeadline(dl)
			continue
		}
		return
	}
}

func (r *remote) onDigit(d digitAt) {
	r.Heard += string(d.digit)
	switch r.state {
	case rsPrompting:
		r.Discarded += string(d.digit)
	case rsListening:
		r.buf = append(r.buf, d.digit)
		r.deadline = d.at + r.a.DigitTimeout
		if len(r.buf) < len(r.a.Extension) {
			return
		}
		got := string(r.buf)
		if got == r.a.Extension {
			r.Accepted = append(r.Accepted, got)
			r.accept(d.at)
			return
		}
		r.miss(d.at)
	}
}

// accept confirms the extension and connects it, or hands the call off.
func (r *remote) accept(at time.Duration) {
	end := at + 300*time.Millisecond
	if r.a.Confirm != "-" {
		end = r.say(end, r.a.Confirm, 2*time.Second)
	}
	if r.a.HangupOnAccept {
		r.state = rsHangingUp
		r.deadline = end
		return
	}
	r.say(end+time.Second, r.a.Agent, 2500*time.Millisecond)
	r.state = rsConnected
}

func (r *remote) onDeadline(at time.Duration) {
	switch r.state {
	case rsPrompting:
		r.state = rsListening
		r.deadline = at + r.a.DigitTimeout
	case rsListening:
		r.miss(at)
	case rsHangingUp:
		r.state = rsGone
	}
}

func (r *remote) miss(at time.Duration) {
	r.loop++
	if r.loop >= r.a.MaxLoops {
		end := r.say(at, "goodbye", time.Second)
		r.state = rsHangingUp
		r.deadline = end
		return
	}
	end := r.say(at, r.a.Reprompt, 1500*time.Millisecond)
	r.playPrompt(end)
}

// speaking reports whether the remote is talking during the frame starting at t.
func (r *remote) speaking(t time.Duration) bool {
	r.advance(t)
	for i := len(r.utts) - 1; i >= 0; i-- {
		if u := r.utts[i]; u.start <= t && t < u.end {
			return true
		}
	}
	return false
}

// gone reports the time the remote hung up, if it has by t.
func (r *remote) gone(t time.Duration) (time.Duration, bool) {
	r.advance(t)
	if r.state == rsGone {
		return r.deadline, true
	}
	return 0, false
}

// textBetween is what a recogniser would hear in [from, to).
func (r *remote) textBetween(from, to time.Duration) string {
	var parts []string
	for _, u := range r.utts {
		if u.end > from && u.start < to {
			parts = append(parts, u.text)
		}
	}
	return strings.Join(parts, " ")
}

// detect is what an MRCP recogniser on the leg reports, listening from t:
// the start of speech within noInput, then its end once speechComplete of
// silence follows. ok is false on no-input.
func (r *remote) detect(t, noInput, speechComplete time.Duration) (done time.Duration, text string, ok bool) {
	at := t
	for !r.speaking(at) {
		if end, g := r.gone(at); g {
			return end, "", false
		}
		at += frame
		if at-t >= noInput {
			return at, "", false
		}
	}
	start := at
	lastSpeech := at
	for ; at-lastSpeech < speechComplete; at += frame {
		if end, g := r.gone(at); g {
			return end, r.textBetween(start, lastSpeech+frame), true
		}
		if r.speaking(at) {
			lastSpeech = at
		}
	}
	return at, r.textBetween(start, lastSpeech+frame), true
}

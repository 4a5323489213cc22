package server

import (
	"testing"
	"time"

	"github.com/mrcpd/mrcpd/mrcp"
	"github.com/mrcpd/mrcpd/mrcp/nlsml"
)

// loudVAD reports speech while frames are non-zero.
type loudVAD struct{ speaking bool }

func (v *loudVAD) Process(pcm []int16) SpeechEvent {
	loud := len(pcm) > 0 && pcm[0] != 0
	switch {
	case loud && !v.speaking:
		v.speaking = true
		return SpeechStart
	case !loud && v.speaking:
		v.speaking = false
		return SpeechEnd
	}
	return SpeechNone
}

func frame(v int16) []int16 {
	f := make([]int16, 160)
	for i := range f {
		f[i] = v
	}
	return f
}

// mod_unimrcp's DEFINE-GRAMMAR with SISR tags (07) and RECOGNIZE session: (08): START-OF-INPUT
// from the endpointer, Speech-Complete-Timeout, then RECOGNITION-COMPLETE whose NLSML instance is
// the grammar's tag value, with the reference server's headers.
func TestVoiceRecognition(t *testing.T) {
	h := newHarness(t, func(c *Config) {
		c.Backends.Recognizer = &holdRecognizer{text: "billing"}
		c.NewEndpointer = func(int, float64) Endpointer { return &loudVAD{} }
	})
	ids, _ := h.offer("call-1", sdpBody(t, modRecogInvite))
	cl := h.dial()
	cl.sendFixture("freeswitch-mod_unimrcp/07-DEFINE-GRAMMAR-file-srgs-sisr.mrcp", ids[0])
	expect(t, cl.next(), wantFixture(t, server18+"DEFINE-GRAMMAR-200-COMPLETE.mrcp", ids[0]))
	cl.sendFixture("freeswitch-mod_unimrcp/08-RECOGNIZE-session-uri.mrcp", ids[0])
	if m := cl.next(); m.StatusCode != 200 || m.State != mrcp.StateInProgress {
		t.Fatalf("RECOGNIZE: %d %s", m.StatusCode, m.State)
	}
	sink := h.media.receiver(t, 0)
	sink.Audio(frame(3000))
	soi := wantFixture(t, server18+"START-OF-INPUT.mrcp", ids[0])
	soi.RequestID = 2
	expect(t, cl.next(), soi)
	sink.Audio(frame(0))
	h.clock.waitTimers(t, 3) // connect, Recognition-Timeout, Speech-Complete-Timeout
	h.clock.Advance(800 * time.Millisecond)
	m := cl.next()
	want := wantFixture(t, server18+"RECOGNITION-COMPLETE-nlsml.mrcp", ids[0])
	want.RequestID = 2
	expect(t, m, want)
	res, err := nlsml.Parse(m.Body)
	if err != nil || len(res.Interpretations) != 1 {
		t.Fatalf("NLSML %v:\n%s", err, m.Body)
	}
	in := res.Interpretations[0]
	if in.Instance != "billing" || in.Input != "billing" || in.Grammar != "session:2410e7c6-b893-4903-a60e-9832d88be640" {
		t.Fatalf("interpretation %+v", in)
	}
}

// Start-Input-Timers: false (fixture 09): No-Input-Timeout runs only after START-INPUT-TIMERS (§9.4.14).
func TestVoiceStartInputTimers(t *testing.T) {
	h := newHarness(t, func(c *Config) {
		c.Backends.Recognizer = &holdRecognizer{text: ""}
		c.NewEndpointer = func(int, float64) Endpointer { return &loudVAD{} }
	})
	ids, _ := h.offer("call-1", sdpBody(t, modRecogInvite))
	cl := h.dial()
	cl.sendFixture("freeswitch-mod_unimrcp/09-RECOGNIZE-start-input-timers-false.mrcp", ids[0])
	cl.next()
	// Timers are off until START-INPUT-TIMERS (fixture 09 then mod_unimrcp's prompt ends).
	h.clock.Advance(5 * time.Second)
	cl.send(mrcp.NewRequest(mrcp.MethodStartInputTimers, 2, ids[0]))
	if m := cl.next(); m.StatusCode != 200 || m.RequestID != 2 {
		t.Fatalf("START-INPUT-TIMERS: %d", m.StatusCode)
	}
	h.clock.Advance(3 * time.Second) // No-Input-Timeout: 3000
	m := cl.next()
	if m.Name != mrcp.EventRecognitionComplete || m.Header.Value(mrcp.HeaderCompletionCause) != "002 no-input-timeout" {
		t.Fatalf("got %s %s", m.Name, m.Header.Value(mrcp.HeaderCompletionCause))
	}
}

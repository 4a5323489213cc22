package server

import (
	"context"
	"github.com/mrcpd/mrcpd/media"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/mrcpd/mrcpd/asr"

	"github.com/mrcpd/mrcpd/mrcp"
	"github.com/mrcpd/mrcpd/mrcp/nlsml"
)

// loudVAD reports speech while frames are non-zero.
type loudVAD struct{ speaking bool }

func (v *loudVAD) Process(pcm []int16) media.VADEvent {
	loud := len(pcm) > 0 && pcm[0] != 0
	switch {
	case loud && !v.speaking:
		v.speaking = true
		return media.SpeechStart
	case !loud && v.speaking:
		v.speaking = false
		return media.SpeechEnd
	}
	return media.VADNone
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
		c.NewEndpointer = func(int, float64) media.Detector { return &loudVAD{} }
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
	waitTimers(t, h.clock, 3) // connect, Recognition-Timeout, Speech-Complete-Timeout
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
		c.NewEndpointer = func(int, float64) media.Detector { return &loudVAD{} }
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

// speechRecognizer detects speech itself: SpeechStarted on the first loud frame, SpeechEnded on
// the first quiet one after it; Final once asked.
type speechRecognizer struct{ holdRecognizer }

func (r *speechRecognizer) Info(ctx context.Context) (asr.RecognizerInfo, error) {
	info, _ := r.holdRecognizer.Info(ctx)
	info.SpeechEvents = true
	return info, nil
}

func (r *speechRecognizer) Recognize(ctx context.Context, req asr.RecognizeRequest) (asr.RecognitionStream, error) {
	ctx, cancel := context.WithCancel(ctx)
	return &speechStream{holdStream: holdStream{ctx: ctx, cancel: cancel, text: r.text, fin: make(chan struct{}, 1)},
		events: make(chan asr.Event, 4)}, nil
}

type speechStream struct {
	holdStream
	events   chan asr.Event
	speaking bool
}

func (s *speechStream) Send(in asr.Input) error {
	if a, ok := in.(*asr.Audio); ok {
		loud := a.PCM[0] != 0
		if loud != s.speaking {
			s.speaking = loud
			if loud {
				s.events <- &asr.SpeechStarted{}
			} else {
				s.events <- &asr.SpeechEnded{}
			}
		}
	}
	return s.holdStream.Send(in)
}

func (s *speechStream) Recv() (asr.Event, error) {
	select {
	case ev := <-s.events:
		return ev, nil
	default:
	}
	select {
	case ev := <-s.events:
		return ev, nil
	case <-s.ctx.Done():
		return nil, s.ctx.Err()
	case <-s.fin:
		if s.sent {
			return nil, io.EOF
		}
		s.sent = true
		return &asr.Final{Alternatives: []asr.Alternative{{Text: s.text, Confidence: 0.8}}}, nil
	}
}

// An engine with its own speech detection: its SpeechEnded starts Speech-Complete-Timeout, whose
// expiry asks for the Final.
func TestEngineSpeechEvents(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.Backends.Recognizer = &speechRecognizer{holdRecognizer{text: "yes"}} })
	ids, _ := h.offer("call-1", sdpBody(t, modRecogInvite))
	cl := h.dial()
	cl.sendFixture("freeswitch-mod_unimrcp/03-RECOGNIZE-builtin-boolean.mrcp", ids[0])
	cl.next()
	sink := h.media.receiver(t, 0)
	sink.Audio(frame(1000))
	if m := cl.next(); m.Name != mrcp.EventStartOfInput {
		t.Fatalf("got %s", m.Name)
	}
	sink.Audio(frame(0))
	waitTimers(t, h.clock, 3)
	h.clock.Advance(800 * time.Millisecond)
	m := cl.next()
	if m.Header.Value(mrcp.HeaderCompletionCause) != "000 success" || !strings.Contains(string(m.Body), "yes") {
		t.Fatalf("got %s %s\n%s", m.Name, m.Header.Value(mrcp.HeaderCompletionCause), m.Body)
	}
}

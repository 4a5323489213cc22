package server

import (
	"context"
	"github.com/mrcpd/mrcpd/media"
	"testing"
	"time"

	"github.com/mrcpd/mrcpd/asr"
	"github.com/mrcpd/mrcpd/mrcp"
)

// muteRecognizer's streams take FinalizeInput and never answer: an engine that hung mid-utterance
// while its process still answers pings.
type muteRecognizer struct{ holdRecognizer }

func (r *muteRecognizer) Recognize(ctx context.Context, req asr.RecognizeRequest) (asr.RecognitionStream, error) {
	ctx, cancel := context.WithCancel(ctx)
	return &muteStream{holdStream{ctx: ctx, cancel: cancel, fin: make(chan struct{}, 1)}}, nil
}

type muteStream struct{ holdStream }

func (s *muteStream) Send(asr.Input) error { return nil }

// An engine that gives no Final within FinalizeTimeout ends the recognition with 006
// recognizer-error, not a no-match: the caller may well have said something in the grammar.
func TestFinalizeTimeoutIsRecognizerError(t *testing.T) {
	h := newHarness(t, func(c *Config) {
		c.Backends.Recognizer = &muteRecognizer{}
		c.NewEndpointer = func(int, float64) media.Detector { return &loudVAD{} }
		c.FinalizeTimeout = 5 * time.Second
	})
	ids, _ := h.offer("call-1", sdpBody(t, modRecogInvite))
	cl := h.dial()
	cl.sendFixture("freeswitch-mod_unimrcp/03-RECOGNIZE-builtin-boolean.mrcp", ids[0])
	if m := cl.next(); m.StatusCode != 200 || m.State != mrcp.StateInProgress {
		t.Fatalf("RECOGNIZE: %d %s", m.StatusCode, m.State)
	}
	sink := h.media.receiver(t, 0)
	sink.Audio(frame(3000))
	if m := cl.next(); m.Name != mrcp.EventStartOfInput {
		t.Fatalf("got %s", m.Name)
	}
	sink.Audio(frame(0))
	waitTimers(t, h.clock, 3) // connect, Recognition-Timeout, Speech-Complete-Timeout
	h.clock.Advance(800 * time.Millisecond)
	waitTimers(t, h.clock, 3) // Speech-Complete-Timeout fired; the finalize bound replaced it
	h.clock.Advance(5 * time.Second)
	m := cl.next()
	if m.Name != mrcp.EventRecognitionComplete || m.Header.Value(mrcp.HeaderCompletionCause) != "006 recognizer-error" {
		t.Fatalf("got %s %q", m.Name, m.Header.Value(mrcp.HeaderCompletionCause))
	}
}

package server

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mrcpd/mrcpd/asr"
	"github.com/mrcpd/mrcpd/asr/testkit"
	"github.com/mrcpd/mrcpd/mrcp"
)

// gateSynth emits one chunk per release, so the test decides when an utterance ends.
type gateSynth struct{ release chan struct{} }

func (s *gateSynth) Info(context.Context) (asr.SynthesizerInfo, error) {
	return asr.SynthesizerInfo{Name: "gate", SampleRates: []int{8000}}, nil
}

func (s *gateSynth) Synthesize(ctx context.Context, _ asr.SynthesizeRequest) (asr.SynthesisStream, error) {
	return &gateStream{ctx: ctx, release: s.release}, nil
}

type gateStream struct {
	ctx     context.Context
	release chan struct{}
	done    bool
}

func (s *gateStream) Recv() (asr.SynthEvent, error) {
	if s.done {
		return nil, io.EOF
	}
	select {
	case <-s.ctx.Done():
		return nil, s.ctx.Err()
	case <-s.release:
		s.done = true
		return &asr.SynthAudio{PCM: make([]int16, 160)}, nil
	}
}

func (s *gateStream) Close() error { return nil }

func speak(id uint32, ch, text string) *mrcp.Message {
	m := mrcp.NewRequest(mrcp.MethodSpeak, id, ch)
	m.Header.Set(mrcp.HeaderContentType, "text/plain")
	m.Body = []byte(text)
	return m
}

// §8.5-§8.8: a second SPEAK waits (PENDING) and is announced by SPEECH-MARKER IN-PROGRESS when it
// starts; PAUSE/RESUME name the request; STOP ends it without SPEAK-COMPLETE.
func TestSpeakQueuePauseStop(t *testing.T) {
	g := &gateSynth{release: make(chan struct{})}
	h := newHarness(t, func(c *Config) { c.Backends.Synthesizer = g })
	ids, _ := h.offer("call-1", sdpBody(t, modSynthInvite))
	ch := ids[0]
	cl := h.dial()
	cl.send(speak(1, ch, "one"))
	if m := cl.next(); m.State != mrcp.StateInProgress {
		t.Fatalf("first SPEAK: %s", m.State)
	}
	cl.send(speak(2, ch, "two"))
	if m := cl.next(); m.StatusCode != 200 || m.State != mrcp.StatePending {
		t.Fatalf("second SPEAK: %d %s", m.StatusCode, m.State)
	}
	cl.send(mrcp.NewRequest(mrcp.MethodPause, 3, ch))
	if m := cl.next(); m.StatusCode != 200 || m.Header.Value(mrcp.HeaderActiveRequestIDList) != "1" {
		t.Fatalf("PAUSE: %d %v", m.StatusCode, m.Header.Fields)
	}
	cl.send(mrcp.NewRequest(mrcp.MethodResume, 4, ch))
	if m := cl.next(); m.StatusCode != 200 {
		t.Fatalf("RESUME: %d", m.StatusCode)
	}
	cl.send(mrcp.NewRequest(mrcp.MethodResume, 5, ch))
	if m := cl.next(); m.StatusCode != 402 {
		t.Fatalf("RESUME when not paused: %d", m.StatusCode)
	}
	g.release <- struct{}{}
	waitTimers(t, h.clock, 2)
	h.clock.Advance(20e6)
	if m := cl.next(); m.Name != mrcp.EventSpeakComplete || m.RequestID != 1 {
		t.Fatalf("want SPEAK-COMPLETE 1, got %s %d", m.Name, m.RequestID)
	}
	if m := cl.next(); m.Name != mrcp.EventSpeechMarker || m.RequestID != 2 || m.State != mrcp.StateInProgress {
		t.Fatalf("want SPEECH-MARKER 2 IN-PROGRESS, got %s %d %s", m.Name, m.RequestID, m.State)
	}
	cl.send(mrcp.NewRequest(mrcp.MethodStop, 6, ch))
	if m := cl.next(); m.RequestID != 6 || m.Header.Value(mrcp.HeaderActiveRequestIDList) != "2" {
		t.Fatalf("STOP: %d %v", m.RequestID, m.Header.Fields)
	}
	cl.send(mrcp.NewRequest(mrcp.MethodGetParams, 7, ch))
	if m := cl.next(); m.RequestID != 7 {
		t.Fatalf("a stopped SPEAK sent %s %d", m.Name, m.RequestID)
	}
	cl.send(speak(8, ch, "three"))
	cl.next()
	cl.send(mrcp.NewRequest(mrcp.MethodBargeInOccurred, 9, ch))
	if m := cl.next(); m.RequestID != 9 || m.Header.Value(mrcp.HeaderActiveRequestIDList) != "8" {
		t.Fatalf("BARGE-IN-OCCURRED: %d %v", m.RequestID, m.Header.Fields)
	}
}

func TestSpeakErrors(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.Backends.Synthesizer = &toneSynth{chunks: 1} })
	ids, _ := h.offer("call-1", sdpBody(t, modSynthInvite))
	cl := h.dial()
	bad := speak(1, ids[0], "x")
	bad.Header.Set(mrcp.HeaderContentType, "application/octet-stream")
	tests := []struct {
		name   string
		m      *mrcp.Message
		status int
	}{
		{"unsupported body", bad, 409},
		{"empty SPEAK", speak(2, ids[0], ""), 406},
		{"PAUSE idle", mrcp.NewRequest(mrcp.MethodPause, 3, ids[0]), 402},
		{"CONTROL idle", mrcp.NewRequest(mrcp.MethodControl, 4, ids[0]), 402},
		{"RECOGNIZE on synth", mrcp.NewRequest(mrcp.MethodRecognize, 5, ids[0]), 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cl.send(tt.m)
			if m := cl.next(); m.StatusCode != tt.status {
				t.Fatalf("got %d, want %d", m.StatusCode, tt.status)
			}
		})
	}
}

// TestSpeakFirstAudioMetric: mrcpd_speak_first_audio_seconds measures from the start of
// synthesis to the first audio handed to the pacer, on the server's clock.
func TestSpeakFirstAudioMetric(t *testing.T) {
	g := &gateSynth{release: make(chan struct{})}
	reg := prometheus.NewRegistry()
	h := newHarness(t, func(c *Config) { c.Backends.Synthesizer = g; c.Metrics = NewMetrics(reg) })
	ids, _ := h.offer("call-1", sdpBody(t, modSynthInvite))
	cl := h.dial()
	cl.send(speak(1, ids[0], "one"))
	if m := cl.next(); m.State != mrcp.StateInProgress {
		t.Fatalf("SPEAK: %s", m.State)
	}
	// IN-PROGRESS leaves before the synthesis starts: a request answered after it means the
	// start time is taken before time moves.
	cl.send(mrcp.NewRequest(mrcp.MethodGetParams, 2, ids[0]))
	cl.next()
	h.clock.Advance(30 * time.Millisecond) // the engine takes 30 ms to its first chunk
	g.release <- struct{}{}
	var count uint64
	var sum float64
	testkit.Eventually(t, "a first-audio observation", func() bool {
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			if mf.GetName() == "mrcpd_speak_first_audio_seconds" {
				hist := mf.GetMetric()[0].GetHistogram()
				count, sum = hist.GetSampleCount(), hist.GetSampleSum()
			}
		}
		return count > 0
	})
	if count != 1 || sum != 0.03 {
		t.Fatalf("first audio: %d observations, sum %v s, want 1 of 0.03 s", count, sum)
	}
}

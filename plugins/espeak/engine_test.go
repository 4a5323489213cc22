package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"

	"github.com/mrcpd/mrcpd/asr"
	"github.com/mrcpd/mrcpd/plugins/internal/plugintest"
)

var (
	engOnce sync.Once
	eng     *Engine
	engErr  error
)

// testEngine is shared: espeak-ng is initialised once per process.
func testEngine(t testing.TB) *Engine {
	t.Helper()
	engOnce.Do(func() { eng, engErr = NewEngine(configFromSettings(nil), slog.New(slog.DiscardHandler)) })
	if engErr != nil {
		t.Fatal(engErr)
	}
	return eng
}

type result struct {
	samples int
	marks   []string
	energy  float64
}

func drain(t testing.TB, s asr.SynthesisStream) (result, error) {
	var r result
	for {
		ev, err := s.Recv()
		if errors.Is(err, io.EOF) {
			return r, nil
		}
		if err != nil {
			return r, err
		}
		switch e := ev.(type) {
		case *asr.SynthAudio:
			r.samples += len(e.PCM)
			for _, v := range e.PCM {
				r.energy += float64(v) * float64(v)
			}
		case *asr.Mark:
			r.marks = append(r.marks, e.Name)
		}
	}
}

func TestSynthesize(t *testing.T) {
	e := testEngine(t)
	for _, tc := range []struct {
		name           string
		req            asr.SynthesizeRequest
		minSec, maxSec float64
		marks          []string
	}{
		{"plain 8k", asr.SynthesizeRequest{Text: "Hello, welcome to the main menu.", SampleRate: 8000}, 1, 4, nil},
		{"plain 16k slow", asr.SynthesizeRequest{Text: "Hello, welcome to the main menu.", SampleRate: 16000, Rate: "x-slow"}, 2, 7, nil},
		{"ssml with mark and break", asr.SynthesizeRequest{ContentType: "application/ssml+xml", SampleRate: 8000,
			Text: `<?xml version="1.0"?><speak version="1.0" xmlns="http://www.w3.org/2001/10/synthesis" xml:lang="en-US">` +
				`one <mark name="m1"/> two <break time="1s"/> three</speak>`}, 2, 5, []string{"m1"}},
		{"female voice, language", asr.SynthesizeRequest{Text: "yes", Gender: "female", Language: "en-US", SampleRate: 8000}, 0.2, 2, nil},
		{"unknown voice falls back", asr.SynthesizeRequest{Text: "no", Voice: "no-such-voice", SampleRate: 8000}, 0.2, 2, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := e.Synthesize(context.Background(), tc.req)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			r, err := drain(t, s)
			if err != nil {
				t.Fatal(err)
			}
			sec := float64(r.samples) / float64(tc.req.SampleRate)
			if sec < tc.minSec || sec > tc.maxSec {
				t.Errorf("%.2f s of audio, want %.1f-%.1f", sec, tc.minSec, tc.maxSec)
			}
			if rms := r.energy / float64(max(r.samples, 1)); rms < 1e4 {
				t.Errorf("mean power %.0f: silence", rms)
			}
			if len(r.marks) != len(tc.marks) || (len(tc.marks) > 0 && r.marks[0] != tc.marks[0]) {
				t.Errorf("marks %v, want %v", r.marks, tc.marks)
			}
		})
	}
}

func TestInfoVoices(t *testing.T) {
	info, err := testEngine(t).Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, v := range info.Voices {
		if v.Name == "en-us" && v.Language == "en-US" {
			found = true
		}
	}
	if !found || !info.SSML || !info.Marks {
		t.Errorf("Info %+v: want voice en-us, SSML and marks", info)
	}
}

func TestEmptyTextAndCancel(t *testing.T) {
	e := testEngine(t)
	if _, err := e.Synthesize(context.Background(), asr.SynthesizeRequest{Text: "  "}); asr.KindOf(err) != asr.ErrBadParameter {
		t.Errorf("empty text: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s, err := e.Synthesize(ctx, asr.SynthesizeRequest{Text: "This is a long sentence that takes a while to speak, and then some more words follow it.", SampleRate: 8000})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Recv(); err != nil {
		t.Fatal(err)
	}
	cancel()
	if _, err := drain(t, s); !errors.Is(err, context.Canceled) {
		t.Fatalf("after cancel: %v", err)
	}
	s.Close()
	// The engine is free again: a cancelled utterance released the library.
	s2, _ := e.Synthesize(context.Background(), asr.SynthesizeRequest{Text: "ok", SampleRate: 8000})
	defer s2.Close()
	if _, err := drain(t, s2); err != nil {
		t.Fatal(err)
	}
}

func TestProsodyMapping(t *testing.T) {
	for _, tc := range []struct {
		fn   func(string) int
		in   string
		want int
	}{
		{rateWPM, "", 175}, {rateWPM, "x-fast", 300}, {rateWPM, "2", 350}, {rateWPM, "+20%", 210}, {rateWPM, "0.1", 80},
		{volume, "loud", 150}, {volume, "50", 100}, {volume, "-50%", 50},
		{pitch, "high", 65}, {pitch, "1.2", 60}, {pitch, "bogus", 50},
	} {
		if got := tc.fn(tc.in); got != tc.want {
			t.Errorf("%q -> %d, want %d", tc.in, got, tc.want)
		}
	}
}

// BenchmarkFirstAudio measures SPEAK-to-first-chunk latency for a one-sentence prompt in process
// (the plugin boundary adds the gRPC hop, measured in the plugin package's tests).
func BenchmarkFirstAudio(b *testing.B) {
	plugintest.BenchFirstAudio(b, testEngine(b), func(s asr.SynthesisStream) { drain(b, s) })
}

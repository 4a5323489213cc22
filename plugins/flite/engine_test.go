package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"

	"github.com/mrcpd/mrcpd/asr"
	"github.com/mrcpd/mrcpd/asr/asrtest"
	"github.com/mrcpd/mrcpd/plugins/internal/plugintest"
)

var (
	engOnce sync.Once
	eng     *Engine
	engErr  error
)

func testEngine(t testing.TB) *Engine {
	t.Helper()
	engOnce.Do(func() { eng, engErr = NewEngine("slt", slog.New(slog.DiscardHandler)) })
	if engErr != nil {
		t.Fatal(engErr)
	}
	return eng
}

func TestVoicesAndProsody(t *testing.T) {
	e := testEngine(t)
	for _, tc := range []struct {
		name   string
		req    asr.SynthesizeRequest
		lo, hi float64
	}{
		{"slt 8k", asr.SynthesizeRequest{Text: "Hello, welcome to the main menu.", SampleRate: 8000}, 1, 4},
		{"kal by name", asr.SynthesizeRequest{Text: "Hello, welcome to the main menu.", Voice: "kal", SampleRate: 8000}, 1, 4},
		{"male by gender 16k", asr.SynthesizeRequest{Text: "Hello, welcome to the main menu.", Gender: "male", SampleRate: 16000}, 1, 4},
		{"slow", asr.SynthesizeRequest{Text: "Hello, welcome to the main menu.", Rate: "x-slow", SampleRate: 8000}, 3, 8},
		{"ssml reduced to text", asr.SynthesizeRequest{ContentType: "application/ssml+xml", Text: `<speak>one <break/> two</speak>`, SampleRate: 8000}, 0.4, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pcm, err := asrtest.Synthesize(t, e, tc.req)
			if err != nil {
				t.Fatal(err)
			}
			if sec := float64(len(pcm)) / float64(tc.req.SampleRate); sec < tc.lo || sec > tc.hi {
				t.Errorf("%.2f s, want %.1f-%.1f", sec, tc.lo, tc.hi)
			}
		})
	}
	if got := e.pickVoice(asr.SynthesizeRequest{Voice: "cmu_us_awb"}); got != "awb" {
		t.Errorf("cmu_us_awb -> %s", got)
	}
	if got := e.pickVoice(asr.SynthesizeRequest{Gender: "female"}); got != "slt" {
		t.Errorf("female -> %s", got)
	}
}

func TestCancel(t *testing.T) {
	e := testEngine(t)
	ctx, cancel := context.WithCancel(context.Background())
	s, err := e.Synthesize(ctx, asr.SynthesizeRequest{Text: "A long sentence that takes a good while to say, and some more after it.", SampleRate: 8000})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Recv(); err != nil {
		t.Fatal(err)
	}
	cancel()
	for {
		if _, err := s.Recv(); err != nil {
			if !errors.Is(err, context.Canceled) && !errors.Is(err, io.EOF) {
				t.Fatal(err)
			}
			break
		}
	}
}

func TestConformance(t *testing.T) {
	plugintest.SynthesizerConformance(t, "flite", 2, map[string]string{"voice": "kal"})
}

func BenchmarkFirstAudio(b *testing.B) {
	plugintest.BenchFirstAudio(b, testEngine(b), func(s asr.SynthesisStream) {
		for {
			if _, err := s.Recv(); err != nil {
				break
			}
		}
	})
}

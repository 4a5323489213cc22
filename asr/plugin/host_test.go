package plugin

import (
	"context"
	"errors"
	"io"
	"os"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/mrcpd/mrcpd/asr"
	"github.com/mrcpd/mrcpd/asr/asrtest"
	"github.com/mrcpd/mrcpd/asr/testkit"
)

func startNoop(t testing.TB, mut func(*HostConfig)) *Host {
	t.Helper()
	cfg := HostConfig{Name: "noop", Path: os.Args[0], Env: []string{envServeNoop + "=1"},
		Settings: map[string]string{"a": "b"}, MinBackoff: 20 * time.Millisecond}
	if mut != nil {
		mut(&cfg)
	}
	h, err := Start(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

func recvAll(t *testing.T, s asr.RecognitionStream) ([]asr.Event, error) {
	t.Helper()
	var evs []asr.Event
	for {
		ev, err := s.Recv()
		if err != nil {
			return evs, err
		}
		evs = append(evs, ev)
	}
}

func TestRecognizeRoundTrip(t *testing.T) {
	h := startNoop(t, nil)
	rec := h.Recognizer()
	info, err := rec.Info(context.Background())
	if err != nil || info.Name != "noop" || len(info.SampleRates) != 2 {
		t.Fatalf("Info = %+v, %v", info, err)
	}
	s, err := rec.Recognize(context.Background(), asr.RecognizeRequest{SampleRate: 8000, Params: map[string]string{"k": "v"}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i := 0; i < 10; i++ {
		if err := s.Send(&asr.Audio{PCM: make([]int16, 160)}); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range "12#" {
		s.Send(&asr.DTMF{Digit: d})
	}
	s.Send(&asr.FinalizeInput{})
	evs, err := recvAll(t, s)
	if !errors.Is(err, io.EOF) {
		t.Fatalf("Recv: %v", err)
	}
	if len(evs) != 3 {
		t.Fatalf("events %#v", evs)
	}
	if r, ok := evs[0].(*asr.Ready); !ok || r.Params["k"] != "v" || r.Params["a"] != "b" {
		t.Errorf("first event %#v", evs[0])
	}
	if f, ok := evs[1].(*asr.Final); !ok || len(f.Alternatives) != 1 || f.Alternatives[0].Text != "12#" {
		t.Errorf("final %#v", evs[1])
	}
	if u, ok := evs[2].(*asr.Usage); !ok || u.Audio != 200*time.Millisecond {
		t.Errorf("usage %#v", evs[2])
	}
}

func TestTypedErrorsCross(t *testing.T) {
	h := startNoop(t, nil)
	s, err := h.Recognizer().Recognize(context.Background(), asr.RecognizeRequest{
		Grammars: []asr.Grammar{{ID: "g1", ContentType: "application/srgs+xml", Body: []byte("not xml")}}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	_, err = s.Recv()
	var e *asr.Error
	if !errors.As(err, &e) || e.Kind != asr.ErrBadGrammar || e.Retryable {
		t.Fatalf("Recv = %v, want bad-grammar", err)
	}
}

func TestCancelCrossesBoundary(t *testing.T) {
	h := startNoop(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	s, err := h.Recognizer().Recognize(ctx, asr.RecognizeRequest{SampleRate: 8000})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if ev, err := s.Recv(); err != nil {
		t.Fatalf("ready: %v %v", ev, err)
	}
	cancel()
	if _, err := s.Recv(); !errors.Is(err, context.Canceled) {
		t.Fatalf("Recv after cancel = %v, want context.Canceled", err)
	}
}

// waitWorking waits until a new stream gets its Ready: the restarted process serves again.
func waitWorking(t *testing.T, h *Host) {
	t.Helper()
	testkit.Eventually(t, "the plugin to come back", func() bool {
		s, err := h.Recognizer().Recognize(context.Background(), asr.RecognizeRequest{SampleRate: 8000})
		if err != nil {
			return false
		}
		defer s.Close()
		_, err = s.Recv()
		return err == nil
	})
}

func TestCrashAndHangFailStreamsAndRestart(t *testing.T) {
	for _, tc := range []struct {
		name  string
		fault func(t *testing.T, h *Host, s asr.RecognitionStream)
	}{
		{"exit mid-stream", func(t *testing.T, h *Host, s asr.RecognitionStream) {
			// noop.exit-after-ms makes the engine call os.Exit once 100 ms of audio arrived.
			for i := 0; i < 10; i++ {
				s.Send(&asr.Audio{PCM: make([]int16, 160)})
			}
		}},
		{"killed", func(t *testing.T, h *Host, s asr.RecognitionStream) {
			syscall.Kill(h.PIDs()[0], syscall.SIGKILL)
		}},
		{"stops answering", func(t *testing.T, h *Host, s asr.RecognitionStream) {
			syscall.Kill(h.PIDs()[0], syscall.SIGSTOP)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var restarts atomic.Int32
			h := startNoop(t, func(c *HostConfig) { c.OnRestart = func() { restarts.Add(1) } })
			s, err := h.Recognizer().Recognize(context.Background(), asr.RecognizeRequest{SampleRate: 8000,
				Params: map[string]string{"noop.exit-after-ms": "100"}})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if _, err := s.Recv(); err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			tc.fault(t, h, s)
			_, err = s.Recv()
			if took := time.Since(start); took > 2*time.Second {
				t.Errorf("failure took %v to reach the caller", took)
			}
			var e *asr.Error
			if !errors.As(err, &e) || e.Kind != asr.ErrUnavailable {
				t.Fatalf("Recv = %v, want unavailable", err)
			}
			waitWorking(t, h)
			if restarts.Load() != 1 {
				t.Errorf("%d restarts, want 1", restarts.Load())
			}
		})
	}
}

// A process that answers one ping late (stopped for a moment, as a loaded machine does to it) keeps
// its streams: killing it would fail every call on it.
func TestOneLatePingForgiven(t *testing.T) {
	var restarts atomic.Int32
	h := startNoop(t, func(c *HostConfig) {
		c.PingInterval, c.PingTimeout = 100*time.Millisecond, 300*time.Millisecond
		c.OnRestart = func() { restarts.Add(1) }
	})
	s, err := h.Recognizer().Recognize(context.Background(), asr.RecognizeRequest{SampleRate: 8000})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Recv(); err != nil {
		t.Fatal(err)
	}
	pid := h.PIDs()[0]
	syscall.Kill(pid, syscall.SIGSTOP)
	time.Sleep(400 * time.Millisecond) // one ping's timeout, not two
	syscall.Kill(pid, syscall.SIGCONT)
	time.Sleep(500 * time.Millisecond) // the pings after it are answered
	if err := s.Send(&asr.FinalizeInput{}); err != nil {
		t.Fatalf("stream lost after one late ping: %v", err)
	}
	if _, err := recvAll(t, s); !errors.Is(err, io.EOF) {
		t.Fatalf("stream lost after one late ping: %v", err)
	}
	if n := restarts.Load(); n != 0 || h.PIDs()[0] != pid {
		t.Fatalf("process restarted (%d restarts) after one late ping", n)
	}
}

func TestReadyTimeout(t *testing.T) {
	h := startNoop(t, func(c *HostConfig) { c.ReadyTimeout = 200 * time.Millisecond })
	s, err := h.Recognizer().Recognize(context.Background(), asr.RecognizeRequest{Params: map[string]string{"noop.hang": "1"}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Recv(); asr.KindOf(err) != asr.ErrUnavailable {
		t.Fatalf("Recv = %v, want unavailable", err)
	}
}

func TestSynthesize(t *testing.T) {
	h := startNoop(t, nil)
	s, err := h.Synthesizer().Synthesize(context.Background(), asr.SynthesizeRequest{Text: "hello world, twenty chars", SampleRate: 8000})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var n int
	for {
		ev, err := s.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		n += len(ev.(*asr.SynthAudio).PCM)
	}
	if n != 3*800 {
		t.Fatalf("got %d samples, want 2400", n)
	}
	s2, err := h.Synthesizer().Synthesize(context.Background(), asr.SynthesizeRequest{})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if _, err := s2.Recv(); asr.KindOf(err) != asr.ErrBadParameter {
		t.Fatalf("empty text: %v", err)
	}
}

func TestConformanceNoopPlugin(t *testing.T) {
	h := startNoop(t, nil)
	crash := func(t *testing.T) { syscall.Kill(h.PIDs()[0], syscall.SIGKILL) }
	asrtest.RunRecognizer(t, func(*testing.T) asr.Recognizer { return h.Recognizer() }, asrtest.Options{SampleRate: 8000, Crash: crash})
	asrtest.RunSynthesizer(t, func(*testing.T) asr.Synthesizer { return h.Synthesizer() },
		asrtest.SynthOptions{AllowSilence: true, MinSeconds: 0.2, Crash: crash})
}

func TestInProcessHarness(t *testing.T) {
	h := NewTestHost(t, ServeConfig{Recognizer: &asrtest.Noop{}, Synthesizer: asrtest.NoopSynth{}})
	asrtest.RunRecognizer(t, func(*testing.T) asr.Recognizer { return h.Recognizer() }, asrtest.Options{SampleRate: 8000})
	asrtest.RunSynthesizer(t, func(*testing.T) asr.Synthesizer { return h.Synthesizer() }, asrtest.SynthOptions{AllowSilence: true, MinSeconds: 0.2})
}

package asrtest

import (
	"context"
	"errors"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/mrcpd/mrcpd/asr"
)

// SynthOptions describes the synthesizer under test.
type SynthOptions struct {
	SampleRate  int    // default 8000
	Text        string // a one-sentence prompt; default "Welcome to the conformance test."
	Concurrency int    // default 4
	// Crash, for an out-of-process backend, kills its process (see Options.Crash).
	Crash   func(t *testing.T)
	Timeout time.Duration // default 10 s
	// MinSeconds is the least audio Text must give (default 0.5); silence does not count unless
	// AllowSilence (for the no-op synthesizer).
	MinSeconds   float64
	AllowSilence bool
}

// RunSynthesizer runs the synthesizer conformance tests. newSyn is called once per subtest.
func RunSynthesizer(t *testing.T, newSyn func(t *testing.T) asr.Synthesizer, o SynthOptions) {
	if o.SampleRate == 0 {
		o.SampleRate = 8000
	}
	if o.Text == "" {
		o.Text = "Welcome to the conformance test."
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 4
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	if o.MinSeconds == 0 {
		o.MinSeconds = 0.5
	}
	req := asr.SynthesizeRequest{ContentType: "text/plain", Text: o.Text, SampleRate: o.SampleRate}
	t.Run("Info", func(t *testing.T) {
		info, err := newSyn(t).Info(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if info.Name == "" || len(info.Voices) == 0 || len(info.SampleRates) == 0 {
			t.Errorf("Info %+v: want a name, voices and sample rates", info)
		}
	})
	t.Run("SpeakText", func(t *testing.T) {
		checkSpeech(t, synthesize(t, newSyn(t), req, o.Timeout), o)
	})
	t.Run("SpeakSSML", func(t *testing.T) {
		s := newSyn(t)
		info, err := s.Info(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if !info.SSML {
			t.Skip("synthesizer declares no SSML")
		}
		r := req
		r.ContentType = "application/ssml+xml"
		r.Text = `<?xml version="1.0"?><speak version="1.0" xmlns="http://www.w3.org/2001/10/synthesis" xml:lang="en-US">` +
			o.Text + `<break time="300ms"/><prosody rate="slow">thank you</prosody></speak>`
		checkSpeech(t, synthesize(t, s, r, o.Timeout), o)
	})
	t.Run("EmptyTextIsBadParameter", func(t *testing.T) {
		r := req
		r.Text = ""
		res := synthesize(t, newSyn(t), r, o.Timeout)
		if asr.KindOf(res.err) != asr.ErrBadParameter {
			t.Fatalf("empty text: %v, want kind bad-parameter", res.err)
		}
	})
	t.Run("CancelMidStream", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		s, err := newSyn(t).Synthesize(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if _, err := s.Recv(); err != nil {
			t.Fatal(err)
		}
		cancel()
		deadline := time.After(2 * time.Second)
		for {
			done := make(chan error, 1)
			go func() { _, err := s.Recv(); done <- err }()
			select {
			case err := <-done:
				if err == nil {
					continue // audio already in flight
				}
				if !errors.Is(err, context.Canceled) && asr.KindOf(err) == asr.ErrInternal && !errors.Is(err, io.EOF) {
					t.Fatalf("after cancel: %v", err)
				}
				return
			case <-deadline:
				t.Fatal("stream did not end within 2 s of cancel")
			}
		}
	})
	t.Run("ConcurrentSessions", func(t *testing.T) {
		s := newSyn(t)
		var wg sync.WaitGroup
		res := make([]synthResult, o.Concurrency)
		for i := range res {
			wg.Add(1)
			go func() { defer wg.Done(); res[i] = synthesize(t, s, req, o.Timeout) }()
		}
		wg.Wait()
		for _, r := range res {
			checkSpeech(t, r, o)
		}
	})
	if o.Crash != nil {
		t.Run("CrashRecovery", func(t *testing.T) {
			s := newSyn(t)
			st, err := s.Synthesize(context.Background(), asr.SynthesizeRequest{Text: o.Text + " " + o.Text + " " + o.Text, SampleRate: o.SampleRate})
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			if _, err := st.Recv(); err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			o.Crash(t)
			var rerr error
			for rerr == nil && time.Since(start) < 2*time.Second {
				_, rerr = st.Recv()
			}
			if took := time.Since(start); took > time.Second {
				t.Errorf("crash reached the caller after %v", took)
			}
			// Audio already buffered may end normally; otherwise it must be unavailable.
			if !errors.Is(rerr, io.EOF) && asr.KindOf(rerr) != asr.ErrUnavailable {
				t.Fatalf("after crash: %v", rerr)
			}
			deadline := time.Now().Add(15 * time.Second)
			for {
				r := synthesize(t, s, req, o.Timeout)
				if r.err == nil {
					checkSpeech(t, r, o)
					return
				}
				if time.Now().After(deadline) {
					t.Fatalf("no working synthesis 15 s after the crash: %v", r.err)
				}
				time.Sleep(50 * time.Millisecond)
			}
		})
	}
}

type synthResult struct {
	pcm   []int16
	marks []string
	err   error
	first time.Duration
}

// Synthesize runs one request to its end and returns the audio, for loop tests.
func Synthesize(t testing.TB, s asr.Synthesizer, req asr.SynthesizeRequest) ([]int16, error) {
	r := synthesize(t, s, req, 30*time.Second)
	return r.pcm, r.err
}

func synthesize(t testing.TB, s asr.Synthesizer, req asr.SynthesizeRequest, timeout time.Duration) synthResult {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	start := time.Now()
	st, err := s.Synthesize(ctx, req)
	if err != nil {
		return synthResult{err: err}
	}
	defer st.Close()
	var r synthResult
	for {
		ev, err := st.Recv()
		if errors.Is(err, io.EOF) {
			return r
		}
		if err != nil {
			r.err = err
			return r
		}
		switch e := ev.(type) {
		case *asr.SynthAudio:
			if r.first == 0 {
				r.first = time.Since(start)
			}
			r.pcm = append(r.pcm, e.PCM...)
		case *asr.Mark:
			r.marks = append(r.marks, e.Name)
		}
	}
}

func checkSpeech(t *testing.T, r synthResult, o SynthOptions) {
	t.Helper()
	if r.err != nil {
		t.Fatalf("synthesis failed: %v", r.err)
	}
	loud := 0
	for _, v := range r.pcm {
		if v > 500 || v < -500 {
			loud++
		}
	}
	if sec := float64(loud) / float64(o.SampleRate); sec < o.MinSeconds/4 && !o.AllowSilence {
		t.Errorf("%.2f s of audio with %.2f s above silence: want speech", float64(len(r.pcm))/float64(o.SampleRate), sec)
	}
	if sec := float64(len(r.pcm)) / float64(o.SampleRate); sec < o.MinSeconds {
		t.Errorf("%.2f s of audio, want at least %.2f", sec, o.MinSeconds)
	}
}

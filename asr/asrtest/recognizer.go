// Package asrtest is the conformance suite for speech backends, in-process or plugin, plus no-op
// backends for measuring and fault injection. A plugin author runs, in their plugin's tests:
//
//	asrtest.RunRecognizer(t, func(t *testing.T) asr.Recognizer { ... }, asrtest.Options{...})
//	asrtest.RunSynthesizer(t, func(t *testing.T) asr.Synthesizer { ... }, asrtest.SynthOptions{...})
package asrtest

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mrcpd/mrcpd/asr"
)

// Options describes the recognizer under test.
type Options struct {
	// SampleRate of the audio sent; 0 means the first rate the recognizer declares.
	SampleRate int
	// Utterance is spoken with espeak-ng and recognised with Grammars; Expect is the text the
	// best alternative must have (case and punctuation ignored). Empty Utterance skips the
	// recognition tests, for engines that recognise nothing (no-op, DTMF-only).
	Utterance string
	Grammars  []asr.Grammar
	Expect    string
	// Concurrency is the number of simultaneous sessions in the concurrency test (default 4).
	Concurrency int
	// Crash, for an out-of-process backend, kills its process; the suite then checks that the
	// stream in flight fails with ErrUnavailable within 1 s and that new streams work again.
	Crash func(t *testing.T)
	// Timeout bounds each wait for an event (default 10 s).
	Timeout time.Duration
}

// RunRecognizer runs the recognizer conformance tests. newRec is called once per subtest.
func RunRecognizer(t *testing.T, newRec func(t *testing.T) asr.Recognizer, o Options) {
	if o.Concurrency <= 0 {
		o.Concurrency = 4
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	rate := func(t *testing.T, r asr.Recognizer) int {
		info, err := r.Info(context.Background())
		if err != nil {
			t.Fatalf("Info: %v", err)
		}
		if o.SampleRate != 0 {
			return o.SampleRate
		}
		if len(info.SampleRates) == 0 {
			t.Fatal("Info declares no sample rates")
		}
		return info.SampleRates[0]
	}
	t.Run("Info", func(t *testing.T) {
		info, err := newRec(t).Info(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if info.Name == "" || len(info.SampleRates) == 0 {
			t.Errorf("Info %+v: want a name and sample rates", info)
		}
		if o.SampleRate != 0 && !contains(info.SampleRates, o.SampleRate) {
			t.Errorf("rate %d not among %v", o.SampleRate, info.SampleRates)
		}
	})
	t.Run("ReadyFirstThenFinalize", func(t *testing.T) {
		r := newRec(t)
		sr := rate(t, r)
		res := recognize(t, r, asr.RecognizeRequest{SampleRate: sr, Grammars: o.Grammars, NBest: 1}, make([]int16, sr/2), o.Timeout)
		if res.err != nil {
			t.Fatalf("Recv: %v", res.err)
		}
		if res.final == nil {
			t.Fatalf("no Final after Finalize: %v", res.events)
		}
	})
	if o.Utterance != "" {
		t.Run("RecognizeUtterance", func(t *testing.T) {
			r := newRec(t)
			sr := rate(t, r)
			res := recognize(t, r, asr.RecognizeRequest{SampleRate: sr, Grammars: o.Grammars, NBest: 1}, Speak(t, o.Utterance, sr), o.Timeout)
			checkResult(t, res, o.Expect)
		})
		t.Run("StreamLimitHealing", func(t *testing.T) {
			// The engine's first stream is cut after 500 ms as a vendor stream cap would; the
			// healing wrapper must reopen it and replay, with the same result.
			r := asr.Healing(&limitOnce{Recognizer: newRec(t), after: 500 * time.Millisecond}, asr.HealOptions{})
			sr := rate(t, r)
			res := recognize(t, r, asr.RecognizeRequest{SampleRate: sr, Grammars: o.Grammars, NBest: 1}, Speak(t, o.Utterance, sr), o.Timeout)
			checkResult(t, res, o.Expect)
			if n := countReady(res.events); n != 1 {
				t.Errorf("%d Ready events, want 1: the heal must be invisible", n)
			}
		})
	}
	t.Run("CancelMidStream", func(t *testing.T) {
		r := newRec(t)
		sr := rate(t, r)
		ctx, cancel := context.WithCancel(context.Background())
		s, err := r.Recognize(ctx, asr.RecognizeRequest{SampleRate: sr, Grammars: o.Grammars})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		first(t, s, o.Timeout)
		frame := make([]int16, sr/50)
		for i := 0; i < 10; i++ {
			if err := s.Send(&asr.Audio{PCM: frame}); err != nil {
				t.Fatal(err)
			}
		}
		cancel()
		err = drainFor(s, 2*time.Second)
		var e *asr.Error
		if !errors.Is(err, context.Canceled) && !errors.As(err, &e) && !errors.Is(err, io.EOF) {
			t.Fatalf("after cancel Recv = %v, want context.Canceled, an *asr.Error or io.EOF", err)
		}
	})
	t.Run("MalformedGrammar", func(t *testing.T) {
		r := newRec(t)
		sr := rate(t, r)
		bad := asr.Grammar{ID: "bad", ContentType: "application/srgs+xml", Body: []byte("<grammar version=\"1.0\"><rule"), Mode: "voice"}
		s, err := r.Recognize(context.Background(), asr.RecognizeRequest{SampleRate: sr, Grammars: []asr.Grammar{bad}})
		if err != nil {
			if asr.KindOf(err) != asr.ErrBadGrammar {
				t.Fatalf("Recognize error %v, want kind bad-grammar", err)
			}
			return
		}
		defer s.Close()
		ev, err := recvTimeout(s, o.Timeout)
		if err != nil {
			if asr.KindOf(err) != asr.ErrBadGrammar {
				t.Fatalf("Recv error %v, want kind bad-grammar", err)
			}
			return
		}
		ready, ok := ev.(*asr.Ready)
		if !ok || len(ready.Skipped) == 0 || ready.Skipped[0].ID != "bad" {
			t.Fatalf("first event %#v: want a bad-grammar error or the grammar skipped with a reason", ev)
		}
	})
	t.Run("ConcurrentSessions", func(t *testing.T) {
		r := newRec(t)
		sr := rate(t, r)
		audio := make([]int16, sr/2)
		if o.Utterance != "" {
			audio = Speak(t, o.Utterance, sr)
		}
		var wg sync.WaitGroup
		results := make([]result, o.Concurrency)
		for i := range results {
			wg.Add(1)
			go func() {
				defer wg.Done()
				results[i] = recognize(t, r, asr.RecognizeRequest{SampleRate: sr, Grammars: o.Grammars, NBest: 1}, audio, o.Timeout)
			}()
		}
		wg.Wait()
		for i, res := range results {
			if res.err != nil || res.final == nil {
				t.Errorf("session %d: err %v, final %v", i, res.err, res.final)
				continue
			}
			if o.Utterance != "" {
				checkResult(t, res, o.Expect)
			}
		}
	})
	if o.Crash != nil {
		t.Run("CrashRecovery", func(t *testing.T) {
			r := newRec(t)
			sr := rate(t, r)
			s, err := r.Recognize(context.Background(), asr.RecognizeRequest{SampleRate: sr, Grammars: o.Grammars})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			first(t, s, o.Timeout)
			start := time.Now()
			o.Crash(t)
			err = drainFor(s, 2*time.Second)
			if took := time.Since(start); took > time.Second {
				t.Errorf("the crash reached the caller after %v, want within 1 s", took)
			}
			if asr.KindOf(err) != asr.ErrUnavailable {
				t.Fatalf("Recv after crash = %v, want kind unavailable", err)
			}
			deadline := time.Now().Add(15 * time.Second)
			for {
				res := recognize(t, r, asr.RecognizeRequest{SampleRate: sr, Grammars: o.Grammars}, make([]int16, sr/5), o.Timeout)
				if res.err == nil && res.final != nil {
					return
				}
				if time.Now().After(deadline) {
					t.Fatalf("no working stream 15 s after the crash: %v", res.err)
				}
				time.Sleep(50 * time.Millisecond)
			}
		})
	}
}

type result struct {
	events []asr.Event
	final  *asr.Final
	err    error
}

// recognize streams audio in 20 ms frames, finalizes and collects events until io.EOF.
func recognize(t *testing.T, r asr.Recognizer, req asr.RecognizeRequest, audio []int16, timeout time.Duration) result {
	s, err := r.Recognize(context.Background(), req)
	if err != nil {
		return result{err: err}
	}
	defer s.Close()
	out := make(chan result, 1)
	go func() {
		var res result
		for {
			ev, err := s.Recv()
			if errors.Is(err, io.EOF) {
				out <- res
				return
			}
			if err != nil {
				res.err = err
				out <- res
				return
			}
			res.events = append(res.events, ev)
			if f, ok := ev.(*asr.Final); ok {
				res.final = f
			}
		}
	}()
	// One buffer and one Audio serve every frame, overwritten once Send returns as the contract
	// allows (asr.Audio): an engine that keeps samples without copying them hears garbage.
	buf := make([]int16, req.SampleRate/50)
	in := &asr.Audio{}
	for len(audio) > 0 {
		n := copy(buf, audio)
		in.PCM = buf[:n]
		if err := s.Send(in); err != nil {
			return result{err: err}
		}
		for i := range buf {
			buf[i] = int16(i * 7919) // loud noise, nothing like speech
		}
		audio = audio[n:]
	}
	if err := s.Send(&asr.FinalizeInput{}); err != nil {
		return result{err: err}
	}
	select {
	case res := <-out:
		if len(res.events) > 0 {
			if _, ok := res.events[0].(*asr.Ready); !ok {
				t.Errorf("first event %T, want *asr.Ready", res.events[0])
			}
		}
		return res
	case <-time.After(timeout):
		s.Close()
		return result{err: errors.New("asrtest: no end of stream within the timeout")}
	}
}

func checkResult(t *testing.T, res result, expect string) {
	t.Helper()
	if res.err != nil {
		t.Fatalf("recognition failed: %v", res.err)
	}
	if res.final == nil || len(res.final.Alternatives) == 0 {
		t.Fatalf("no match: events %v", res.events)
	}
	alt := res.final.Alternatives[0]
	if expect != "" && normalize(alt.Text) != normalize(expect) {
		t.Errorf("recognised %q, want %q", alt.Text, expect)
	}
	if alt.Confidence < 0 || alt.Confidence > 1 {
		t.Errorf("confidence %v out of 0..1", alt.Confidence)
	}
}

func normalize(s string) string {
	s = strings.ToLower(s)
	s = strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == ' ' {
			return r
		}
		return ' '
	}, s)
	return strings.Join(strings.Fields(s), " ")
}

func countReady(evs []asr.Event) int {
	n := 0
	for _, ev := range evs {
		if _, ok := ev.(*asr.Ready); ok {
			n++
		}
	}
	return n
}

func contains(v []int, x int) bool {
	for _, y := range v {
		if y == x {
			return true
		}
	}
	return false
}

func recvTimeout(s asr.RecognitionStream, d time.Duration) (asr.Event, error) {
	type r struct {
		ev  asr.Event
		err error
	}
	ch := make(chan r, 1)
	go func() { ev, err := s.Recv(); ch <- r{ev, err} }()
	select {
	case x := <-ch:
		return x.ev, x.err
	case <-time.After(d):
		s.Close()
		<-ch
		return nil, errors.New("asrtest: no event within the timeout")
	}
}

func first(t *testing.T, s asr.RecognitionStream, d time.Duration) {
	t.Helper()
	ev, err := recvTimeout(s, d)
	if err != nil {
		t.Fatalf("first event: %v", err)
	}
	if _, ok := ev.(*asr.Ready); !ok {
		t.Fatalf("first event %T, want *asr.Ready", ev)
	}
}

// drainFor reads until an error and returns it, or a timeout error after d.
func drainFor(s asr.RecognitionStream, d time.Duration) error {
	deadline := time.Now().Add(d)
	for {
		_, err := recvTimeout(s, time.Until(deadline))
		if err != nil {
			return err
		}
	}
}

// limitOnce cuts its first stream with ErrStreamLimit once after worth of audio has been sent.
type limitOnce struct {
	asr.Recognizer
	after time.Duration
	mu    sync.Mutex
	used  bool
}

func (l *limitOnce) Recognize(ctx context.Context, req asr.RecognizeRequest) (asr.RecognitionStream, error) {
	s, err := l.Recognizer.Recognize(ctx, req)
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.used {
		return s, nil
	}
	l.used = true
	rate := max(req.SampleRate, 8000)
	return &limitedStream{RecognitionStream: s, left: int(l.after.Seconds() * float64(rate)), cut: make(chan struct{})}, nil
}

type limitedStream struct {
	asr.RecognitionStream
	mu   sync.Mutex
	left int
	cut  chan struct{}
	once sync.Once
}

func (l *limitedStream) Send(in asr.Input) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if a, ok := in.(*asr.Audio); ok {
		l.left -= len(a.PCM)
	}
	if l.left <= 0 {
		// Past the cut every input fails, as on a vendor stream that has been closed.
		l.once.Do(func() { close(l.cut) })
		return asr.Errorf(asr.ErrStreamLimit, true, "asrtest: stream limit")
	}
	return l.RecognitionStream.Send(in)
}

func (l *limitedStream) Recv() (asr.Event, error) {
	type r struct {
		ev  asr.Event
		err error
	}
	ch := make(chan r, 1)
	go func() { ev, err := l.RecognitionStream.Recv(); ch <- r{ev, err} }()
	select {
	case x := <-ch:
		return x.ev, x.err
	case <-l.cut:
		l.RecognitionStream.Close()
		<-ch
		return nil, asr.Errorf(asr.ErrStreamLimit, true, "asrtest: stream limit")
	}
}

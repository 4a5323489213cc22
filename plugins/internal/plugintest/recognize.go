package plugintest

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/mrcpd/mrcpd/asr"
)

// Frames cuts pcm into 20 ms Audio inputs, as the host sends them.
func Frames(pcm []int16, rate int) []asr.Input {
	var out []asr.Input
	for n := rate / 50; len(pcm) > 0; pcm = pcm[min(n, len(pcm)):] {
		out = append(out, &asr.Audio{PCM: pcm[:min(n, len(pcm))]})
	}
	return out
}

// Collect sends inputs and returns every event and the error that ended the stream. A failed
// Send stops the sending; Recv then has the cause.
func Collect(t *testing.T, r asr.Recognizer, req asr.RecognizeRequest, inputs []asr.Input) ([]asr.Event, error) {
	t.Helper()
	return collect(t, r, req, inputs, false)
}

// CollectOrSendError is Collect, except that a failed Send is returned at once, with no events.
func CollectOrSendError(t *testing.T, r asr.Recognizer, req asr.RecognizeRequest, inputs []asr.Input) ([]asr.Event, error) {
	t.Helper()
	return collect(t, r, req, inputs, true)
}

func collect(t *testing.T, r asr.Recognizer, req asr.RecognizeRequest, inputs []asr.Input, sendErr bool) ([]asr.Event, error) {
	t.Helper()
	s, err := r.Recognize(context.Background(), req)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	type res struct {
		evs []asr.Event
		err error
	}
	done := make(chan res, 1)
	go func() {
		var r res
		for {
			ev, err := s.Recv()
			if err != nil {
				r.err = err
				done <- r
				return
			}
			r.evs = append(r.evs, ev)
		}
	}()
	for _, in := range inputs {
		if err := s.Send(in); err != nil {
			if sendErr {
				return nil, err
			}
			break // Recv has the cause
		}
	}
	select {
	case r := <-done:
		return r.evs, r.err
	case <-time.After(10 * time.Second):
		t.Fatal("stream did not end")
		return nil, nil
	}
}

// FinalOf is the first Final among evs, nil when there is none.
func FinalOf(evs []asr.Event) *asr.Final {
	for _, ev := range evs {
		if f, ok := ev.(*asr.Final); ok {
			return f
		}
	}
	return nil
}

// BenchRecognize is one whole recognition per iteration: open with params, 1 s of 8 kHz audio in
// 20 ms frames (0.5 s of it loud), Finalize, the Final and the end of the stream. Over loopback to
// a stand-in it measures the plugin's protocol overhead, not a vendor's latency.
func BenchRecognize(b *testing.B, r asr.Recognizer, params map[string]string) {
	audio := make([]int16, 8000)
	for i := 2000; i < 6000; i++ {
		audio[i] = 3000 - 6000*int16(i/4%2)
	}
	b.ReportAllocs()
	for b.Loop() {
		s, err := r.Recognize(context.Background(), asr.RecognizeRequest{SampleRate: 8000, Params: params})
		if err != nil {
			b.Fatal(err)
		}
		for a := audio; len(a) > 0; a = a[160:] {
			if err := s.Send(&asr.Audio{PCM: a[:160]}); err != nil {
				b.Fatal(err)
			}
		}
		if err := s.Send(&asr.FinalizeInput{}); err != nil {
			b.Fatal(err)
		}
		for {
			if _, err := s.Recv(); err != nil {
				if !errors.Is(err, io.EOF) {
					b.Fatal(err)
				}
				break
			}
		}
		s.Close()
	}
}

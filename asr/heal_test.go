package asr_test

import (
	"context"
	"errors"
	"io"
	"slices"
	"sync"
	"testing"

	"github.com/mrcpd/mrcpd/asr"
)

// TestHealingReplaysWhatWasSent checks the replay against what the caller sent, when the caller
// overwrites its one buffer after every Send as the contract allows (asr.Audio): a history that
// kept the caller's slices would replay the last frame over and over.
func TestHealingReplaysWhatWasSent(t *testing.T) {
	for _, tc := range []struct {
		name   string
		frames int // sent before Finalize
		cutAt  int // samples the first stream takes before its limit
	}{
		{"cut mid-utterance", 10, 5 * 160},
		{"cut on the last frame", 10, 10 * 160},
		{"cut inside a frame", 7, 3*160 + 40},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tape := &tapeRecognizer{cutAt: tc.cutAt}
			s, err := asr.Healing(tape, asr.HealOptions{}).Recognize(context.Background(), asr.RecognizeRequest{SampleRate: 8000})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			done := make(chan error, 1)
			go func() { _, err := collect(t, s); done <- err }()
			var want []int16
			buf := make([]int16, 160)
			in := &asr.Audio{PCM: buf}
			for i := range tc.frames {
				for j := range buf {
					buf[j] = int16(i*160 + j)
				}
				want = append(want, buf...)
				if err := s.Send(in); err != nil {
					t.Fatal(err)
				}
				clear(buf) // what a caller reusing its buffer leaves behind
			}
			if err := s.Send(&asr.FinalizeInput{}); err != nil {
				t.Fatal(err)
			}
			if err := <-done; !errors.Is(err, io.EOF) {
				t.Fatalf("Recv: %v", err)
			}
			got := tape.heard()
			if len(got) != 2 {
				t.Fatalf("%d streams, want the first and the healed one", len(got))
			}
			if !slices.Equal(got[1], want) {
				t.Errorf("the healed stream heard %d samples different from the %d sent", len(got[1]), len(want))
			}
		})
	}
}

// tapeRecognizer records the samples each of its streams hears; the first stream fails with
// ErrStreamLimit once it has heard cutAt samples, as a vendor's stream cap would.
type tapeRecognizer struct {
	cutAt int

	mu      sync.Mutex
	streams [][]int16
}

func (r *tapeRecognizer) Info(context.Context) (asr.RecognizerInfo, error) {
	return asr.RecognizerInfo{Name: "tape", SampleRates: []int{8000}}, nil
}

func (r *tapeRecognizer) Recognize(context.Context, asr.RecognizeRequest) (asr.RecognitionStream, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.streams = append(r.streams, nil)
	s := &tapeStream{r: r, n: len(r.streams) - 1, events: make(chan asr.Event, 4), errs: make(chan error, 1)}
	s.events <- &asr.Ready{}
	return s, nil
}

func (r *tapeRecognizer) heard() [][]int16 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.streams)
}

type tapeStream struct {
	r      *tapeRecognizer
	n      int
	events chan asr.Event
	errs   chan error
	over   bool
}

func (s *tapeStream) Send(in asr.Input) error {
	if s.over {
		return asr.Errorf(asr.ErrStreamLimit, true, "tape: closed")
	}
	s.r.mu.Lock()
	defer s.r.mu.Unlock()
	switch x := in.(type) {
	case *asr.Audio:
		s.r.streams[s.n] = append(s.r.streams[s.n], x.PCM...)
		if s.n == 0 && len(s.r.streams[0]) >= s.r.cutAt {
			s.over = true
			s.errs <- asr.Errorf(asr.ErrStreamLimit, true, "tape: limit")
			return asr.Errorf(asr.ErrStreamLimit, true, "tape: limit")
		}
	case *asr.FinalizeInput:
		s.over = true
		s.events <- &asr.Final{}
		close(s.events)
	}
	return nil
}

func (s *tapeStream) Recv() (asr.Event, error) {
	select {
	case err := <-s.errs:
		return nil, err
	case ev, ok := <-s.events:
		if !ok {
			return nil, io.EOF
		}
		return ev, nil
	}
}

func (s *tapeStream) Close() error { return nil }

package plugin

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/mrcpd/mrcpd/asr"
	"github.com/mrcpd/mrcpd/asr/asrtest"
)

// blockingNoop's streams with the parameter block=1 block in Send until release is closed: an
// engine that holds the dispatcher must not hold up the other streams.
type blockingNoop struct {
	asrtest.Noop
	release chan struct{}
	blocked chan struct{}
}

func (n *blockingNoop) Recognize(ctx context.Context, req asr.RecognizeRequest) (asr.RecognitionStream, error) {
	s, err := n.Noop.Recognize(ctx, req)
	if err != nil || req.Params["block"] != "1" {
		return s, err
	}
	return &blockingStream{RecognitionStream: s, n: n}, nil
}

type blockingStream struct {
	asr.RecognitionStream
	n    *blockingNoop
	once bool
}

func (s *blockingStream) Send(in asr.Input) error {
	if _, ok := in.(*asr.Audio); ok && !s.once {
		s.once = true
		close(s.n.blocked)
		<-s.n.release
	}
	return s.RecognitionStream.Send(in)
}

func TestBlockedEngineDoesNotHoldUpOthers(t *testing.T) {
	rec := &blockingNoop{release: make(chan struct{}), blocked: make(chan struct{})}
	h := NewTestHost(t, ServeConfig{Recognizer: rec})
	open := func(params map[string]string) asr.RecognitionStream {
		s, err := h.Recognizer().Recognize(context.Background(), asr.RecognizeRequest{SampleRate: 8000, Params: params})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Recv(); err != nil {
			t.Fatal(err)
		}
		return s
	}
	stuck := open(map[string]string{"block": "1"})
	defer stuck.Close()
	free := open(nil)
	defer free.Close()
	stuck.Send(&asr.Audio{PCM: make([]int16, 160)})
	<-rec.blocked
	for i := 0; i < 5; i++ {
		if err := free.Send(&asr.Audio{PCM: make([]int16, 160)}); err != nil {
			t.Fatal(err)
		}
	}
	free.Send(&asr.FinalizeInput{})
	var usage *asr.Usage
	for {
		ev, err := free.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if u, ok := ev.(*asr.Usage); ok {
			usage = u
		}
	}
	if usage == nil || usage.Audio != 100*time.Millisecond {
		t.Fatalf("usage %+v, want 100 ms of audio", usage)
	}
	// The stuck stream gets the rest of its audio, in order, once its engine returns.
	close(rec.release)
	stuck.Send(&asr.Audio{PCM: make([]int16, 160)})
	stuck.Send(&asr.FinalizeInput{})
	for {
		ev, err := stuck.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if u, ok := ev.(*asr.Usage); ok && u.Audio != 40*time.Millisecond {
			t.Fatalf("stuck stream heard %v, want 40 ms", u.Audio)
		}
	}
}

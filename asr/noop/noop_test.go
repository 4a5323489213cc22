package noop

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/mrcpd/mrcpd/asr"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestRecognize(t *testing.T) {
	st, err := Recognizer{}.Recognize(context.Background(), asr.RecognizeRequest{SampleRate: 8000})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if ev, err := st.Recv(); err != nil {
		t.Fatal(err)
	} else if _, ok := ev.(*asr.Ready); !ok {
		t.Fatalf("first event %T, want Ready", ev)
	}
	pcm := make([]int16, 160)
	for range 50 {
		if err := st.Send(&asr.Audio{PCM: pcm}); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Send(&asr.FinalizeInput{}); err != nil {
		t.Fatal(err)
	}
	if ev, _ := st.Recv(); ev == nil || len(ev.(*asr.Final).Alternatives) != 0 {
		t.Fatalf("want an empty Final, got %#v", ev)
	}
	if ev, _ := st.Recv(); ev.(*asr.Usage).Audio != time.Second {
		t.Fatalf("usage %v, want 1s", ev.(*asr.Usage).Audio)
	}
	if _, err := st.Recv(); !errors.Is(err, io.EOF) {
		t.Fatalf("after the Final: %v, want EOF", err)
	}
	if err := st.Send(&asr.Audio{PCM: pcm}); err == nil {
		t.Fatal("Send after the Final succeeded")
	}
}

func TestCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	st, err := Recognizer{}.Recognize(ctx, asr.RecognizeRequest{})
	if err != nil {
		t.Fatal(err)
	}
	st.Recv() // Ready
	cancel()
	if _, err := st.Recv(); !errors.Is(err, context.Canceled) {
		t.Fatalf("Recv after cancel: %v", err)
	}
	if err := st.Send(&asr.FinalizeInput{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("Send after cancel: %v", err)
	}
	st.Close()
}

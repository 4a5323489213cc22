package main

import (
	"context"
	"log/slog"
	"sync"
	"testing"

	"github.com/mrcpd/mrcpd/asr"
	"github.com/mrcpd/mrcpd/asr/noop"
	"github.com/mrcpd/mrcpd/asr/plugin"
)

// A retired plugin host keeps serving the stream open on it and stops when that stream ends; a
// host retired with nothing open stops at once. Stopped, it serves nothing more.
func TestPluginHostRetiresAfterItsStreams(t *testing.T) {
	ctx := context.Background()
	for _, open := range []bool{true, false} {
		var wg sync.WaitGroup
		p := &pluginHost{h: plugin.NewTestHost(t, plugin.ServeConfig{Recognizer: noop.Recognizer{}}),
			log: slog.New(slog.DiscardHandler), wg: &wg}
		p.gate = asr.NewGate(p.close)
		rec := asr.Stack{Gate: p.gate}.Recognizer("np", p.h.Recognizer())
		var st asr.RecognitionStream
		if open {
			var err error
			if st, err = rec.Recognize(ctx, asr.RecognizeRequest{SampleRate: 8000}); err != nil {
				t.Fatal(err)
			}
		}
		p.retire()
		if open {
			if ev, err := st.Recv(); err != nil {
				t.Fatalf("the open stream after retire: %v", err)
			} else if _, ok := ev.(*asr.Ready); !ok {
				t.Fatalf("first event %T, want Ready", ev)
			}
			if err := st.Send(&asr.FinalizeInput{}); err != nil {
				t.Fatalf("send on the open stream after retire: %v", err)
			}
			// Still serving: another stream opens and closes (it does not stop the host either).
			if st2, err := rec.Recognize(ctx, asr.RecognizeRequest{SampleRate: 8000}); err != nil {
				t.Fatalf("host stopped with a stream open: %v", err)
			} else {
				st2.Close()
			}
			if ev, err := st.Recv(); err != nil {
				t.Fatalf("the open stream's Final: %v", err)
			} else if _, ok := ev.(*asr.Final); !ok {
				t.Fatalf("event %T after FinalizeInput, want Final", ev)
			}
			st.Close()
			st.Close() // a second Close releases nothing more
		}
		wg.Wait()
		if _, err := rec.Recognize(ctx, asr.RecognizeRequest{SampleRate: 8000}); asr.KindOf(err) != asr.ErrUnavailable {
			t.Fatalf("open=%v: Recognize on a stopped host: %v, want ErrUnavailable", open, err)
		}
	}
}

package asr_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/mrcpd/mrcpd/asr"
)

func TestNextEvent(t *testing.T) {
	events := make(chan asr.Event, 2)
	events <- &asr.Ready{}
	events <- &asr.Final{}
	close(events)
	ctx := context.Background()
	for _, want := range []string{"*asr.Ready", "*asr.Final"} {
		ev, err := asr.NextEvent(ctx, events)
		if err != nil || fmt.Sprintf("%T", ev) != want {
			t.Fatalf("got %T %v, want %s", ev, err, want)
		}
	}
	if _, err := asr.NextEvent(ctx, events); !errors.Is(err, io.EOF) {
		t.Fatalf("after the last event: %v, want io.EOF", err)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := asr.NextEvent(cancelled, make(chan asr.Event)); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
}

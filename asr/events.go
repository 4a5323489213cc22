package asr

import (
	"context"
	"io"
)

// NextEvent is Recv for a stream whose engine goroutine sends its events on a channel it closes
// after the last: the next event, io.EOF once the channel is closed and drained, or ctx's error
// once the stream is cancelled.
func NextEvent(ctx context.Context, events <-chan Event) (Event, error) {
	select {
	case ev, ok := <-events:
		if !ok {
			return nil, io.EOF
		}
		return ev, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

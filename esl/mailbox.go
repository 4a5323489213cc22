package esl

import (
	"context"
	"strconv"
	"sync"
)

// mailbox is one call's bounded, ordered event queue. push is called by the
// socket reader and never blocks: when the queue is full the event is dropped
// and the consumer finds an EventResync at the gap, so a slow call can only
// lose its own events, never stall the reader or another call.
type mailbox struct {
	notify  chan struct{} // capacity 1; a token means "look again"
	metrics *Metrics
	limit   int

	mu      sync.Mutex
	items   []*Event
	closed  bool
	recent  [32]uint64 // last Event-Sequence numbers pushed, to drop duplicates
	nrecent int
}

func newMailbox(limit int, m *Metrics) *mailbox {
	return &mailbox{notify: make(chan struct{}, 1), limit: limit, metrics: m}
}

func (b *mailbox) push(ev *Event) {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return
	}
	if ev.Seq != 0 && b.seen(ev.Seq) {
		b.mu.Unlock()
		b.metrics.eventsDropped.WithLabelValues("duplicate").Inc()
		return
	}
	if len(b.items) >= b.limit {
		// The gap is marked where it happened: one EventResync after the
		// last event kept (the queue may exceed its limit by this marker).
		if n := len(b.items); n == 0 || b.items[n-1].Name != EventResync {
			b.items = append(b.items, &Event{Name: EventResync, UniqueID: ev.UniqueID,
				Headers: map[string]string{"Resync-Reason": "mailbox-full", "Events-Dropped": "0"}})
			b.metrics.resyncs.WithLabelValues("mailbox_full").Inc()
		}
		marker := b.items[len(b.items)-1]
		n, _ := strconv.Atoi(marker.Headers["Events-Dropped"])
		marker.Headers["Events-Dropped"] = strconv.Itoa(n + 1)
		b.mu.Unlock()
		b.metrics.eventsDropped.WithLabelValues("mailbox_full").Inc()
		b.wake()
		return
	}
	// Keep the queue sorted by Event-Sequence. Events arrive in order on one
	// connection, so this is an append; it only moves an event when a resync or
	// a second source delivers an older one late.
	i := len(b.items)
	b.items = append(b.items, ev)
	for ev.Seq != 0 && i > 0 && b.items[i-1].Seq > ev.Seq {
		b.items[i] = b.items[i-1]
		i--
	}
	b.items[i] = ev
	b.metrics.mailboxDepth.Observe(float64(len(b.items)))
	b.mu.Unlock()
	b.wake()
}

func (b *mailbox) seen(seq uint64) bool {
	for i := 0; i < b.nrecent && i < len(b.recent); i++ {
		if b.recent[i] == seq {
			return true
		}
	}
	b.recent[b.nrecent%len(b.recent)] = seq
	b.nrecent++
	return false
}

func (b *mailbox) wake() {
	select {
	case b.notify <- struct{}{}:
	default:
	}
}

// next returns the next event in order; where events were dropped it returns
// an EventResync saying how many.
func (b *mailbox) next(ctx context.Context, uuid string) (*Event, error) {
	for {
		b.mu.Lock()
		if len(b.items) > 0 {
			ev := b.items[0]
			b.items[0] = nil
			b.items = b.items[1:]
			b.mu.Unlock()
			return ev, nil
		}
		closed := b.closed
		b.mu.Unlock()
		if closed {
			return nil, ErrClosed
		}
		select {
		case <-b.notify:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// poll returns the next event without waiting, or nil.
func (b *mailbox) poll(uuid string) *Event {
	b.mu.Lock()
	if len(b.items) == 0 {
		b.mu.Unlock()
		return nil
	}
	b.mu.Unlock()
	ev, err := b.next(context.Background(), uuid)
	if err != nil {
		return nil
	}
	return ev
}

func (b *mailbox) close() {
	b.mu.Lock()
	b.closed = true
	b.mu.Unlock()
	b.wake()
}

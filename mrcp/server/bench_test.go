package server

import (
	"context"
	"fmt"
	"testing"

	"github.com/mrcpd/mrcpd/mrcp/sip"
)

// BenchmarkOffer is the server's share of INVITE -> 200 OK: parse the offer, allocate the
// channel and an RTP port, negotiate, build the answer, start the session; then end it.
func BenchmarkOffer(b *testing.B) {
	h := &harness{clock: newFakeClock(), media: &fakeMedia{}, hangup: &fakeHangup{byes: make(chan string, 16)}}
	srv, err := New(Config{Addr: "127.0.0.1:0", Media: h.media, Clock: h.clock, MediaTimeout: -1})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	defer func() { cancel(); <-done }()
	body := sdpBody(b, modRecogInvite)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		id := fmt.Sprint("call-", i)
		if _, err := srv.Offer(ctx, &sip.Call{CallID: id, Remote: "127.0.0.1:5092"}, body, false); err != nil {
			b.Fatal(err)
		}
		srv.Ended(id, "BYE")
	}
}

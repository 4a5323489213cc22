package server

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/mrcpd/mrcpd/mrcp/sip"
)

func sipStatus(err error) int {
	var sc interface{ SIPStatus() int }
	if errors.As(err, &sc) {
		return sc.SIPStatus()
	}
	return 0
}

// TestOfferMediaLines: an offer with more m-lines than MaxOfferMedia is refused with 488 before
// any RTP port is taken (900 m=audio lines took 900 port pairs).
func TestOfferMediaLines(t *testing.T) {
	h := newHarness(t, func(c *Config) {
		c.MaxOfferMedia = 4
	})
	body := string(sdpBody(t, modRecogInvite))
	many := body + strings.Repeat("m=audio 6010 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n", 900)
	_, err := h.srv.Offer(context.Background(), &sip.Call{CallID: "many", Remote: "127.0.0.1:5092"}, []byte(many), false)
	if sipStatus(err) != 488 || !strings.Contains(err.Error(), "902 m-lines") {
		t.Fatalf("900 extra m-lines: %v, want 488 naming the count", err)
	}
	if n := h.srv.Sessions(); n != 0 {
		t.Fatalf("%d sessions after a refused offer", n)
	}
	h.offer("ok", []byte(body+strings.Repeat("m=audio 6010 RTP/AVP 0\r\n", 2)))
}

// TestSessionCaps: sessions in total and per source host, counted from admission so that
// concurrent INVITEs cannot all pass; an ended session gives its place back.
func TestSessionCaps(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.MaxSessions = 4; c.MaxSessionsPerSource = 2 })
	body := sdpBody(t, modRecogInvite)
	offer := func(id, remote string) error {
		_, err := h.srv.Offer(context.Background(), &sip.Call{CallID: id, Remote: remote}, body, false)
		return err
	}
	// Ten concurrent INVITEs from one host: exactly two get in.
	var wg sync.WaitGroup
	errs := make([]error, 10)
	for i := range errs {
		wg.Go(func() { errs[i] = offer("a"+string(rune('0'+i)), "192.0.2.1:5060") })
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case sipStatus(err) != 503 || !strings.Contains(err.Error(), "192.0.2.1"):
			t.Fatalf("refusal %v, want 503 naming the source", err)
		}
	}
	if ok != 2 {
		t.Fatalf("%d sessions from one source, want 2", ok)
	}
	if err := offer("b1", "192.0.2.2:5060"); err != nil {
		t.Fatalf("another source: %v", err)
	}
	if err := offer("b2", "192.0.2.2:5061"); err != nil {
		t.Fatalf("another source: %v", err)
	}
	if err := offer("c1", "192.0.2.3:5060"); sipStatus(err) != 503 || !strings.Contains(err.Error(), "capacity") {
		t.Fatalf("fifth session: %v, want 503 at capacity", err)
	}
	h.srv.Ended("b1", "bye")
	waitSessions(t, h, 3)
	if err := offer("c2", "192.0.2.3:5060"); err != nil {
		t.Fatalf("after a session ended: %v", err)
	}
}

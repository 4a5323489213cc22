package server

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/mrcpd/mrcpd/asr/clock"
	"github.com/mrcpd/mrcpd/mrcp"
	"github.com/mrcpd/mrcpd/mrcp/sip"
)

// No RTP while a recognition runs ends the session with a BYE; an idle session is left alone.
func TestMediaTimeout(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.MediaTimeout = 8 * time.Second })
	ids, _ := h.offer("call-1", sdpBody(t, modRecogInvite))
	cl := h.dial()
	cl.send(mrcp.NewRequest(mrcp.MethodGetParams, 1, ids[0]))
	cl.next() // bound: the connect timeout no longer applies
	h.media.receiver(t, 0)
	waitTimers(t, h.clock, 2) // connect and media check
	h.clock.Advance(20 * time.Second)
	select {
	case id := <-h.hangup.byes:
		t.Fatalf("idle session %s ended", id)
	default:
	}
	cl.send(dtmfRecognize(2, ids[0], "builtin:dtmf/digits?length=4", mrcp.HeaderNoInputTimeout, "0"))
	cl.next()
	// The check runs every MediaTimeout/4 and re-arms itself on the session goroutine once it has
	// run: each step waits for that before moving time, or a step would pass unchecked. The timer
	// is the only one pending (No-Input-Timeout 0, no digit yet).
	start := h.clock.Now()
	var bye string
	for step := 0; bye == ""; step++ {
		if step > 5 {
			t.Fatalf("no BYE %v after input began", h.clock.Now().Sub(start))
		}
		bye = awaitTimerOrBye(t, h, 2*time.Second)
		if bye == "" {
			h.clock.Advance(2 * time.Second)
		}
	}
	if bye != "call-1" {
		t.Fatalf("BYE for %s", bye)
	}
	if el := h.clock.Now().Sub(start); el < 8*time.Second {
		t.Fatalf("BYE after %v without RTP, before the 8 s media timeout", el)
	}
	waitSessions(t, h, 0)
}

// awaitTimerOrBye waits until a timer falls due within d, or the server sends a BYE (returned).
func awaitTimerOrBye(t *testing.T, h *harness, d time.Duration) string {
	t.Helper()
	timeout := time.After(clock.AwaitTimeout)
	for {
		changed := h.clock.Changed()
		if h.clock.Due(d) > 0 {
			return ""
		}
		select {
		case id := <-h.hangup.byes:
			return id
		case <-changed:
		case <-timeout:
			t.Fatalf("no timer due within %v and no BYE", d)
		}
	}
}

// RFC 6787 §4.2: a client asking to reuse its connection is told so when it has one to us.
func TestConnectionExisting(t *testing.T) {
	h := newHarness(t, nil)
	body := strings.Replace(string(sdpBody(t, modRecogInvite)), "a=connection:new", "a=connection:existing", 1)
	_, ans := h.offer("call-1", []byte(body))
	if !strings.Contains(string(ans), "a=connection:new") {
		t.Fatalf("no connection yet, answer:\n%s", ans)
	}
	cl := h.dial()
	cl.send(mrcp.NewRequest(mrcp.MethodGetParams, 1, "feedfeedfeedfeed@speechrecog"))
	cl.next() // the connection is registered
	ids, ans := h.offer("call-2", []byte(body))
	if !strings.Contains(string(ans), "a=connection:existing") {
		t.Fatalf("answer:\n%s", ans)
	}
	// Both sessions share the connection.
	cl.send(mrcp.NewRequest(mrcp.MethodGetParams, 2, ids[0]))
	if m := cl.next(); m.StatusCode != 200 {
		t.Fatalf("shared connection: %d", m.StatusCode)
	}
}

// A re-INVITE that refreshes the session keeps the channel and its ports.
func TestReinviteRefresh(t *testing.T) {
	h := newHarness(t, nil)
	body := sdpBody(t, modRecogInvite)
	ids, first := h.offer("call-1", body)
	again, err := h.srv.Offer(context.Background(), &sip.Call{CallID: "call-1", Remote: "127.0.0.1:5092"}, body, true)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(again), "a=channel:"+ids[0]) {
		t.Fatalf("refresh lost the channel:\n%s", again)
	}
	m1, m2 := mline(first, "m=audio"), mline(again, "m=audio")
	if m1 != m2 {
		t.Fatalf("RTP port changed: %q -> %q", m1, m2)
	}
}

func mline(sdp []byte, prefix string) string {
	for _, l := range strings.Split(string(sdp), "\r\n") {
		if strings.HasPrefix(l, prefix) {
			return l
		}
	}
	return ""
}

// An INVITE cancelled while its offer is handled leaves no session behind.
func TestOfferCancelled(t *testing.T) {
	h := newHarness(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := h.srv.Offer(ctx, &sip.Call{CallID: "call-1", Remote: "127.0.0.1:5092"}, sdpBody(t, modRecogInvite), false); err == nil {
		t.Fatal("cancelled offer answered")
	}
	waitSessions(t, h, 0)
}

func TestEndSessions(t *testing.T) {
	h := newHarness(t, nil)
	h.offer("call-1", sdpBody(t, modRecogInvite))
	h.offer("call-2", sdpBody(t, modRecogInvite))
	waitSessions(t, h, 2)
	h.srv.EndSessions()
	got := map[string]bool{<-h.hangup.byes: true, <-h.hangup.byes: true}
	if !got["call-1"] || !got["call-2"] {
		t.Fatalf("BYEs for %v", got)
	}
	waitSessions(t, h, 0)
}

// Drain returns when the last session ends (notified, not polled), or with the context's error.
func TestDrain(t *testing.T) {
	h := newHarness(t, nil)
	h.offer("call-1", sdpBody(t, modRecogInvite))
	waitSessions(t, h, 1)
	short, cancel := context.WithCancel(context.Background())
	cancel()
	if err := h.srv.Drain(short); err != context.Canceled {
		t.Fatalf("Drain with a live session and a canceled context: %v", err)
	}
	drained := make(chan error, 1)
	go func() { drained <- h.srv.Drain(context.Background()) }()
	waitTimers(t, h.clock, 1)
	h.clock.Advance(10 * time.Second) // the connect timeout ends the session
	<-h.hangup.byes
	select {
	case err := <-drained:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(clock.AwaitTimeout):
		t.Fatal("Drain still waiting after the last session ended")
	}
	if err := h.srv.Drain(context.Background()); err != nil {
		t.Fatalf("Drain with no session: %v", err)
	}
}

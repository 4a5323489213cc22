package server

import (
	"context"
	"testing"

	"github.com/mrcpd/mrcpd/mrcp/sip"
)

// SetMaxSessions (mrcpd's SIGHUP) moves the session limit for the INVITEs that follow; sessions
// above a lowered limit carry on.
func TestSetMaxSessions(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.MaxSessions = 1 })
	body := sdpBody(t, modRecogInvite)
	offer := func(id string) error { // one source per call: the per-source cap is not under test
		_, err := h.srv.Offer(context.Background(), &sip.Call{CallID: id, Remote: "host-" + id + ":5060"}, body, false)
		return err
	}
	if err := offer("a"); err != nil {
		t.Fatal(err)
	}
	if err := offer("b"); sipStatus(err) != 503 {
		t.Fatalf("second session at limit 1: %v, want 503", err)
	}
	h.srv.SetMaxSessions(3)
	if err := offer("b"); err != nil {
		t.Fatalf("second session after raising the limit: %v", err)
	}
	h.srv.SetMaxSessions(1)
	if n := h.srv.Sessions(); n != 2 {
		t.Fatalf("%d sessions after lowering the limit, want both kept", n)
	}
	if err := offer("c"); sipStatus(err) != 503 {
		t.Fatalf("a session above the lowered limit: %v, want 503", err)
	}
}

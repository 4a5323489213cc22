package sip

import "testing"

// The Request-URI's user part reaches the handler: mod_unimrcp's profile names the engine with it.
func TestRequestURIUser(t *testing.T) {
	for _, tc := range []struct{ name, user string }{{"no-user", ""}, {"user", "google"}} {
		t.Run(tc.name, func(t *testing.T) {
			h := newFakeHandler()
			s := startServer(t, Config{}, h)
			p := newPeer(t, s, "udp")
			repl := []string{}
			if tc.user != "" {
				repl = []string{"INVITE sip:", "INVITE sip:" + tc.user + "@"}
			}
			p.send(p.fixture(recogInvite, repl...))
			p.expect(200)
			if calls := h.offerCalls(); len(calls) != 1 || calls[0].call.User != tc.user {
				t.Fatalf("offers %+v, want user %q", calls, tc.user)
			}
		})
	}
}

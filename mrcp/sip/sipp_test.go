package sip

import (
	"testing"

	"github.com/mrcpd/mrcpd/mrcp/sip/siptest"
)

// TestSipp: the real sipp sends mod_unimrcp's INVITE (no Contact), ACK and BYE over UDP and
// TCP, and checks our 200 OK's headers and MRCP answer.
func TestSipp(t *testing.T) {
	for _, tc := range []struct {
		name, scenario, resource string
		extra                    []string
	}{
		{"recog udp", siptest.ModUnimrcpRecog, "speechrecog", nil},
		{"synth udp", siptest.ModUnimrcpSynth, "speechsynth", nil},
		{"recog tcp", siptest.ModUnimrcpRecog, "speechrecog", []string{"-t", "t1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newFakeHandler()
			s := startServer(t, Config{}, h)
			transport := "udp"
			if tc.extra != nil {
				transport = "tcp"
			}
			siptest.RunSipp(t, tc.scenario, s.Addr(transport).String(), tc.extra...)
			if e := h.waitEnded(t); e.reason != "bye" {
				t.Errorf("Ended %+v, want bye", e)
			}
			if calls := h.offerCalls(); len(calls) != 1 {
				t.Errorf("%d offers", len(calls))
			}
		})
	}
}

// TestSippChecksTheAnswer: the scenario's checks do fail an answer without session timers.
func TestSippChecksTheAnswer(t *testing.T) {
	s := startServer(t, Config{SessionExpires: -1}, newFakeHandler())
	err := siptest.Sipp(t, siptest.ModUnimrcpRecog, s.Addr("udp").String())
	if err == nil {
		t.Fatal("sipp passed an answer without Require: timer")
	}
}

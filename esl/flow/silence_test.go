package flow_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/mrcpd/mrcpd/esl/esltest"
	"github.com/mrcpd/mrcpd/esl/flow"
)

// dialExtensionVia is the shipped dial-extension flow, one attempt, dialling
// the number through the given FreeSWITCH endpoint.
func dialExtensionVia(t *testing.T, endpoint string) *flow.Flow {
	t.Helper()
	f := loadDialExtension(t)
	step(f, "call").Originate.Dial = endpoint
	step(f, "confirm").Retries = 0
	return f
}

// TestSilenceModeWhateverTheFarEndSendsWhenIdle is issue 15's case and its
// neighbours: an attendant that discards digits heard during its greeting,
// reached over a loopback leg (as in the report against 1.10.12) and over an
// RTP trunk, sending nothing, comfort noise or low-energy noise once it stops
// talking. Silence mode must find the end of a 2 s and an 11 s greeting in
// every case. Before the fix, silence mode ran wait_for_silence, which on a
// loopback leg never scores a frame as audio (they carry no RTP sequence
// number) and so never starts counting silence: the loopback cases ran into
// the timeout and the attendant hung up before any digit was sent.
func TestSilenceModeWhateverTheFarEndSendsWhenIdle(t *testing.T) {
	legs := map[string]string{"loopback": "loopback/${number}/default", "trunk": "sofia/gateway/pstn/${number}"}
	for _, leg := range []string{"loopback", "trunk"} {
		for _, idle := range []esltest.Idle{esltest.IdleNothing, esltest.IdleComfortNoise, esltest.IdleNoise} {
			for _, prompt := range []time.Duration{2 * time.Second, 11 * time.Second} {
				t.Run(fmt.Sprintf("%s/%s/%v", leg, idle, prompt), func(t *testing.T) {
					att := esltest.NewAttendant(prompt, "1234")
					att.Idle = idle
					e := newEnv(t, esltest.Options{Numbers: map[string]esltest.Behavior{"15551230000": {Attendant: att}}})
					rep := e.runner.Run(runCtx(t), dialExtensionVia(t, legs[leg]), nil)
					ch, _ := e.fake.Channel(rep.UUID)
					if rep.Result != "success" || ch == nil || len(ch.Accepted) != 1 || ch.Discarded != "" {
						t.Fatalf("report %s %q; remote %+v\n%+v", rep.Result, rep.Reason, ch, rep.Timeline)
					}
					// Answer at 1 s, greeting from 1.3 s: its end plus silence_ms.
					end, _ := rep.Offset("prompt_end")
					want := time.Second + 300*time.Millisecond + prompt + time.Second
					if end < want || end > want+100*time.Millisecond {
						t.Fatalf("prompt end at %v, want %v", end, want)
					}
				})
			}
		}
	}
}

// TestSilenceModeNoisyLine: line noise above the threshold is never quiet; the
// step ends with a reason that says so instead of sending into the prompt.
func TestSilenceModeNoisyLine(t *testing.T) {
	att := esltest.NewAttendant(2*time.Second, "1234")
	att.Idle, att.NoiseLevel, att.MaxLoops = esltest.IdleNoise, 400, 10
	e := newEnv(t, esltest.Options{Numbers: map[string]esltest.Behavior{"15551230000": {Attendant: att}}})
	f := dialExtensionVia(t, "sofia/gateway/pstn/${number}")
	step(f, "prompt").Timeout = flow.Duration(10 * time.Second)
	rep := e.runner.Run(runCtx(t), f, nil)
	ch, _ := e.fake.Channel(rep.UUID)
	if rep.Result != "failed" || !strings.Contains(rep.Reason, "never quiet") || ch.Heard != "" {
		t.Fatalf("report %s %q; remote heard %q", rep.Result, rep.Reason, ch.Heard)
	}
}

// TestSilenceModeNothingHeard: the far end says nothing at all after answer;
// silence mode fails after no_input_ms with "no prompt heard".
func TestSilenceModeNothingHeard(t *testing.T) {
	e := newEnv(t, esltest.Options{})
	f := dialExtensionVia(t, "sofia/gateway/pstn/${number}")
	step(f, "prompt").WaitPromptEnd.NoInputMS = 3000
	rep := e.runner.Run(runCtx(t), f, nil)
	if rep.Result != "failed" || !strings.Contains(rep.Reason, "no prompt heard") {
		t.Fatalf("report %s %q", rep.Result, rep.Reason)
	}
	start, _ := rep.Offset("answer")
	if at, _ := rep.Offset("result"); at-start < 3*time.Second || at-start > 4*time.Second {
		t.Fatalf("gave up %v after answer, want 3 s", at-start)
	}
}

// TestSilenceModeRecordStopLost: FreeSWITCH drops RECORD_START and RECORD_STOP
// from our listener's queue and logs "Lost [1] events!". The runner finds its
// bug in uuid_buglist; the client resyncs, and the runner reads the
// detector's outcome back from record_completion_cause.
func TestSilenceModeRecordStopLost(t *testing.T) {
	e := newEnv(t, esltest.Options{
		Numbers:   map[string]esltest.Behavior{"15551230000": {Attendant: esltest.NewAttendant(2*time.Second, "1234")}},
		LoseEvent: func(name string) bool { return name == "RECORD_START" || name == "RECORD_STOP" },
	})
	rep := e.runner.Run(runCtx(t), dialExtensionVia(t, "loopback/${number}/default"), nil)
	ch, _ := e.fake.Channel(rep.UUID)
	if rep.Result != "success" || len(ch.Accepted) != 1 {
		t.Fatalf("report %s %q\n%+v", rep.Result, rep.Reason, rep.Timeline)
	}
	found := false
	for _, m := range rep.Timeline {
		found = found || (m.What == "record_stop" && strings.Contains(m.Detail, "success-silence"))
	}
	if !found {
		t.Fatalf("outcome not read back: %+v", rep.Timeline)
	}
}

// TestHangupAfterDigitsSaidPlainly: the attendant takes the extension and
// hands the call off without a word; the leg ends while the flow listens for
// a confirmation. The report says the remote hung up after the digits.
func TestHangupAfterDigitsSaidPlainly(t *testing.T) {
	for _, confirm := range []string{"-", ""} {
		t.Run("confirm="+confirm, func(t *testing.T) {
			att := esltest.NewAttendant(2*time.Second, "1234")
			att.HangupOnAccept, att.Confirm = true, confirm
			e := newEnv(t, esltest.Options{Numbers: map[string]esltest.Behavior{"15551230000": {Attendant: att}}})
			f := loadDialExtension(t) // retries from the prompt: a hangup must stop that too
			rep := e.runner.Run(runCtx(t), f, nil)
			if confirm == "" { // it said "connecting you to extension 1234" first
				if rep.Result != "success" {
					t.Fatalf("report %s %q", rep.Result, rep.Reason)
				}
				return
			}
			want := "the remote hung up 150ms after the digits 1234 were sent (cause NORMAL_CLEARING): " +
				"the far end transferred or ended the call"
			if rep.Result != "failed" || !strings.HasPrefix(rep.Reason, want) {
				t.Fatalf("report %s %q\nwant reason %q", rep.Result, rep.Reason, want)
			}
		})
	}
}

// TestSilenceModeRecordDirNotWritable: record_session cannot open its file,
// attaches nothing and completes as if all were well; the step says why at
// once instead of waiting out its timeout.
func TestSilenceModeRecordDirNotWritable(t *testing.T) {
	e := newEnv(t, esltest.Options{Numbers: map[string]esltest.Behavior{
		"15551230000": {Attendant: esltest.NewAttendant(2*time.Second, "1234")}}})
	f := dialExtensionVia(t, "sofia/gateway/pstn/${number}")
	step(f, "prompt").WaitPromptEnd.RecordDir = "/var/lib/nothere"
	rep := e.runner.Run(runCtx(t), f, nil)
	if rep.Result != "failed" || !strings.Contains(rep.Reason, "silence detector did not start") ||
		!strings.Contains(rep.Reason, "/var/lib/nothere/mrcpd-ivr-") {
		t.Fatalf("report %s %q", rep.Result, rep.Reason)
	}
	if at, _ := rep.Offset("result"); at > 2*time.Second {
		t.Fatalf("failed only at %v", at)
	}
}

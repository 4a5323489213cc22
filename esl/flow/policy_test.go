package flow_test

import (
	"strings"
	"testing"
	"time"

	"github.com/mrcpd/mrcpd/esl/esltest"
	"github.com/mrcpd/mrcpd/esl/flow"
)

// TestEarlyMediaPolicy: a far end that never answers but plays early media (a
// carrier announcement). "wait" originates with ignore_early_media=true and
// fails with NO_ANSWER; "accept" proceeds in early media.
func TestEarlyMediaPolicy(t *testing.T) {
	for _, policy := range []string{"wait", "accept"} {
		t.Run(policy, func(t *testing.T) {
			e := newEnv(t, esltest.Options{Numbers: map[string]esltest.Behavior{"200": {NoAnswer: true}}})
			f, err := flow.Parse(strings.NewReader(`
name: early
steps:
  - id: call
    originate: {dial: loopback/200/default}
  - id: answered
    wait_answer: {early_media: ` + policy + `}
    timeout: 5s
  - id: listen
    playback: {file: "silence_stream://100"}
`))
			if err != nil {
				t.Fatal(err)
			}
			rep := e.runner.Run(runCtx(t), f, nil)
			switch policy {
			case "wait":
				if rep.Result != "failed" || rep.HangupCause != "NO_ANSWER" || !strings.Contains(rep.Reason, "NO_ANSWER") {
					t.Fatalf("%+v", rep)
				}
			case "accept":
				if rep.Result != "success" {
					t.Fatalf("%+v", rep)
				}
				if _, ok := rep.Offset("answer"); ok {
					t.Fatal("timeline claims an answer")
				}
				if _, ok := rep.Offset("media"); !ok {
					t.Fatal("no media in timeline")
				}
			}
		})
	}
}

// TestLongPauseNeedsKeyword: a prompt with a 1.5 s pause between its
// sentences. End of speech (800 ms) fires in the pause and sends the digits
// into the second sentence; waiting for the keyword gets through.
func TestLongPauseNeedsKeyword(t *testing.T) {
	att := &esltest.Attendant{Lead: 300 * time.Millisecond, Extension: "1234", Prompt: []esltest.Segment{
		{Text: "welcome to acme", Dur: 2 * time.Second, Gap: 1500 * time.Millisecond},
		{Text: "if you know the extension of your party dial it now", Dur: 4 * time.Second},
	}}
	for _, mode := range []string{"speech", "keyword"} {
		t.Run(mode, func(t *testing.T) {
			e := newEnv(t, esltest.Options{Numbers: map[string]esltest.Behavior{"15551230000": {Attendant: att}}})
			f := loadDialExtension(t)
			p := step(f, "prompt").WaitPromptEnd
			p.Mode, p.Keywords = mode, []string{"extension"}
			step(f, "confirm").Retries = 0
			rep := e.runner.Run(runCtx(t), f, nil)
			ch, _ := e.fake.Channel(rep.UUID)
			if ok := rep.Result == "success"; ok != (mode == "keyword") {
				t.Fatalf("%s: %s %q, remote discarded %q accepted %v", mode, rep.Result, rep.Reason, ch.Discarded, ch.Accepted)
			}
		})
	}
}

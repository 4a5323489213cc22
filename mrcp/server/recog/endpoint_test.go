package recog

import (
	"strings"
	"testing"

	"github.com/mrcpd/mrcpd/asr"
	"github.com/mrcpd/mrcpd/asr/grammar"
)

func menu(t *testing.T) Grammar {
	t.Helper()
	g, err := grammar.Parse(grammar.TypeSRGSABNF, []byte("#ABNF 1.0;\nroot $m;\n$m = transfer to sales | billing;"))
	if err != nil {
		t.Fatal(err)
	}
	return Grammar{ID: "session:menu", G: g}
}

// Endpointing (§9.4.15-16), input timers (§9.4.14, §9.13) and the machine's own bookkeeping:
// which detector may end or hold an utterance, and that late or stale inputs change nothing.
func TestEndpointing(t *testing.T) {
	noTimers := voice(func(s *Settings) { s.TimersOn = false })
	engineVAD := voice(func(s *Settings) { s.EngineSpeechEvents = true })
	cases := []struct {
		name  string
		set   Settings
		steps []Input
		want  string
	}{
		{"speech resuming in the trailing silence holds the utterance", voice(nil),
			steps(SpeechStarted{}, SpeechEnded{}, SpeechStarted{}, SpeechEnded{}, fire(SpeechTimer)),
			`start no-input 5s|stop no-input|START-OF-INPUT|start recognition 15s|start speech 800ms|stop speech|start speech 800ms|finalize|start finalize 5s`},
		{"an engine without declared speech events cannot hold it", voice(nil),
			steps(SpeechStarted{}, SpeechEnded{}, SpeechStarted{Engine: true}, fire(SpeechTimer)),
			`start no-input 5s|stop no-input|START-OF-INPUT|start recognition 15s|start speech 800ms|finalize|start finalize 5s`},
		{"nor end it", voice(nil),
			steps(SpeechStarted{Engine: true}, SpeechEnded{Engine: true}),
			`start no-input 5s|stop no-input|START-OF-INPUT|start recognition 15s`},
		{"an engine with speech events holds and ends it", engineVAD,
			steps(SpeechStarted{}, SpeechEnded{}, SpeechStarted{Engine: true}, SpeechEnded{Engine: true}),
			`start no-input 5s|stop no-input|START-OF-INPUT|start recognition 15s|start speech 800ms|stop speech|start speech 800ms`},
		{"the second detector's end of speech keeps the first's timer", engineVAD,
			steps(SpeechStarted{}, SpeechEnded{}, SpeechEnded{Engine: true}),
			`start no-input 5s|stop no-input|START-OF-INPUT|start recognition 15s|start speech 800ms`},
		{"an incomplete partial waits Speech-Incomplete-Timeout", voice(nil),
			steps(SpeechStarted{}, Partial{Text: "transfer to"}, SpeechEnded{}),
			`start no-input 5s|stop no-input|START-OF-INPUT|start recognition 15s|start speech 1.5s`},
		{"a complete partial waits Speech-Complete-Timeout", voice(nil),
			steps(SpeechStarted{}, Partial{Text: "Transfer to sales"}, SpeechEnded{}),
			`start no-input 5s|stop no-input|START-OF-INPUT|start recognition 15s|start speech 800ms`},
		{"end of speech before any input is nothing", voice(nil),
			steps(SpeechEnded{}),
			`start no-input 5s`},
		{"Start-Input-Timers false: no timer until START-INPUT-TIMERS", noTimers,
			steps(StartInputTimers{}, StartInputTimers{}),
			`start no-input 5s`},
		{"START-INPUT-TIMERS after input started starts nothing", noTimers,
			steps(SpeechStarted{}, StartInputTimers{}),
			`START-OF-INPUT|start recognition 15s`},
		{"keys mean nothing without a DTMF grammar", voice(nil),
			steps(Digit{Key: '1'}),
			`start no-input 5s`},
		{"a stale timer changes nothing", voice(nil),
			steps(SpeechStarted{}, SpeechEnded{}, SpeechStarted{}, TimerFired{Timer: SpeechTimer, Seq: 3}),
			`start no-input 5s|stop no-input|START-OF-INPUT|start recognition 15s|start speech 800ms|stop speech`},
		{"nothing after completion", voice(nil),
			steps(Cancel{}, SpeechStarted{}, yes(1), Cancel{}),
			`start no-input 5s|stop no-input|complete 011 cancelled`},
		{"a final without reported speech still starts input", voice(nil),
			steps(Final{Alternatives: []asr.Alternative{{Text: "billing", Confidence: 0.8}}}),
			`start no-input 5s|stop no-input|START-OF-INPUT|start recognition 15s|stop recognition|complete 000 success speech="billing"`},
		{"free text, when asked for, keeps an out-of-grammar transcript", voice(func(s *Settings) { s.FreeText = true }),
			steps(SpeechStarted{}, Final{Alternatives: []asr.Alternative{{Text: "banana", Confidence: 0.8}}}),
			`start no-input 5s|stop no-input|START-OF-INPUT|start recognition 15s|stop recognition|complete 000 success speech="banana"`},
		{"the engine's own interpretation stands", voice(nil),
			steps(SpeechStarted{}, Final{Alternatives: []asr.Alternative{{Text: "banana", Interpretation: "fruit", Confidence: 0.8}}}),
			`start no-input 5s|stop no-input|START-OF-INPUT|start recognition 15s|stop recognition|complete 000 success speech="fruit"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := strings.Join(run(t, tc.set, []Grammar{menu(t)}, tc.steps), "|")
			if got != tc.want {
				t.Errorf("\n got %s\nwant %s", got, tc.want)
			}
		})
	}
}

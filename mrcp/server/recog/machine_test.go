package recog

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/mrcpd/mrcpd/asr"
	"github.com/mrcpd/mrcpd/asr/grammar"
)

// fire is a test step: the named timer fires with the sequence number of its latest start.
type fire Timer

func (fire) input() {}

func builtin(t *testing.T, uri string) Grammar {
	t.Helper()
	g, err := grammar.Builtin(uri)
	if err != nil {
		t.Fatal(err)
	}
	return Grammar{ID: uri, G: g}
}

const (
	digits4 = "builtin:dtmf/digits?length=4"
	digits  = "builtin:dtmf/digits?minlength=2;maxlength=4"
	boolean = "builtin:grammar/boolean"
)

// base is mod_unimrcp's usual request: timers on, every timer set.
func base() Settings {
	return Settings{TimersOn: true, NoInput: 5 * time.Second, Recognition: 15 * time.Second,
		SpeechComplete: 800 * time.Millisecond, SpeechIncomplete: 1500 * time.Millisecond,
		Interdigit: 3 * time.Second, TermTimeout: 2 * time.Second, Threshold: 0.5, Finalize: 5 * time.Second}
}

func voice(mod func(*Settings)) Settings {
	s := base()
	s.Engine = true
	if mod != nil {
		mod(&s)
	}
	return s
}

func yes(conf float64) Final {
	return Final{Alternatives: []asr.Alternative{{Text: "yes", Confidence: conf}}}
}

// run drives a machine through the steps and returns every effect, in order, as text. A fire step
// for a timer that is not running fails the test: the table would describe an impossible run.
func run(t *testing.T, set Settings, gs []Grammar, steps []Input) []string {
	t.Helper()
	m := New(set, gs)
	seq := map[Timer]uint64{}
	var out []string
	record := func(effs []Effect) {
		for _, e := range effs {
			switch x := e.(type) {
			case StartTimer:
				seq[x.Timer] = x.Seq
			case StopTimer:
				delete(seq, x.Timer)
			case Complete:
				for tm := range seq {
					t.Errorf("complete with %s still running", tm)
				}
				if x.Result != nil {
					out = append(out, fmt.Sprintf("%v %s=%q", e, x.Result.Interpretations[0].Mode, x.Result.Interpretations[0].Instance))
					continue
				}
			}
			out = append(out, fmt.Sprint(e))
		}
	}
	record(m.Start())
	for _, in := range steps {
		if f, ok := in.(fire); ok {
			s, running := seq[Timer(f)]
			if !running {
				t.Fatalf("step fire %s: timer not running; effects so far %q", Timer(f), out)
			}
			delete(seq, Timer(f))
			in = TimerFired{Timer: Timer(f), Seq: s}
		}
		record(m.Handle(in))
	}
	return out
}

func keys(s string) []Input {
	var in []Input
	for _, k := range s {
		in = append(in, Digit{Key: k})
	}
	return in
}

func steps(parts ...any) []Input {
	var in []Input
	for _, p := range parts {
		switch x := p.(type) {
		case []Input:
			in = append(in, x...)
		case Input:
			in = append(in, x)
		default:
			panic(fmt.Sprintf("step %T", p))
		}
	}
	return in
}

// Every Completion-Cause of §9.4.11 that mrcpd emits from a running RECOGNIZE, and the effects
// that lead to it. (004, 009 and 016 answer the RECOGNIZE itself with 407 before any machine runs;
// 003, 007 and 012 belong to features mrcpd does not offer: hotword mode, early-speech rejection and
// a semantics engine.)
func TestCompletionCauses(t *testing.T) {
	bad := asr.Errorf(asr.ErrBadGrammar, false, "rule <x> undefined")
	lang := asr.Errorf(asr.ErrLanguage, false, "no model for xx-XX")
	cases := []struct {
		name  string
		set   Settings
		gs    []string
		steps []Input
		want  string
	}{
		{"000 DTMF grammar complete and final", base(), []string{digits4}, keys("4711"),
			`stop no-input|START-OF-INPUT|start recognition 15s|start interdigit 3s|stop interdigit|start interdigit 3s|stop interdigit|start interdigit 3s|stop interdigit|stop recognition|complete 000 success dtmf="4711"`},
		{"000 DTMF term char", withTerm('#'), []string{digits}, keys("12#"),
			`stop no-input|START-OF-INPUT|start recognition 15s|start interdigit 3s|stop interdigit|start term 2s|stop term|stop recognition|complete 000 success dtmf="12"`},
		{"000 DTMF term timeout", base(), []string{digits}, steps(keys("12"), fire(TermTimer)),
			`stop no-input|START-OF-INPUT|start recognition 15s|start interdigit 3s|stop interdigit|start term 2s|stop recognition|complete 000 success dtmf="12"`},
		{"000 voice", voice(nil), []string{boolean}, steps(SpeechStarted{}, SpeechEnded{}, fire(SpeechTimer), yes(0.9)),
			`stop no-input|START-OF-INPUT|start recognition 15s|start speech 800ms|finalize|start finalize 5s|stop recognition|stop finalize|complete 000 success speech="true"`},
		{"001 key outside the grammar", base(), []string{digits4}, keys("1*"),
			`stop no-input|START-OF-INPUT|start recognition 15s|start interdigit 3s|stop interdigit|stop recognition|complete 001 no-match`},
		{"001 term char before a sentence", withTerm('#'), []string{digits}, keys("1#"),
			`stop no-input|START-OF-INPUT|start recognition 15s|start interdigit 3s|stop interdigit|stop recognition|complete 001 no-match`},
		{"000 transcript with the engine's capitals and punctuation", voice(nil), []string{boolean}, steps(SpeechStarted{}, Final{Alternatives: []asr.Alternative{{Text: "Yes.", Confidence: 0.9}}}),
			`stop no-input|START-OF-INPUT|start recognition 15s|stop recognition|complete 000 success speech="true"`},
		{"001 out-of-grammar transcript", voice(nil), []string{boolean}, steps(SpeechStarted{}, Final{Alternatives: []asr.Alternative{{Text: "banana", Confidence: 0.9}}}),
			`stop no-input|START-OF-INPUT|start recognition 15s|stop recognition|complete 001 no-match`},
		{"001 below Confidence-Threshold", voice(nil), []string{boolean}, steps(SpeechStarted{}, yes(0.3)),
			`stop no-input|START-OF-INPUT|start recognition 15s|stop recognition|complete 001 no-match`},
		{"001 engine ended its input", voice(nil), []string{boolean}, steps(SpeechStarted{}, EngineEnded{}),
			`stop no-input|START-OF-INPUT|start recognition 15s|stop recognition|complete 001 no-match`},
		{"002 no input", voice(nil), []string{boolean}, steps(fire(NoInputTimer)),
			`start no-input 5s|complete 002 no-input-timeout`},
		{"005 engine cannot compile the grammar", voice(nil), []string{boolean}, steps(EngineEnded{Err: bad}),
			`stop no-input|complete 005 grammar-compilation-failure`},
		{"006 engine failed", voice(nil), []string{boolean}, steps(SpeechStarted{}, EngineEnded{Err: errors.New("stream reset")}),
			`stop no-input|START-OF-INPUT|start recognition 15s|stop recognition|complete 006 recognizer-error`},
		{"006 engine silent after finalize", voice(nil), []string{boolean}, steps(SpeechStarted{}, SpeechEnded{}, fire(SpeechTimer), fire(FinalizeTimer)),
			`stop no-input|START-OF-INPUT|start recognition 15s|start speech 800ms|finalize|start finalize 5s|stop recognition|complete 006 recognizer-error`},
		{"008 DTMF sentence at maxtime", base(), []string{digits}, steps(keys("12"), fire(RecognitionTimer)),
			`stop no-input|START-OF-INPUT|start recognition 15s|start interdigit 3s|stop interdigit|start term 2s|stop term|complete 008 success-maxtime dtmf="12"`},
		{"008 voice at maxtime", voice(nil), []string{boolean}, steps(SpeechStarted{}, fire(RecognitionTimer), yes(0.9)),
			`stop no-input|START-OF-INPUT|start recognition 15s|finalize|start finalize 5s|stop finalize|complete 008 success-maxtime speech="true"`},
		{"010 language", voice(nil), []string{boolean}, steps(EngineEnded{Err: lang}),
			`stop no-input|complete 010 language-unsupported`},
		{"011 cancelled by Cancel-If-Queue", voice(nil), []string{boolean}, steps(SpeechStarted{}, Cancel{}),
			`stop no-input|START-OF-INPUT|start recognition 15s|stop recognition|complete 011 cancelled`},
		{"013 interdigit", base(), []string{digits4}, steps(keys("47"), fire(InterdigitTimer)),
			`stop no-input|START-OF-INPUT|start recognition 15s|start interdigit 3s|stop interdigit|start interdigit 3s|stop recognition|complete 013 partial-match`},
		{"014 DTMF prefix at maxtime", base(), []string{digits4}, steps(keys("47"), fire(RecognitionTimer)),
			`stop no-input|START-OF-INPUT|start recognition 15s|start interdigit 3s|stop interdigit|start interdigit 3s|stop interdigit|complete 014 partial-match-maxtime`},
		{"015 voice no-match at maxtime", voice(nil), []string{boolean}, steps(SpeechStarted{}, fire(RecognitionTimer), EngineEnded{}),
			`stop no-input|START-OF-INPUT|start recognition 15s|finalize|start finalize 5s|stop finalize|complete 015 no-match-maxtime`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var gs []Grammar
			for _, uri := range tc.gs {
				gs = append(gs, builtin(t, uri))
			}
			got := strings.Join(run(t, tc.set, gs, tc.steps), "|")
			if !strings.HasPrefix(got, "start no-input 5s|") && tc.set.TimersOn {
				t.Errorf("timers on: the run must start with No-Input-Timeout: %s", got)
			}
			got = strings.TrimPrefix(got, "start no-input 5s|")
			if tc.name[:3] == "002" {
				got = "start no-input 5s|" + got
			}
			if got != tc.want {
				t.Errorf("\n got %s\nwant %s", got, tc.want)
			}
		})
	}
}

func withTerm(c rune) Settings {
	s := base()
	s.TermChar = c
	return s
}

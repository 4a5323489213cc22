package dtmf

import (
	"context"
	"errors"
	"io"
	"testing"

	"go.uber.org/goleak"

	"github.com/mrcpd/mrcpd/asr"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const dtmfSRGS = `<?xml version="1.0"?>
<grammar xmlns="http://www.w3.org/2001/06/grammar" version="1.0" mode="dtmf" root="menu" tag-format="semantics/1.0">
  <rule id="menu">
    <one-of>
      <item>1<tag>out="sales";</tag></item>
      <item>2 2<tag>out="support";</tag></item>
      <item><item repeat="3">9</item> #<tag>out="operator";</tag></item>
    </one-of>
  </rule>
</grammar>`

const voiceSRGS = `<grammar root="a"><rule id="a">yes</rule></grammar>`

func start(t *testing.T, ctx context.Context, gs ...asr.Grammar) asr.RecognitionStream {
	t.Helper()
	s, err := New(nil).Recognize(ctx, asr.RecognizeRequest{ChannelID: "c1@speechrecog", Grammars: gs})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func recvReady(t *testing.T, s asr.RecognitionStream) *asr.Ready {
	t.Helper()
	ev, err := s.Recv()
	if err != nil {
		t.Fatal(err)
	}
	r, ok := ev.(*asr.Ready)
	if !ok {
		t.Fatalf("first event %T, want *asr.Ready", ev)
	}
	return r
}

func TestRecognize(t *testing.T) {
	builtin4 := asr.Grammar{ID: "builtin:dtmf/digits?length=4", URI: "builtin:dtmf/digits?length=4"}
	open := asr.Grammar{ID: "digits", URI: "builtin:dtmf/digits"}
	menu := asr.Grammar{ID: "menu", ContentType: "application/srgs+xml", Body: []byte(dtmfSRGS)}
	boolean := asr.Grammar{ID: "yn", URI: "builtin:dtmf/boolean"}
	for _, tc := range []struct {
		name     string
		grammars []asr.Grammar
		keys     string
		finalize bool
		want     *asr.Alternative // nil: no match
		noFinal  bool             // no Final before Finalize is sent
	}{
		{"length 4 completes on the 4th key", []asr.Grammar{builtin4}, "1234", false,
			&asr.Alternative{Text: "1234", Interpretation: "1234", Grammar: builtin4.ID, Mode: "dtmf", Confidence: 1}, false},
		{"length 4 short then finalize: no match", []asr.Grammar{builtin4}, "12", true, nil, false},
		{"open digits wait for finalize", []asr.Grammar{open}, "98765", true,
			&asr.Alternative{Text: "98765", Interpretation: "98765", Grammar: "digits", Mode: "dtmf", Confidence: 1}, false},
		{"open digits without finalize", []asr.Grammar{open}, "98765", false, nil, true},
		{"star is not a digit", []asr.Grammar{open}, "1*", false, nil, false},
		{"srgs tag", []asr.Grammar{menu}, "22", false,
			&asr.Alternative{Text: "22", Interpretation: "support", Grammar: "menu", Mode: "dtmf", Confidence: 1}, false},
		{"srgs repeat and pound", []asr.Grammar{menu}, "999#", false,
			&asr.Alternative{Text: "999#", Interpretation: "operator", Grammar: "menu", Mode: "dtmf", Confidence: 1}, false},
		{"srgs no match at once", []asr.Grammar{menu}, "3", false, nil, false},
		{"boolean", []asr.Grammar{boolean}, "2", false,
			&asr.Alternative{Text: "2", Interpretation: "false", Grammar: "yn", Mode: "dtmf", Confidence: 1}, false},
		{"first grammar to finish wins", []asr.Grammar{builtin4, menu}, "1", false,
			&asr.Alternative{Text: "1", Interpretation: "sales", Grammar: "menu", Mode: "dtmf", Confidence: 1}, false},
		{"no dtmf grammar", nil, "1", false, nil, false},
		{"abnf without content type", []asr.Grammar{{ID: "a", Body: []byte("#ABNF 1.0;\nmode dtmf;\nroot $r;\n$r = 4 2 {out=\"yes\";};")}}, "42", false,
			&asr.Alternative{Text: "42", Interpretation: "yes", Grammar: "a", Mode: "dtmf", Confidence: 1}, false},
		{"xml without content type", []asr.Grammar{{ID: "x", Body: []byte(dtmfSRGS)}}, "1", false,
			&asr.Alternative{Text: "1", Interpretation: "sales", Grammar: "x", Mode: "dtmf", Confidence: 1}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := start(t, context.Background(), tc.grammars...)
			recvReady(t, s)
			for _, k := range tc.keys {
				if err := s.Send(&asr.DTMF{Digit: k}); err != nil {
					t.Fatal(err)
				}
			}
			if tc.noFinal {
				ds := s.(*stream)
				ds.mu.Lock()
				done := ds.done
				ds.mu.Unlock()
				if done {
					t.Fatal("Final before finalize")
				}
				return
			}
			if tc.finalize {
				if err := s.Send(&asr.FinalizeInput{}); err != nil {
					t.Fatal(err)
				}
			}
			ev, err := s.Recv()
			if err != nil {
				t.Fatal(err)
			}
			f, ok := ev.(*asr.Final)
			if !ok {
				t.Fatalf("event %T, want *asr.Final", ev)
			}
			switch {
			case tc.want == nil && len(f.Alternatives) != 0:
				t.Fatalf("got %+v, want no match", f.Alternatives)
			case tc.want != nil && (len(f.Alternatives) != 1 || !equalAlt(f.Alternatives[0], *tc.want)):
				t.Fatalf("got %+v, want %+v", f.Alternatives, *tc.want)
			}
			if _, err := s.Recv(); err != io.EOF {
				t.Fatalf("after Final: %v, want io.EOF", err)
			}
			if err := s.Send(&asr.DTMF{Digit: '1'}); err != nil {
				t.Fatalf("key after Final: %v", err)
			}
		})
	}
}

func equalAlt(a, b asr.Alternative) bool {
	return a.Text == b.Text && a.Interpretation == b.Interpretation && a.Grammar == b.Grammar && a.Mode == b.Mode && a.Confidence == b.Confidence
}

func TestSkippedAndErrors(t *testing.T) {
	s := start(t, context.Background(),
		asr.Grammar{ID: "v", ContentType: "application/srgs+xml", Body: []byte(voiceSRGS)},
		asr.Grammar{ID: "bool", URI: "builtin:grammar/boolean"},
		asr.Grammar{ID: "bad", ContentType: "application/srgs+xml", Body: []byte("<grammar")},
		asr.Grammar{ID: "d", URI: "builtin:dtmf/digits"},
	)
	r := recvReady(t, s)
	if len(r.Skipped) != 3 || r.Skipped[0].ID != "v" || r.Skipped[1].ID != "bool" || r.Skipped[2].ID != "bad" {
		t.Fatalf("skipped %+v", r.Skipped)
	}

	_, err := New(nil).Recognize(context.Background(), asr.RecognizeRequest{Grammars: []asr.Grammar{
		{ID: "bad", ContentType: "application/srgs+xml", Body: []byte("<grammar mode='dtmf'>"), Mode: "dtmf"},
	}})
	if asr.KindOf(err) != asr.ErrBadGrammar {
		t.Fatalf("bad dtmf grammar: %v", err)
	}
	_, err = New(nil).Recognize(context.Background(), asr.RecognizeRequest{Grammars: []asr.Grammar{
		{ID: "x", URI: "builtin:dtmf/digits?length=abc", Mode: "dtmf"},
	}})
	if asr.KindOf(err) != asr.ErrBadGrammar {
		t.Fatalf("bad builtin parameter: %v", err)
	}
}

func TestCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	s := start(t, ctx, asr.Grammar{ID: "d", URI: "builtin:dtmf/digits"})
	recvReady(t, s)
	errc := make(chan error, 1)
	go func() {
		_, err := s.Recv()
		errc <- err
	}()
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("Recv after cancel: %v", err)
	}
	if err := s.Send(&asr.DTMF{Digit: '1'}); !errors.Is(err, context.Canceled) {
		t.Fatalf("Send after cancel: %v", err)
	}

	s2 := start(t, context.Background(), asr.Grammar{ID: "d", URI: "builtin:dtmf/digits"})
	s2.Close()
	s2.Close()
	if _, err := s2.Recv(); !errors.Is(err, context.Canceled) {
		t.Fatalf("Recv after Close: %v", err)
	}
}

func TestInfo(t *testing.T) {
	info, err := New(nil).Info(context.Background())
	if err != nil || info.Name != "dtmf" || len(info.Builtins) != 2 || len(info.GrammarTypes) != 2 {
		t.Fatalf("%+v %v", info, err)
	}
}

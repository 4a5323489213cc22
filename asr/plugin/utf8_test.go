package plugin

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/mrcpd/mrcpd/asr"
	pb "github.com/mrcpd/mrcpd/asr/pluginpb"
)

func TestInvalidUTF8Walk(t *testing.T) {
	tests := []struct {
		name string
		msg  func() *pb.RecognizeStart
		path string // "" when valid
	}{
		{"valid", func() *pb.RecognizeStart {
			return &pb.RecognizeStart{Language: "fr-FR", Params: map[string]string{"accent": "café"}}
		}, ""},
		{"field", func() *pb.RecognizeStart { return &pb.RecognizeStart{Language: "en\xff"} }, "language"},
		{"list", func() *pb.RecognizeStart { return &pb.RecognizeStart{Hints: []string{"ok", "caf\xe9"}} }, "hints"},
		{"map value", func() *pb.RecognizeStart {
			return &pb.RecognizeStart{Params: map[string]string{"k": "caf\xe9"}}
		}, "params[k]"},
		{"map key", func() *pb.RecognizeStart {
			return &pb.RecognizeStart{Params: map[string]string{"caf\xe9": "v"}}
		}, "params[key]"},
		{"nested", func() *pb.RecognizeStart {
			return &pb.RecognizeStart{Grammars: []*pb.Grammar{{Id: "g1"}, {Id: "g\xc3"}}}
		}, "grammars.id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := tt.msg()
			if got := invalidUTF8(m.ProtoReflect()); got != tt.path {
				t.Fatalf("invalidUTF8 = %q, want %q", got, tt.path)
			}
			if changed := fixUTF8(m.ProtoReflect()); changed != (tt.path != "") {
				t.Fatalf("fixUTF8 changed = %v", changed)
			}
			if got := invalidUTF8(m.ProtoReflect()); got != "" {
				t.Fatalf("after fixUTF8, %s is still invalid", got)
			}
		})
	}
}

// finishDigits sends DTMF and Finalize, and returns the stream's Final text.
func finishDigits(t *testing.T, s asr.RecognitionStream, digits string) string {
	t.Helper()
	for _, d := range digits {
		if err := s.Send(&asr.DTMF{Digit: d}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Send(&asr.FinalizeInput{}); err != nil {
		t.Fatal(err)
	}
	evs, err := recvAll(t, s)
	if !errors.Is(err, io.EOF) {
		t.Fatalf("events %#v, then %v", evs, err)
	}
	for _, ev := range evs {
		if f, ok := ev.(*asr.Final); ok && len(f.Alternatives) > 0 {
			return f.Alternatives[0].Text
		}
	}
	t.Fatalf("no Final in %#v", evs)
	return ""
}

// A request whose strings are not UTF-8 (a header value from the network) fails on its own, with
// ErrBadParameter, instead of breaking the process's shared stream: before, every recognition on
// the process failed with "plugin input channel broke" and the process was restarted.
func TestInvalidUTF8RequestFailsAlone(t *testing.T) {
	h := startNoop(t, nil)
	rec := h.Recognizer()
	other, err := rec.Recognize(context.Background(), asr.RecognizeRequest{SampleRate: 8000})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if _, err := other.Recv(); err != nil {
		t.Fatalf("ready: %v", err)
	}
	for _, req := range []asr.RecognizeRequest{
		{SampleRate: 8000, Params: map[string]string{"k": "caf\xe9"}},
		{SampleRate: 8000, Language: "en-\xff"},
		{SampleRate: 8000, Grammars: []asr.Grammar{{ID: "g\xe9", URI: "builtin:grammar/boolean"}}},
	} {
		_, err := rec.Recognize(context.Background(), req)
		if asr.KindOf(err) != asr.ErrBadParameter {
			t.Errorf("Recognize(%+v) = %v, want bad-parameter", req, err)
		}
	}
	if err := other.Send(&asr.ParamsUpdate{Params: map[string]string{"k": "\xff"}}); asr.KindOf(err) != asr.ErrBadParameter {
		t.Errorf("Send of a parameter update not in UTF-8 = %v, want bad-parameter", err)
	}
	if got := finishDigits(t, other, "42"); got != "42" {
		t.Errorf("the other recognition's text %q, want 42", got)
	}
	if _, err := h.Synthesizer().Synthesize(context.Background(), asr.SynthesizeRequest{Text: "caf\xe9"}); asr.KindOf(err) != asr.ErrBadParameter {
		t.Errorf("Synthesize of text not in UTF-8 = %v, want bad-parameter", err)
	}
}

// An engine's text that is not UTF-8 reaches the host repaired, and the process's later streams
// still get their events: before, the plugin's event sender stopped at the first such event and
// every later recognition on the process failed on the ready timeout, while the process went on
// answering pings.
func TestEngineTextNotUTF8Repaired(t *testing.T) {
	h := startNoop(t, func(c *HostConfig) { c.ReadyTimeout = 2 * time.Second })
	rec := h.Recognizer()
	s, err := rec.Recognize(context.Background(), asr.RecognizeRequest{SampleRate: 8000, Params: map[string]string{"noop.latin1": "1"}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got := finishDigits(t, s, "12"); got != "12\uFFFD" {
		t.Errorf("text %q, want the Latin-1 byte replaced", got)
	}
	next, err := rec.Recognize(context.Background(), asr.RecognizeRequest{SampleRate: 8000})
	if err != nil {
		t.Fatal(err)
	}
	defer next.Close()
	if got := finishDigits(t, next, "3"); got != "3" {
		t.Errorf("the next recognition's text %q, want 3", got)
	}
}

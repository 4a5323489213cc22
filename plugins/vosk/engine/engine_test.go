package engine

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"math"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/mrcpd/mrcpd/asr"
	"github.com/mrcpd/mrcpd/asr/asrtest"
	"github.com/mrcpd/mrcpd/plugins/internal/plugintest"
	"github.com/mrcpd/mrcpd/plugins/vosk/vosktest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const phrase = "transfer to billing"

var departments = asr.Grammar{ID: "dept", ContentType: "application/srgs+xml", Mode: "voice", Body: []byte(`<?xml version="1.0"?>
<grammar xmlns="http://www.w3.org/2001/06/grammar" version="1.0" root="main" xml:lang="en-US" tag-format="semantics/1.0-literals">
  <rule id="main" scope="public">
    <item repeat="0-1">transfer to</item>
    <one-of><item>billing<tag>BILL</tag></item><item>sales<tag>SALES</tag></item></one-of>
  </rule>
</grammar>`)}

func newEngine(t testing.TB, settings map[string]string) *Engine {
	t.Helper()
	e, err := New(settings, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func standIn(t testing.TB, script vosktest.Script) (*vosktest.Server, map[string]string) {
	srv, url := vosktest.Start(t, script)
	return srv, map[string]string{"endpoint": url, "backoff-min": "5ms", "max-alternatives": "3"}
}

// The production engine, over a real WebSocket to the stand-in, through the conformance suite.
func TestConformance(t *testing.T) {
	_, settings := standIn(t, vosktest.Script{Transcript: phrase})
	asrtest.RunRecognizer(t, func(t *testing.T) asr.Recognizer { return newEngine(t, settings) },
		asrtest.Options{Utterance: phrase, Expect: phrase, Grammars: []asr.Grammar{departments}})
}

func speech(t *testing.T, text string, rate int, extra ...asr.Input) []asr.Input {
	return append(plugintest.Frames(asrtest.Speak(t, text, rate), rate), extra...)
}

func TestGrammarPhraseListAndInterpretation(t *testing.T) {
	srv, settings := standIn(t, vosktest.Script{Transcript: phrase})
	e := newEngine(t, settings)
	evs, err := plugintest.Collect(t, e, asr.RecognizeRequest{SampleRate: 16000, Grammars: []asr.Grammar{departments}}, speech(t, phrase, 16000, &asr.KeepAlive{}, &asr.FinalizeInput{}))
	if !errors.Is(err, io.EOF) {
		t.Fatal(err)
	}
	cfg := srv.Configs()[0]
	if cfg.SampleRate != 16000 || cfg.Words == nil || !*cfg.Words || cfg.MaxAlternatives != 0 {
		t.Errorf("config %+v", cfg)
	}
	if got := strings.Join(cfg.PhraseList, "|"); got != "transfer to|billing|sales|[unk]" {
		t.Errorf("phrase_list %q", got)
	}
	f := plugintest.FinalOf(evs)
	if f == nil || len(f.Alternatives) != 1 {
		t.Fatalf("final %+v", f)
	}
	a := f.Alternatives[0]
	if a.Text != phrase || a.Grammar != "dept" || !strings.Contains(a.Interpretation, "BILL") || len(a.Words) != 3 || a.Words[0].Confidence != 0.9 {
		t.Errorf("alternative %+v", a)
	}
	var partial bool
	for _, ev := range evs {
		_, partial = ev.(*asr.Partial)
		if partial {
			break
		}
	}
	if !partial {
		t.Error("no Partial from vosk's partial results")
	}
}

// Out-of-grammar words come back as [unk], which the plugin drops; the rest is no sentence of the
// grammar, so the alternative carries no grammar or interpretation and mrcpd makes it a no-match.
func TestOutOfGrammar(t *testing.T) {
	_, settings := standIn(t, vosktest.Script{Transcript: "transfer to marketing"})
	e := newEngine(t, settings)
	evs, err := plugintest.Collect(t, e, asr.RecognizeRequest{SampleRate: 8000, Grammars: []asr.Grammar{departments}},
		speech(t, "transfer to marketing", 8000, &asr.FinalizeInput{}))
	if !errors.Is(err, io.EOF) {
		t.Fatal(err)
	}
	f := plugintest.FinalOf(evs)
	if f == nil || len(f.Alternatives) != 1 {
		t.Fatalf("final %+v, want 1 alternative", f)
	}
	if a := f.Alternatives[0]; a.Text != "transfer to" || a.Grammar != "" || a.Interpretation != "" {
		t.Errorf("alternative %+v: [unk] should be dropped and nothing interpreted", a)
	}
}

// N-best lattice scores become a probability distribution; endpointing=vosk ends at Vosk's result.
func TestAlternativesAndVoskEndpoint(t *testing.T) {
	_, settings := standIn(t, vosktest.Script{Transcript: phrase, Alternatives: []string{"transfer to sales"}})
	e := newEngine(t, settings)
	in := speech(t, phrase, 8000, &asr.Audio{PCM: make([]int16, 8000)})
	evs, err := plugintest.Collect(t, e, asr.RecognizeRequest{SampleRate: 8000, NBest: 2, Params: map[string]string{"endpointing": "vosk"}}, in)
	if !errors.Is(err, io.EOF) {
		t.Fatal(err)
	}
	f := plugintest.FinalOf(evs)
	if f == nil || len(f.Alternatives) != 2 {
		t.Fatalf("final %+v", f)
	}
	p0, p1 := f.Alternatives[0].Confidence, f.Alternatives[1].Confidence
	if math.Abs(p0+p1-1) > 1e-9 || p0 <= p1 || f.Alternatives[1].Text != "transfer to sales" {
		t.Errorf("alternatives %+v", f.Alternatives)
	}
}

// With endpointing=host, Vosk's results for each stretch of speech accumulate until Finalize.
func TestHostEndpointingAccumulates(t *testing.T) {
	_, settings := standIn(t, vosktest.Script{Transcript: "transfer to"})
	e := newEngine(t, settings)
	in := speech(t, "transfer to", 8000, &asr.Audio{PCM: make([]int16, 8000)})
	in = append(in, speech(t, "transfer to", 8000, &asr.FinalizeInput{})...)
	evs, err := plugintest.Collect(t, e, asr.RecognizeRequest{SampleRate: 8000, Params: map[string]string{"endpointing": "host"}}, in)
	if !errors.Is(err, io.EOF) {
		t.Fatal(err)
	}
	if f := plugintest.FinalOf(evs); f == nil || len(f.Alternatives) != 1 || f.Alternatives[0].Text != "transfer to transfer to" || len(f.Alternatives[0].Words) != 4 {
		t.Fatalf("final %+v", f)
	}
}

func TestFailures(t *testing.T) {
	tests := []struct {
		name      string
		setup     func(*vosktest.Server, map[string]string)
		audio     bool
		kind      asr.ErrorKind
		retryable bool
	}{
		{"bad credentials", func(s *vosktest.Server, m map[string]string) {
			s.RequireAuth("Bearer right")
			m["authorization"] = "Bearer wrong"
		}, true, asr.ErrAuth, false},
		{"rate limited", func(s *vosktest.Server, _ map[string]string) {
			s.Fail(vosktest.FailQuota, vosktest.FailQuota, vosktest.FailQuota)
		}, true, asr.ErrQuota, true},
		{"stream limit", func(s *vosktest.Server, _ map[string]string) { s.SetStreamLimit(500 * time.Millisecond) }, true, asr.ErrStreamLimit, true},
		{"idle timeout", func(s *vosktest.Server, _ map[string]string) { s.SetIdleTimeout(100 * time.Millisecond) }, false, asr.ErrIdleTimeout, true},
		{"dropped connection", func(s *vosktest.Server, _ map[string]string) { s.Fail(vosktest.FailDrop) }, true, asr.ErrUnavailable, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv, settings := standIn(t, vosktest.Script{Transcript: phrase})
			tc.setup(srv, settings)
			e := newEngine(t, settings)
			var in []asr.Input
			if tc.audio {
				in = speech(t, phrase, 8000)
			}
			_, err := plugintest.Collect(t, e, asr.RecognizeRequest{SampleRate: 8000}, in)
			if !plugintest.IsError(err, tc.kind, tc.retryable) {
				t.Fatalf("error %v, want kind %s retryable %v", err, tc.kind, tc.retryable)
			}
		})
	}
}

func TestFailover(t *testing.T) {
	deadURL := "ws://" + plugintest.DeadAddr(t)
	srv, settings := standIn(t, vosktest.Script{Transcript: phrase})
	settings["endpoints"] = deadURL + "," + srv.URL()
	e := newEngine(t, settings)
	evs, err := plugintest.Collect(t, e, asr.RecognizeRequest{SampleRate: 8000}, speech(t, phrase, 8000, &asr.FinalizeInput{}))
	if !errors.Is(err, io.EOF) || plugintest.FinalOf(evs) == nil || len(plugintest.FinalOf(evs).Alternatives) == 0 {
		t.Fatalf("%v %v", err, evs)
	}
}

func TestConfigValidation(t *testing.T) {
	tests := []struct {
		settings map[string]string
		want     string
	}{
		{map[string]string{}, ""},
		{map[string]string{"sample-rate": "16000", "endpoints": "ws://a:2700,wss://b/asr", "endpointing": "vosk"}, ""},
		{map[string]string{"endpoint": "http://a:2700"}, "ws:// or wss://"},
		{map[string]string{"sample-rate": "4000"}, "setting sample-rate"},
		{map[string]string{"endpointing": "both"}, "setting endpointing"},
		{map[string]string{"phrases": "x"}, `unknown setting "phrases"`},
	}
	for _, tc := range tests {
		_, err := ParseConfig(tc.settings)
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%v: error %v, want %q", tc.settings, err, tc.want)
		}
	}
}

// FuzzResponse: vosk-server's answers go through alternatives; confidences must stay in 0..1
// whatever scores the server sends.
func FuzzResponse(f *testing.F) {
	f.Add([]byte(`{"alternatives":[{"confidence":228.3,"text":"a"},{"confidence":-5,"text":"b"}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var r response
		if json.Unmarshal(b, &r) != nil {
			return
		}
		for _, a := range alternatives(&r) {
			if len(r.Alternatives) > 0 && (math.IsNaN(a.Confidence) || a.Confidence < 0 || a.Confidence > 1) {
				t.Fatalf("confidence %v from %q", a.Confidence, b)
			}
		}
	})
}

// BenchmarkRecognize is one whole recognition over loopback to the stand-in (plugintest.BenchRecognize).
func BenchmarkRecognize(b *testing.B) {
	_, settings := standIn(b, vosktest.Script{Transcript: phrase})
	plugintest.BenchRecognize(b, newEngine(b, settings), map[string]string{"interim-results": "false"})
}

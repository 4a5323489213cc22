package engine

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/mrcpd/mrcpd/asr"
	"github.com/mrcpd/mrcpd/asr/asrtest"
	"github.com/mrcpd/mrcpd/plugins/google/googletest"
	"github.com/mrcpd/mrcpd/plugins/internal/plugintest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const phrase = plugintest.FlightsPhrase

var flights = plugintest.Flights()

func newEngine(t testing.TB, settings map[string]string) *Engine {
	t.Helper()
	e, err := New(context.Background(), settings, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

func standIn(t testing.TB) (*googletest.Server, map[string]string) {
	srv, ep := googletest.Start(t, googletest.Script{Transcript: phrase, Alternatives: []string{"book a flight to austin"}, Confidence: 0.87})
	return srv, map[string]string{"endpoint": ep, "insecure": "true", "backoff-min": "5ms"}
}

// The production engine, over gRPC to the stand-in, through the whole conformance suite.
func TestConformance(t *testing.T) {
	_, settings := standIn(t)
	asrtest.RunRecognizer(t, func(t *testing.T) asr.Recognizer { return newEngine(t, settings) },
		asrtest.Options{Utterance: phrase, Expect: phrase, Grammars: []asr.Grammar{flights}})
}

// collect streams audio in 20 ms frames, finalizes when asked and returns every event and the
// error that ended the stream; a failed Send is returned at once.
func collect(t *testing.T, r asr.Recognizer, req asr.RecognizeRequest, audio []int16, finalize bool) ([]asr.Event, error) {
	t.Helper()
	inputs := plugintest.Frames(audio, req.SampleRate)
	if finalize {
		inputs = append(inputs, &asr.FinalizeInput{})
	}
	return plugintest.CollectOrSendError(t, r, req, inputs)
}

func TestSingleUtteranceSpeechEventsAndInterpretation(t *testing.T) {
	srv, settings := standIn(t)
	e := newEngine(t, settings)
	audio := append(asrtest.Speak(t, phrase, 8000), make([]int16, 8000)...) // 1 s of silence: Google ends the utterance
	evs, err := collect(t, e, asr.RecognizeRequest{SampleRate: 8000, NBest: 2, Grammars: []asr.Grammar{flights}, Language: "en-GB"}, audio, false)
	if !errors.Is(err, io.EOF) {
		t.Fatalf("stream ended with %v, want io.EOF; events %v", err, evs)
	}
	var kinds []string
	for _, ev := range evs {
		switch ev.(type) {
		case *asr.Ready:
			kinds = append(kinds, "ready")
		case *asr.SpeechStarted:
			kinds = append(kinds, "start")
		case *asr.SpeechEnded:
			kinds = append(kinds, "end")
		case *asr.Final:
			kinds = append(kinds, "final")
		}
	}
	if got := strings.Join(kinds, " "); got != "ready start end final" {
		t.Errorf("events %q, want ready start end final", got)
	}
	f := plugintest.FinalOf(evs)
	if f == nil || len(f.Alternatives) != 2 {
		t.Fatalf("final %+v, want 2 alternatives", f)
	}
	best := f.Alternatives[0]
	if best.Text != phrase || best.Grammar != "flights" || best.Confidence != float64(float32(0.87)) || len(best.Words) != 5 {
		t.Errorf("best %+v", best)
	}
	if !strings.Contains(best.Interpretation, "BOS") {
		t.Errorf("interpretation %q, want the SISR literal BOS", best.Interpretation)
	}
	cfgs := srv.Configs()
	if len(cfgs) != 1 {
		t.Fatalf("%d configs", len(cfgs))
	}
	c := cfgs[0]
	if !c.GetSingleUtterance() || !c.GetInterimResults() || !c.GetEnableVoiceActivityEvents() || c.GetConfig().GetLanguageCode() != "en-GB" ||
		c.GetConfig().GetMaxAlternatives() != 2 || c.GetConfig().GetModel() != "phone_call" || c.GetConfig().GetSampleRateHertz() != 8000 {
		t.Errorf("config %v", c)
	}
	phrases := strings.Join(c.GetConfig().GetSpeechContexts()[0].GetPhrases(), "|")
	for _, want := range []string{"book a flight to", "cancel my booking", "boston", "denver"} {
		if !strings.Contains(phrases, want) {
			t.Errorf("speech context %q lacks %q", phrases, want)
		}
	}
}

func TestVendorSpecificParametersOverride(t *testing.T) {
	srv, settings := standIn(t)
	e := newEngine(t, settings)
	params := map[string]string{"google.model": "latest_short", "single_utterance": "false", "phrases": "platinum desk,gold desk",
		"language": "de-DE", "endpoint": "evil.example:443"}
	_, err := collect(t, e, asr.RecognizeRequest{SampleRate: 16000, Language: "en-US", Params: params}, make([]int16, 1600), true)
	if !errors.Is(err, io.EOF) {
		t.Fatal(err)
	}
	c := srv.Configs()[0]
	if c.GetConfig().GetModel() != "latest_short" || c.GetSingleUtterance() || c.GetConfig().GetLanguageCode() != "de-DE" {
		t.Errorf("config %v: parameters not applied", c)
	}
	if got := c.GetConfig().GetSpeechContexts()[0].GetPhrases(); strings.Join(got, "|") != "platinum desk|gold desk" {
		t.Errorf("phrases %v", got)
	}
	if _, err := e.Recognize(context.Background(), asr.RecognizeRequest{SampleRate: 8000, Params: map[string]string{"max-alternatives": "99"}}); asr.KindOf(err) != asr.ErrBadParameter {
		t.Errorf("max-alternatives=99: %v, want bad-parameter", err)
	}
}

// Each vendor failure the stand-in can produce arrives as its typed asr.Error.
func TestVendorFailures(t *testing.T) {
	speech := func(t *testing.T) []int16 { return asrtest.Speak(t, phrase, 8000) }
	tests := []struct {
		name      string
		setup     func(*googletest.Server)
		audio     func(*testing.T) []int16
		kind      asr.ErrorKind
		retryable bool
	}{
		{"bad credentials", func(s *googletest.Server) { s.Fail(googletest.FailAuth) }, speech, asr.ErrAuth, false},
		// Quota is retryable, so the engine tries again: every attempt must fail for it to surface.
		{"quota", func(s *googletest.Server) { s.Fail(googletest.FailQuota, googletest.FailQuota, googletest.FailQuota) }, speech, asr.ErrQuota, true},
		{"stream limit", func(s *googletest.Server) { s.SetLimits(300*time.Millisecond, 10*time.Second) }, speech, asr.ErrStreamLimit, true},
		{"idle timeout", func(s *googletest.Server) { s.SetLimits(305*time.Second, 100*time.Millisecond) }, func(*testing.T) []int16 { return nil }, asr.ErrIdleTimeout, true},
		// With failover off: a drop before Google answered anything would otherwise be retried.
		{"dropped connection", func(s *googletest.Server) { s.Fail(googletest.FailDrop) }, speech, asr.ErrUnavailable, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv, settings := standIn(t)
			tc.setup(srv)
			if tc.kind == asr.ErrUnavailable {
				settings["retries"] = "1"
			}
			e := newEngine(t, settings)
			_, err := collect(t, e, asr.RecognizeRequest{SampleRate: 8000}, tc.audio(t), false)
			if !plugintest.IsError(err, tc.kind, tc.retryable) {
				t.Fatalf("error %v, want kind %s retryable %v", err, tc.kind, tc.retryable)
			}
		})
	}
}

// The stand-in's 305-second cap, shortened, is healed by asr.Healing without the caller noticing.
func TestStreamLimitHealedByHost(t *testing.T) {
	srv, settings := standIn(t)
	srv.Fail(googletest.FailStreamLimit)
	e := newEngine(t, settings)
	settingsNoSingle := map[string]string{"single-utterance": "false"}
	audio := append(make([]int16, 8000), asrtest.Speak(t, phrase, 8000)...) // longer than the cap
	evs, err := collect(t, asr.Healing(e, asr.HealOptions{}), asr.RecognizeRequest{SampleRate: 8000, Params: settingsNoSingle}, audio, true)
	if !errors.Is(err, io.EOF) {
		t.Fatalf("healed stream ended with %v", err)
	}
	if f := plugintest.FinalOf(evs); f == nil || len(f.Alternatives) == 0 || f.Alternatives[0].Text != phrase {
		t.Fatalf("final %+v", f)
	}
	if srv.Streams() < 2 {
		t.Errorf("%d streams: the cap was never hit", srv.Streams())
	}
}

// A dead first endpoint is skipped; later streams go straight to the one that answered.
func TestFailoverAcrossEndpoints(t *testing.T) {
	deadAddr := plugintest.DeadAddr(t)
	srv, settings := standIn(t)
	settings["endpoints"] = deadAddr + "," + srv.Addr()
	e := newEngine(t, settings)
	for i := 0; i < 2; i++ {
		evs, err := collect(t, e, asr.RecognizeRequest{SampleRate: 8000}, asrtest.Speak(t, phrase, 8000), true)
		if !errors.Is(err, io.EOF) || plugintest.FinalOf(evs) == nil || len(plugintest.FinalOf(evs).Alternatives) == 0 {
			t.Fatalf("stream %d: %v %v", i, err, evs)
		}
	}
	if srv.Streams() != 2 {
		t.Errorf("stand-in saw %d streams, want 2", srv.Streams())
	}
}

// A quota error at the start of a call moves the call, with its audio, to the next endpoint.
func TestFailoverInsideCall(t *testing.T) {
	a, settings := standIn(t)
	b, _ := standIn(t)
	a.Fail(googletest.FailQuota)
	settings["endpoints"] = a.Addr() + "," + b.Addr()
	e := newEngine(t, settings)
	evs, err := collect(t, e, asr.RecognizeRequest{SampleRate: 8000}, asrtest.Speak(t, phrase, 8000), true)
	if !errors.Is(err, io.EOF) || plugintest.FinalOf(evs) == nil || len(plugintest.FinalOf(evs).Alternatives) == 0 || plugintest.FinalOf(evs).Alternatives[0].Text != phrase {
		t.Fatalf("%v %v", err, evs)
	}
	if a.Streams() != 1 || b.Streams() != 1 {
		t.Errorf("streams a=%d b=%d, want 1 and 1", a.Streams(), b.Streams())
	}
	if n := countReady(evs); n != 1 {
		t.Errorf("%d Ready events: the failover must be invisible", n)
	}
}

func countReady(evs []asr.Event) int {
	n := 0
	for _, ev := range evs {
		if _, ok := ev.(*asr.Ready); ok {
			n++
		}
	}
	return n
}

func TestConfigValidation(t *testing.T) {
	tests := []struct {
		settings map[string]string
		want     string // in the error; "" means valid
	}{
		{map[string]string{}, ""},
		{map[string]string{"endpoints": "a:1,b:2", "model": "latest_long", "boost": "10"}, ""},
		{map[string]string{"modle": "x"}, `unknown setting "modle"`},
		{map[string]string{"max-alternatives": "0"}, "setting max-alternatives"},
		{map[string]string{"interim-results": "maybe"}, "setting interim-results"},
		{map[string]string{"grammar-match": "strict"}, `unknown setting "grammar-match"`},
		{map[string]string{"sample-rates": "8000,4000"}, "setting sample-rates"},
		{map[string]string{"insecure": "true", "credentials": "/k.json"}, "setting insecure: credentials are never sent"},
		{map[string]string{"backoff-min": "soon"}, "setting backoff-min"},
	}
	for _, tc := range tests {
		_, err := ParseConfig(tc.settings)
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%v: error %v, want %q", tc.settings, err, tc.want)
		}
	}
}

// BenchmarkRecognize is one whole recognition over loopback to the stand-in (plugintest.BenchRecognize).
func BenchmarkRecognize(b *testing.B) {
	_, settings := standIn(b)
	plugintest.BenchRecognize(b, newEngine(b, settings), map[string]string{"interim-results": "false"})
}

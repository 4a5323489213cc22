package engine

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"go.uber.org/goleak"

	"github.com/mrcpd/mrcpd/asr"
	"github.com/mrcpd/mrcpd/asr/asrtest"
	"github.com/mrcpd/mrcpd/plugins/deepgram/deepgramtest"
	"github.com/mrcpd/mrcpd/plugins/internal/plugintest"
	"github.com/mrcpd/mrcpd/plugins/internal/vendorkit"
	"github.com/mrcpd/mrcpd/plugins/internal/vendorkit/wsstream"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const phrase = plugintest.FlightsPhrase

var flights = plugintest.Flights()

func newEngine(t testing.TB, settings map[string]string) *Engine {
	t.Helper()
	e, err := New(settings, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func standIn(t testing.TB) (*deepgramtest.Server, map[string]string) {
	srv, url := deepgramtest.Start(t, deepgramtest.Script{Transcript: phrase, Alternatives: []string{"book a flight to austin"}, Confidence: 0.93})
	return srv, map[string]string{"endpoint": url, "api-key": deepgramtest.APIKey, "backoff-min": "5ms"}
}

// The production engine, over a real WebSocket to the stand-in, through the conformance suite.
func TestConformance(t *testing.T) {
	_, settings := standIn(t)
	asrtest.RunRecognizer(t, func(t *testing.T) asr.Recognizer { return newEngine(t, settings) },
		asrtest.Options{Utterance: phrase, Expect: phrase, Grammars: []asr.Grammar{flights}})
}

func kinds(evs []asr.Event) string {
	var k []string
	for _, ev := range evs {
		switch ev.(type) {
		case *asr.Ready:
			k = append(k, "ready")
		case *asr.SpeechStarted:
			k = append(k, "start")
		case *asr.SpeechEnded:
			k = append(k, "end")
		case *asr.Final:
			k = append(k, "final")
		case *asr.Usage:
			k = append(k, "usage")
		}
	}
	return strings.Join(k, " ")
}

// Endpointing ends the utterance on its own: SpeechStarted, accumulated is_final segments, then
// speech_final; the engine answers with the Final and CloseStream, and Deepgram's Metadata follows.
func TestSpeechFinalEndsUtterance(t *testing.T) {
	srv, settings := standIn(t)
	e := newEngine(t, settings)
	audio := append(asrtest.Speak(t, phrase, 8000), make([]int16, 4000)...)
	evs, err := plugintest.Collect(t, e, asr.RecognizeRequest{SampleRate: 8000, NBest: 3, Grammars: []asr.Grammar{flights}}, plugintest.Frames(audio, 8000))
	if !errors.Is(err, io.EOF) {
		t.Fatalf("ended with %v; events %v", err, evs)
	}
	if got := kinds(evs); got != "ready start end final usage" {
		t.Errorf("events %q, want ready start end final usage", got)
	}
	f := plugintest.FinalOf(evs)
	if f == nil || len(f.Alternatives) == 0 {
		t.Fatalf("final %+v", f)
	}
	best := f.Alternatives[0]
	if best.Text != phrase || best.Grammar != "flights" || !strings.Contains(best.Interpretation, "BOS") || len(best.Words) != 5 {
		t.Errorf("best %+v", best)
	}
	var partials int
	for _, ev := range evs {
		if _, ok := ev.(*asr.Partial); ok {
			partials++
		}
	}
	if partials == 0 {
		t.Error("no Partial events from interim results")
	}
	q := srv.Queries()[0]
	for k, want := range map[string]string{"encoding": "linear16", "sample_rate": "8000", "channels": "1", "model": "nova-2-phonecall",
		"interim_results": "true", "endpointing": "300", "utterance_end_ms": "1000", "vad_events": "true", "alternatives": "3", "language": "en-US"} {
		if got := strings.Join(q[k], ","); got != want {
			t.Errorf("query %s=%q, want %q", k, got, want)
		}
	}
	if kw := strings.Join(q["keywords"], ","); !strings.Contains(kw, "boston") || !strings.Contains(kw, "denver") {
		t.Errorf("keywords %q, want the grammar's words", kw)
	}
}

// Finalize flushes: the from_finalize result ends the utterance even without endpointing.
func TestFinalizeAndKeepAlive(t *testing.T) {
	srv, settings := standIn(t)
	e := newEngine(t, settings)
	in := []asr.Input{&asr.KeepAlive{}, &asr.KeepAlive{}}
	in = append(in, plugintest.Frames(asrtest.Speak(t, phrase, 16000), 16000)...)
	in = append(in, &asr.KeepAlive{}, &asr.FinalizeInput{})
	params := map[string]string{"deepgram.endpointing": "false", "utterance_end_ms": "0", "model": "nova-2", "language": "en-GB"}
	evs, err := plugintest.Collect(t, e, asr.RecognizeRequest{SampleRate: 16000, Params: params}, in)
	if !errors.Is(err, io.EOF) {
		t.Fatalf("ended with %v", err)
	}
	if f := plugintest.FinalOf(evs); f == nil || len(f.Alternatives) == 0 || f.Alternatives[0].Text != phrase {
		t.Fatalf("final %+v", f)
	}
	if n := srv.KeepAlives(); n != 3 {
		t.Errorf("stand-in got %d KeepAlive messages, want 3", n)
	}
	q := srv.Queries()[0]
	if q.Get("endpointing") != "false" || q.Get("utterance_end_ms") != "" || q.Get("model") != "nova-2" || q.Get("language") != "en-GB" {
		t.Errorf("parameters not applied: %v", q)
	}
}

// Without endpointing, UtteranceEnd (after the words stop for utterance_end_ms) ends the utterance.
func TestUtteranceEndEndsUtterance(t *testing.T) {
	srv, settings := standIn(t)
	e := newEngine(t, settings)
	audio := append(asrtest.Speak(t, phrase, 8000), make([]int16, 8000)...)
	evs, err := plugintest.Collect(t, e, asr.RecognizeRequest{SampleRate: 8000, Params: map[string]string{"endpointing": "false", "utterance-end-ms": "500"}}, plugintest.Frames(audio, 8000))
	if !errors.Is(err, io.EOF) {
		t.Fatalf("ended with %v", err)
	}
	if f := plugintest.FinalOf(evs); f == nil || len(f.Alternatives) == 0 || f.Alternatives[0].Text != phrase {
		t.Fatalf("final %+v", f)
	}
	if q := srv.Queries()[0]; q.Get("endpointing") != "false" || q.Get("utterance_end_ms") != "500" {
		t.Errorf("query %v", q)
	}
}

func TestVendorFailures(t *testing.T) {
	speech := func(t *testing.T) []asr.Input { return plugintest.Frames(asrtest.Speak(t, phrase, 8000), 8000) }
	tests := []struct {
		name      string
		setup     func(*deepgramtest.Server, map[string]string)
		inputs    func(*testing.T) []asr.Input
		kind      asr.ErrorKind
		retryable bool
	}{
		{"bad credentials", func(_ *deepgramtest.Server, s map[string]string) { s["api-key"] = "wrong" }, speech, asr.ErrAuth, false},
		{"rate limited", func(s *deepgramtest.Server, _ map[string]string) {
			s.Fail(deepgramtest.FailQuota, deepgramtest.FailQuota, deepgramtest.FailQuota)
		}, speech, asr.ErrQuota, true},
		{"out of credits", func(s *deepgramtest.Server, _ map[string]string) { s.Fail(deepgramtest.FailCredits) }, speech, asr.ErrQuota, false},
		{"idle timeout", func(s *deepgramtest.Server, _ map[string]string) { s.SetIdleTimeout(100 * time.Millisecond) },
			func(*testing.T) []asr.Input { return nil }, asr.ErrIdleTimeout, true},
		{"dropped connection", func(s *deepgramtest.Server, _ map[string]string) { s.Fail(deepgramtest.FailDrop) }, speech, asr.ErrUnavailable, true},
		{"undecodable audio", func(s *deepgramtest.Server, _ map[string]string) { s.Fail(deepgramtest.FailData) }, speech, asr.ErrBadParameter, false},
		{"bad language", func(_ *deepgramtest.Server, s map[string]string) { s["language"] = "xx" }, speech, asr.ErrLanguage, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv, settings := standIn(t)
			tc.setup(srv, settings)
			e := newEngine(t, settings)
			_, err := plugintest.Collect(t, e, asr.RecognizeRequest{SampleRate: 8000}, tc.inputs(t))
			if !plugintest.IsError(err, tc.kind, tc.retryable) {
				t.Fatalf("error %v, want kind %s retryable %v", err, tc.kind, tc.retryable)
			}
		})
	}
}

// A dead endpoint and a 429 are both retried on the next endpoint.
func TestFailoverAndRetry(t *testing.T) {
	deadURL := "ws://" + plugintest.DeadAddr(t) + "/v1/listen"
	srv, settings := standIn(t)
	settings["endpoints"] = deadURL + "," + srv.URL()
	settings["retries"] = "4"
	srv.Fail(deepgramtest.FailQuota)
	e := newEngine(t, settings)
	evs, err := plugintest.Collect(t, e, asr.RecognizeRequest{SampleRate: 8000}, append(plugintest.Frames(asrtest.Speak(t, phrase, 8000), 8000), &asr.FinalizeInput{}))
	if !errors.Is(err, io.EOF) || plugintest.FinalOf(evs) == nil || len(plugintest.FinalOf(evs).Alternatives) == 0 {
		t.Fatalf("%v %v", err, evs)
	}
}

func TestConfigValidation(t *testing.T) {
	tests := []struct {
		settings map[string]string
		want     string
	}{
		{map[string]string{"api-key": "k"}, ""},
		{map[string]string{"api-key": "k", "endpoints": "wss://a/v1/listen,ws://127.0.0.1:9/v1/listen", "endpointing": "false"}, ""},
		{map[string]string{}, "setting api-key is required"},
		{map[string]string{"api-key": "k", "endpoint": "https://api.deepgram.com/v1/listen"}, "ws:// or wss://"},
		{map[string]string{"api-key": "k", "endpointing": "soon"}, "setting endpointing"},
		{map[string]string{"api-key": "k", "interim-results": "false"}, "setting interim-results"},
		{map[string]string{"api-key": "k", "modle": "nova-2"}, `unknown setting "modle"`},
		{map[string]string{"api-key": "k", "sample-rates": "8000,1"}, "setting sample-rates"},
	}
	for _, tc := range tests {
		t.Setenv(EnvAPIKey, "")
		_, err := ParseConfig(tc.settings)
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%v: error %v, want %q", tc.settings, err, tc.want)
		}
	}
}

// FuzzMessage: every message Deepgram (or anything on that socket) sends goes through handle.
func FuzzMessage(f *testing.F) {
	f.Add([]byte(`{"type":"Results","is_final":true,"speech_final":true,"channel":{"alternatives":[{"transcript":"yes"}]}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var m message
		if json.Unmarshal(b, &m) != nil {
			return
		}
		gs, _ := vendorkit.CompileGrammars(nil)
		s := &stream{Socket: wsstream.Socket{Ctx: context.Background(), Cancel: func() {}}, cfg: Config{Interim: true}, gs: gs, over: true}
		s.handle(&m)
		s.handle(&m)
		for _, ev := range s.Queue {
			if f, ok := ev.(*asr.Final); ok && len(f.Alternatives) > 0 && f.Alternatives[0].Text == "" {
				t.Fatalf("final with an empty best alternative from %q", b)
			}
		}
	})
}

// BenchmarkRecognize is one whole recognition over loopback to the stand-in (plugintest.BenchRecognize).
func BenchmarkRecognize(b *testing.B) {
	_, settings := standIn(b)
	plugintest.BenchRecognize(b, newEngine(b, settings), map[string]string{"interim-results": "false", "utterance-end-ms": "0"})
}

// Close frames and handshake statuses map to kinds as documented in the README.
func TestCloseAndStatusMapping(t *testing.T) {
	tests := []struct {
		err       error
		kind      asr.ErrorKind
		retryable bool
	}{
		{websocket.CloseError{Code: websocket.StatusPolicyViolation, Reason: "DATA-0000"}, asr.ErrBadParameter, false},
		{websocket.CloseError{Code: websocket.StatusInternalError, Reason: "NET-0001: no audio"}, asr.ErrIdleTimeout, true},
		{websocket.CloseError{Code: websocket.StatusInternalError, Reason: "NET-0000: internal"}, asr.ErrUnavailable, true},
		{websocket.CloseError{Code: 4401, Reason: "unauthorized"}, asr.ErrAuth, false},
		{websocket.CloseError{Code: 4402, Reason: "credits"}, asr.ErrQuota, false},
		{websocket.CloseError{Code: 4429, Reason: "rate"}, asr.ErrQuota, true},
		{io.ErrUnexpectedEOF, asr.ErrUnavailable, true},
	}
	for _, tc := range tests {
		gs, _ := vendorkit.CompileGrammars(nil)
		s := &stream{Socket: wsstream.Socket{Vendor: "deepgram", Ctx: context.Background(), Cancel: func() {}}, gs: gs,
			log: slog.New(slog.DiscardHandler)}
		s.closed(tc.err)
		if !plugintest.IsError(s.Err(), tc.kind, tc.retryable) {
			t.Errorf("%v: %v, want %s retryable %v", tc.err, s.Err(), tc.kind, tc.retryable)
		}
	}
	for code, kind := range map[int]asr.ErrorKind{401: asr.ErrAuth, 403: asr.ErrAuth, 402: asr.ErrQuota, 429: asr.ErrQuota, 400: asr.ErrBadParameter, 503: asr.ErrUnavailable} {
		if got := statusError(code, "x").Kind; got != kind {
			t.Errorf("HTTP %d: %s, want %s", code, got, kind)
		}
	}
}

package server

import (
	"context"
	"testing"
	"time"

	"github.com/mrcpd/mrcpd/asr"
	"github.com/mrcpd/mrcpd/mrcp"
	"github.com/mrcpd/mrcpd/mrcp/sip"
)

// Which engine serves a RECOGNIZE (issue #6): Vendor-Specific-Parameters engine=<name> first,
// then the call's Request-URI user part when it names an engine, then the default.
func TestEngineChoice(t *testing.T) {
	for _, tc := range []struct {
		name, user, vendor string
		want               string // engine that gets the request; "" for none (006)
	}{
		{name: "default", want: "default"},
		{name: "uri-user", user: "google", want: "google"},
		{name: "uri-user-not-an-engine", user: "mrcp", want: "default"},
		{name: "vendor-param", vendor: "engine=google", want: "google"},
		{name: "vendor-param-over-uri-user", user: "google", vendor: "engine=vosk", want: "vosk"},
		{name: "unknown-engine-param", user: "google", vendor: "engine=nope"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			engines := fakeEngines{recs: map[string]*captureRecognizer{}}
			h := newHarness(t, func(c *Config) {
				for _, n := range []string{"default", "google", "vosk"} {
					engines.recs[n] = newCaptureRecognizer(c.Clock, n, false)
				}
				c.Backends.Recognizer = engines.recs["default"]
				c.Backends.Named = engines
			})
			ans, err := h.srv.Offer(context.Background(), &sip.Call{CallID: "call-1", Remote: "127.0.0.1:5092", User: tc.user},
				sdpBody(t, modRecogInvite), false)
			if err != nil {
				t.Fatal(err)
			}
			id := string(channelRE.FindSubmatch(ans)[1])
			cl := h.dial()
			m := mrcp.NewRequest(mrcp.MethodRecognize, 1, id)
			if tc.vendor != "" {
				m.Header.Set(mrcp.HeaderVendorSpecificParameters, tc.vendor)
			}
			m.Header.Set(mrcp.HeaderContentType, "text/uri-list")
			m.Body = []byte("builtin:grammar/boolean\r\n")
			cl.send(m)
			if r := cl.next(); r.StatusCode != 200 {
				t.Fatalf("RECOGNIZE: %d", r.StatusCode)
			}
			if tc.want == "" {
				r := cl.next()
				if r.Name != mrcp.EventRecognitionComplete || r.Header.Value(mrcp.HeaderCompletionCause) != mrcp.RecogRecognizerError.String() {
					t.Fatalf("got %s %s", r.Name, r.Header.Value(mrcp.HeaderCompletionCause))
				}
				return
			}
			select {
			case <-engines.recs[tc.want].reqs:
			case <-time.After(5 * time.Second):
				t.Fatalf("%s got no request", tc.want)
			}
			for n, e := range engines.recs {
				if len(e.reqs) != 0 {
					t.Errorf("%s got a request too", n)
				}
			}
		})
	}
}

type fakeEngines struct {
	recs map[string]*captureRecognizer
	syns map[string]*namedSynth
}

func (f fakeEngines) Recognizer(name string) (asr.Recognizer, error) {
	if r, ok := f.recs[name]; ok {
		return r, nil
	}
	return nil, asr.Errorf(asr.ErrUnavailable, false, "no recognizer named %q", name)
}

func (f fakeEngines) Synthesizer(name string) (asr.Synthesizer, error) {
	if s, ok := f.syns[name]; ok {
		return s, nil
	}
	return nil, asr.Errorf(asr.ErrUnavailable, false, "no synthesizer named %q", name)
}

// namedSynth reports each Synthesize and says nothing.
type namedSynth struct{ called chan struct{} }

func (s *namedSynth) Info(context.Context) (asr.SynthesizerInfo, error) {
	return asr.SynthesizerInfo{SampleRates: []int{8000}}, nil
}

func (s *namedSynth) Synthesize(ctx context.Context, _ asr.SynthesizeRequest) (asr.SynthesisStream, error) {
	s.called <- struct{}{}
	return &toneStream{ctx: ctx}, nil
}

// The same choice for SPEAK; an unknown engine= is 407 with 004 error naming it.
func TestSynthEngineChoice(t *testing.T) {
	for _, tc := range []struct{ name, user, vendor, want string }{
		{name: "default", want: "default"},
		{name: "uri-user", user: "flite", want: "flite"},
		{name: "vendor-param-over-uri-user", user: "flite", vendor: "engine=espeak", want: "espeak"},
		{name: "unknown-engine-param", vendor: "engine=nope"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			engines := fakeEngines{syns: map[string]*namedSynth{}}
			h := newHarness(t, func(c *Config) {
				for _, n := range []string{"default", "flite", "espeak"} {
					engines.syns[n] = &namedSynth{called: make(chan struct{}, 1)}
				}
				c.Backends.Synthesizer = engines.syns["default"]
				c.Backends.Named = engines
			})
			ans, err := h.srv.Offer(context.Background(), &sip.Call{CallID: "call-1", Remote: "127.0.0.1:5092", User: tc.user},
				sdpBody(t, modSynthInvite), false)
			if err != nil {
				t.Fatal(err)
			}
			cl := h.dial()
			m := speak(1, string(channelRE.FindSubmatch(ans)[1]), "hello")
			if tc.vendor != "" {
				m.Header.Set(mrcp.HeaderVendorSpecificParameters, tc.vendor)
			}
			cl.send(m)
			r := cl.next()
			if tc.want == "" {
				if r.StatusCode != 407 || r.Header.Value(mrcp.HeaderCompletionCause) != mrcp.SynthError.String() {
					t.Fatalf("got %d %s", r.StatusCode, r.Header.Value(mrcp.HeaderCompletionCause))
				}
				return
			}
			select {
			case <-engines.syns[tc.want].called:
			case <-time.After(5 * time.Second):
				t.Fatalf("%s got no request", tc.want)
			}
			for n, e := range engines.syns {
				if len(e.called) != 0 {
					t.Errorf("%s got a request too", n)
				}
			}
		})
	}
}

package server

import (
	"context"
	"sync/atomic"
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

func (f fakeEngines) SynthesizerForVoice(_ context.Context, voice string) (asr.Synthesizer, string, error) {
	if s, err := f.Synthesizer(voice); err == nil {
		return s, voice, nil
	}
	s, err := f.Synthesizer("default")
	return s, "default", err
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

// A RECOGNIZE resolves its engine once, however many steps need it (here a grammar type only the
// engine reads, then the stream): a reload between two lookups could otherwise judge the grammar
// with one engine and stream to another. A DTMF-only request resolves none.
func TestEngineResolvedOncePerRequest(t *testing.T) {
	engines := &countingEngines{}
	h := newHarness(t, func(c *Config) {
		engines.r = phraseRecognizer{newCaptureRecognizer(c.Clock, "yes", false)}
		c.Backends.Named = engines
	})
	ids, _ := h.offer("call-1", sdpBody(t, modRecogInvite))
	cl := h.dial()
	cl.send(dtmfRecognize(1, ids[0], "builtin:dtmf/digits?length=2", mrcp.HeaderCancelIfQueue, "true"))
	if r := cl.next(); r.StatusCode != 200 {
		t.Fatalf("DTMF RECOGNIZE: %d", r.StatusCode)
	}
	if n := engines.n.Load(); n != 0 {
		t.Fatalf("a DTMF-only RECOGNIZE resolved an engine %d times", n)
	}
	m := mrcp.NewRequest(mrcp.MethodRecognize, 2, ids[0])
	m.Header.Set(mrcp.HeaderVendorSpecificParameters, "engine=phrases")
	m.Header.Set(mrcp.HeaderContentType, "text/x-phrases")
	m.Body = []byte("yes\nno\n")
	cl.send(m)
	r := cl.next()
	for ; r.RequestID != 2; r = cl.next() { // the DTMF recognition ends first
	}
	if r.StatusCode != 200 {
		t.Fatalf("RECOGNIZE: %d %v", r.StatusCode, r.Header.Fields)
	}
	select {
	case <-engines.r.(phraseRecognizer).reqs:
	case <-time.After(5 * time.Second):
		t.Fatal("the engine got no request")
	}
	if n := engines.n.Load(); n != 1 {
		t.Fatalf("one RECOGNIZE resolved its engine %d times", n)
	}
}

// countingEngines serves one recognizer under every name and counts the lookups.
type countingEngines struct {
	fakeEngines
	r asr.Recognizer
	n atomic.Int32
}

func (c *countingEngines) Recognizer(string) (asr.Recognizer, error) { c.n.Add(1); return c.r, nil }

// phraseRecognizer also reads a grammar type mrcpd does not parse.
type phraseRecognizer struct{ *captureRecognizer }

func (r phraseRecognizer) Info(ctx context.Context) (asr.RecognizerInfo, error) {
	info, err := r.captureRecognizer.Info(ctx)
	info.GrammarTypes = append(info.GrammarTypes, "text/x-phrases")
	return info, err
}

package server

import (
	"testing"
	"time"

	"github.com/mrcpd/mrcpd/mrcp"
	"github.com/mrcpd/mrcpd/mrcp/nlsml"
)

// SET-PARAMS values persist for the channel (RFC 6787 §6.1): GET-PARAMS returns them and a
// RECOGNIZE without the header runs with them.
func TestParamsPersist(t *testing.T) {
	h := newHarness(t, nil)
	ids, _ := h.offer("call-1", sdpBody(t, modRecogInvite))
	cl := h.dial()
	set := mrcp.NewRequest(mrcp.MethodSetParams, 1, ids[0])
	set.Header.Set(mrcp.HeaderNoInputTimeout, "1500")
	set.Header.Set(mrcp.HeaderDTMFTermChar, "#")
	cl.send(set)
	if m := cl.next(); m.StatusCode != 200 {
		t.Fatalf("SET-PARAMS: %d", m.StatusCode)
	}
	get := mrcp.NewRequest(mrcp.MethodGetParams, 2, ids[0])
	get.Header.Set(mrcp.HeaderNoInputTimeout, "")
	get.Header.Set(mrcp.HeaderRecognitionTimeout, "")
	cl.send(get)
	m := cl.next()
	if m.Header.Value(mrcp.HeaderNoInputTimeout) != "1500" || m.Header.Value(mrcp.HeaderRecognitionTimeout) != "10000" {
		t.Fatalf("GET-PARAMS: %v", m.Header.Fields)
	}
	cl.send(dtmfRecognize(3, ids[0], "builtin:dtmf/digits?length=4"))
	cl.next()
	cl.send(mrcp.NewRequest(mrcp.MethodGetParams, 4, ids[0]))
	cl.next()
	h.clock.Advance(1500 * time.Millisecond)
	if m := cl.next(); m.Header.Value(mrcp.HeaderCompletionCause) != "002 no-input-timeout" {
		t.Fatalf("got %s %s", m.Name, m.Header.Value(mrcp.HeaderCompletionCause))
	}
}

// An inline SRGS grammar in DTMF mode with a Content-Id: recognized, and kept for session: use.
func TestInlineDTMFGrammar(t *testing.T) {
	h := newHarness(t, nil)
	ids, _ := h.offer("call-1", sdpBody(t, modRecogInvite))
	cl := h.dial()
	m := mrcp.NewRequest(mrcp.MethodRecognize, 1, ids[0])
	m.Header.Set(mrcp.HeaderContentType, "application/srgs+xml")
	m.Header.Set(mrcp.HeaderContentID, "<pin@form>")
	m.Body = []byte(`<?xml version="1.0"?>
<grammar xmlns="http://www.w3.org/2001/06/grammar" version="1.0" mode="dtmf" root="pin">
  <rule id="pin"><one-of><item>1 2</item><item>3 4</item></one-of></rule>
</grammar>`)
	cl.send(m)
	if r := cl.next(); r.State != mrcp.StateInProgress {
		t.Fatalf("RECOGNIZE: %d %s", r.StatusCode, r.State)
	}
	sink := h.media.receiver(t, 0)
	sink.DTMF('3')
	sink.DTMF('4')
	cl.next() // START-OF-INPUT
	r := cl.next()
	res, err := nlsml.Parse(r.Body)
	if err != nil || r.Header.Value(mrcp.HeaderCompletionCause) != "000 success" || len(res.Interpretations) != 1 ||
		res.Interpretations[0].Grammar != "session:pin@form" || nlsml.DTMFDigits(res.Interpretations[0].Input) != "34" {
		t.Fatalf("got %s %v\n%s", r.Header.Value(mrcp.HeaderCompletionCause), err, r.Body)
	}
	cl.send(dtmfRecognize(2, ids[0], "session:pin@form"))
	if r := cl.next(); r.StatusCode != 200 || r.State != mrcp.StateInProgress {
		t.Fatalf("RECOGNIZE session:pin@form: %d %s", r.StatusCode, r.State)
	}
}

// Config.FreeText (mrcp.free_text) is the default of a request's free-text vendor parameter,
// which overrides it either way.
func TestFreeTextDefault(t *testing.T) {
	for _, tc := range []struct {
		config bool
		vsp    string
		want   bool
	}{
		{false, "", false},
		{true, "", true},
		{true, "free-text=false", false},
		{false, "com.example.free-text=true", true},
	} {
		m := mrcp.NewRequest(mrcp.MethodRecognize, 1, "c1@speechrecog")
		if tc.vsp != "" {
			m.Header.Set(mrcp.HeaderVendorSpecificParameters, tc.vsp)
		}
		rec := newRecognition(recogEnv{now: time.Now, freeText: tc.config}, m, &params{ch: &channel{}, m: m})
		if rec.set.FreeText != tc.want {
			t.Errorf("config %v, %q: FreeText %v, want %v", tc.config, tc.vsp, rec.set.FreeText, tc.want)
		}
	}
}

package server

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/mrcpd/mrcpd/asr"
	"github.com/mrcpd/mrcpd/mrcp"
)

// What the engine is asked for: the RECOGNIZE's headers over the channel's SET-PARAMS
// (RFC 6787 §6.1), Vendor-Specific-Parameters merged pair by pair (§6.2.16), interim results and
// hints from vendor parameters.
func TestRecognizeRequestPassThrough(t *testing.T) {
	for _, tc := range []struct {
		name string
		set  map[string]string // SET-PARAMS, in two requests when vendor pairs are split with |
		req  map[string]string // RECOGNIZE
		want asr.RecognizeRequest
	}{
		{name: "defaults", want: asr.RecognizeRequest{Language: "en-US", NBest: 1, ConfidenceThreshold: 0.5, Sensitivity: 0.5}},
		{name: "request-headers",
			req: map[string]string{mrcp.HeaderSpeechLanguage: "de-DE", mrcp.HeaderNBestListLength: "3",
				mrcp.HeaderConfidenceThreshold: "0.3", mrcp.HeaderSensitivityLevel: "0.7",
				mrcp.HeaderVendorSpecificParameters: "interim=true;hints=account number, billing;com.example.model=phone_call"},
			want: asr.RecognizeRequest{Language: "de-DE", NBest: 3, ConfidenceThreshold: 0.3, Sensitivity: 0.7,
				Interim: true, Hints: []string{"account number", "billing"},
				Params: map[string]string{"interim": "true", "hints": "account number, billing", "com.example.model": "phone_call"}}},
		{name: "set-params-merged",
			set: map[string]string{mrcp.HeaderSpeechLanguage: "fr-FR", mrcp.HeaderNBestListLength: "2",
				mrcp.HeaderVendorSpecificParameters: "model=a;region=eu|model=b"},
			req: map[string]string{mrcp.HeaderVendorSpecificParameters: "region=us;interim-results=false", mrcp.HeaderNBestListLength: "4"},
			want: asr.RecognizeRequest{Language: "fr-FR", NBest: 4, ConfidenceThreshold: 0.5, Sensitivity: 0.5,
				Params: map[string]string{"model": "b", "region": "us", "interim-results": "false"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var be *captureRecognizer
			h := newHarness(t, func(c *Config) {
				be = newCaptureRecognizer(c.Clock, "yes", false)
				c.Backends.Recognizer = be
			})
			ids, _ := h.offer("call-1", sdpBody(t, modRecogInvite))
			cl := h.dial()
			id := uint32(1)
			if len(tc.set) > 0 {
				vendor := tc.set[mrcp.HeaderVendorSpecificParameters]
				for i, part := range strings.Split(vendor, "|") {
					set := mrcp.NewRequest(mrcp.MethodSetParams, id, ids[0])
					id++
					for k, v := range tc.set {
						if k != mrcp.HeaderVendorSpecificParameters && i == 0 {
							set.Header.Set(k, v)
						}
					}
					if part != "" {
						set.Header.Set(mrcp.HeaderVendorSpecificParameters, part)
					}
					cl.send(set)
					if r := cl.next(); r.StatusCode != 200 {
						t.Fatalf("SET-PARAMS: %d", r.StatusCode)
					}
				}
			}
			m := mrcp.NewRequest(mrcp.MethodRecognize, id, ids[0])
			for k, v := range tc.req {
				m.Header.Set(k, v)
			}
			m.Header.Set(mrcp.HeaderContentType, "text/uri-list")
			m.Body = []byte("builtin:grammar/boolean\r\n")
			cl.send(m)
			if r := cl.next(); r.StatusCode != 200 {
				t.Fatalf("RECOGNIZE: %d %s", r.StatusCode, r.Header.Value(mrcp.HeaderCompletionReason))
			}
			var got asr.RecognizeRequest
			select {
			case got = <-be.reqs:
			case <-time.After(5 * time.Second):
				t.Fatal("no request reached the engine")
			}
			if len(got.Grammars) != 1 || got.Grammars[0].URI != "builtin:grammar/boolean" || got.SampleRate != 8000 || got.ChannelID != ids[0] {
				t.Fatalf("request %+v", got)
			}
			got.Grammars, got.SampleRate, got.ChannelID = nil, 0, ""
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("request\n got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

// A malformed Vendor-Specific-Parameters on RECOGNIZE is 404 naming the header (§6.2.16).
func TestRecognizeBadVendorParams(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.Backends.Recognizer = newCaptureRecognizer(c.Clock, "", false) })
	ids, _ := h.offer("call-1", sdpBody(t, modRecogInvite))
	cl := h.dial()
	m := mrcp.NewRequest(mrcp.MethodRecognize, 1, ids[0])
	m.Header.Set(mrcp.HeaderVendorSpecificParameters, "no pairs here")
	m.Header.Set(mrcp.HeaderContentType, "text/uri-list")
	m.Body = []byte("builtin:grammar/boolean\r\n")
	cl.send(m)
	if r := cl.next(); r.StatusCode != 404 {
		t.Fatalf("got %d", r.StatusCode)
	}
}

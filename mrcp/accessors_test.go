package mrcp

import (
	"errors"
	"os"
	"reflect"
	"testing"
	"time"
)

func hdr(kv ...string) *Header {
	h := &Header{}
	for i := 0; i < len(kv); i += 2 {
		h.Add(kv[i], kv[i+1])
	}
	return h
}

func wantHeaderError(t *testing.T, err error, name string) {
	t.Helper()
	var he *HeaderError
	if !errors.As(err, &he) || he.Name != name || he.Status() != 404 || !errors.Is(err, ErrHeaderValue) {
		t.Errorf("want *HeaderError for %s, got %v", name, err)
	}
}

func TestBool(t *testing.T) {
	tests := []struct {
		val      string
		want, ok bool
		bad      bool
	}{
		{"true", true, true, false}, {"false", false, true, false}, {"TRUE", true, true, false},
		{"yes", false, true, true}, {"", false, true, true}, {"1", false, true, true},
	}
	for _, tt := range tests {
		v, ok, err := hdr("start-input-timers", tt.val).Bool(HeaderStartInputTimers)
		if tt.bad {
			wantHeaderError(t, err, HeaderStartInputTimers)
			continue
		}
		if err != nil || v != tt.want || ok != tt.ok {
			t.Errorf("%q: %v %v %v", tt.val, v, ok, err)
		}
	}
	if _, ok, err := hdr().Bool(HeaderStartInputTimers); ok || err != nil {
		t.Error("absent field reported present")
	}
}

func TestNumbers(t *testing.T) {
	h := hdr(HeaderNoInputTimeout, "8000", HeaderNBestListLength, "3", HeaderConfidenceThreshold, "0.5",
		HeaderWeight, "2.5", HeaderSensitivityLevel, "1.5", HeaderRecognitionTimeout, "-1",
		HeaderSpeedVsAccuracy, "1e-3", HeaderClashThreshold, ".7", HeaderMaxTime, "99999999999999999999")
	if d, ok, err := h.Duration(HeaderNoInputTimeout); d != 8*time.Second || !ok || err != nil {
		t.Errorf("Duration = %v %v %v", d, ok, err)
	}
	if v, _, err := h.Uint(HeaderNBestListLength); v != 3 || err != nil {
		t.Errorf("Uint = %v %v", v, err)
	}
	if v, _, err := h.Fraction(HeaderConfidenceThreshold); v != 0.5 || err != nil {
		t.Errorf("Fraction = %v %v", v, err)
	}
	if v, _, err := h.Float(HeaderWeight); v != 2.5 || err != nil {
		t.Errorf("Float = %v %v", v, err)
	}
	if v, _, err := h.Fraction(HeaderClashThreshold); v != 0.7 || err != nil {
		t.Errorf("Fraction .7 = %v %v", v, err)
	}
	_, _, err := h.Fraction(HeaderSensitivityLevel)
	wantHeaderError(t, err, HeaderSensitivityLevel)
	_, _, err = h.Duration(HeaderRecognitionTimeout)
	wantHeaderError(t, err, HeaderRecognitionTimeout)
	_, _, err = h.Fraction(HeaderSpeedVsAccuracy)
	wantHeaderError(t, err, HeaderSpeedVsAccuracy)
	_, _, err = h.Duration(HeaderMaxTime)
	wantHeaderError(t, err, HeaderMaxTime)
}

func TestListsAndParams(t *testing.T) {
	h := hdr(HeaderActiveRequestIDList, "1, 2,4294967295", HeaderVendorSpecificParameters,
		`com.example.a=1; com.example.b="x y";`, HeaderDTMFTermChar, "#", HeaderCompletionCause, "002 no-input-timeout",
		HeaderContentType, "Application/SRGS+XML; charset=UTF-8", HeaderContentID, "<request1@form-level>")
	ids, ok, err := h.ActiveRequestIDs()
	if !ok || err != nil || !reflect.DeepEqual(ids, []uint32{1, 2, 4294967295}) {
		t.Errorf("ActiveRequestIDs = %v %v %v", ids, ok, err)
	}
	ps, _, err := h.VendorParams()
	if err != nil || !reflect.DeepEqual(ps, []Param{{"com.example.a", "1"}, {"com.example.b", "x y"}}) {
		t.Errorf("VendorParams = %v %v", ps, err)
	}
	if r, _, err := h.DTMFTermChar(); r != '#' || err != nil {
		t.Errorf("DTMFTermChar = %q %v", r, err)
	}
	if c, n, _, err := h.CompletionCause(); c != 2 || n != "no-input-timeout" || err != nil {
		t.Errorf("CompletionCause = %d %q %v", c, n, err)
	}
	if ct := h.ContentType(); ct != "application/srgs+xml" {
		t.Errorf("ContentType = %q", ct)
	}
	if id := h.ContentID(); id != "request1@form-level" {
		t.Errorf("ContentID = %q", id)
	}
	for _, bad := range []struct{ name, val string }{
		{HeaderActiveRequestIDList, "1,,2"}, {HeaderActiveRequestIDList, "4294967296"},
		{HeaderVendorSpecificParameters, "novalue"}, {HeaderDTMFTermChar, "##"}, {HeaderDTMFTermChar, "E"},
		{HeaderCompletionCause, "2 x"},
	} {
		h := hdr(bad.name, bad.val)
		var err error
		switch bad.name {
		case HeaderActiveRequestIDList:
			_, _, err = h.ActiveRequestIDs()
		case HeaderVendorSpecificParameters:
			_, _, err = h.VendorParams()
		case HeaderDTMFTermChar:
			_, _, err = h.DTMFTermChar()
		case HeaderCompletionCause:
			_, _, _, err = h.CompletionCause()
		}
		wantHeaderError(t, err, bad.name)
	}
}

func TestSetters(t *testing.T) {
	h := &Header{}
	h.SetBool(HeaderCancelIfQueue, true)
	h.SetUint(HeaderNBestListLength, 2)
	h.SetDuration(HeaderNoInputTimeout, 1500*time.Millisecond)
	h.SetFloat(HeaderConfidenceThreshold, 0.5)
	h.SetActiveRequestIDs(3, 4)
	want := []Field{{HeaderCancelIfQueue, "true"}, {HeaderNBestListLength, "2"}, {HeaderNoInputTimeout, "1500"},
		{HeaderConfidenceThreshold, "0.5"}, {HeaderActiveRequestIDList, "3,4"}}
	if !reflect.DeepEqual(h.Fields, want) {
		t.Errorf("got %v", h.Fields)
	}
}

func TestParseURIList(t *testing.T) {
	got, err := ParseURIList([]byte("# comment\r\nsession:a@b\r\n\r\nbuiltin:dtmf/digits?length=4\nhttp://x/y.grxml"))
	want := []string{"session:a@b", "builtin:dtmf/digits?length=4", "http://x/y.grxml"}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("got %v %v", got, err)
	}
	for _, bad := range []string{"", "# only\r\n", "two uris on one line"} {
		var se *StatusError
		if _, err := ParseURIList([]byte(bad)); !errors.As(err, &se) || se.Code != 408 {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		r      Resource
		f      Field
		code   int
		header string
	}{
		{ResourceSpeechRecog, Field{"Cancel-If-Queue", "false"}, 0, ""},
		{ResourceSpeechRecog, Field{"X-Vendor-Thing", "?"}, 0, ""},
		{ResourceSpeechRecog, Field{"voice-name", "default"}, 403, "voice-name"},
		{ResourceSpeechSynth, Field{"No-Input-Timeout", "100"}, 403, "No-Input-Timeout"},
		{ResourceRecorder, Field{"No-Input-Timeout", "100"}, 0, ""},
		{ResourceRecorder, Field{"Max-Time", "soon"}, 404, "Max-Time"},
		{ResourceSpeechSynth, Field{"Voice-Gender", "robot"}, 404, "Voice-Gender"},
		{ResourceSpeechSynth, Field{"Voice-Gender", "Female"}, 0, ""},
		{ResourceDTMFRecog, Field{"DTMF-Term-Char", "x"}, 404, "DTMF-Term-Char"},
		{ResourceBasicSynth, Field{"Logging-Tag", "abc"}, 0, ""},
		{ResourceSpeechRecog, Field{"Vendor-Specific-Parameters", "accent=caf\xe9"}, 404, "Vendor-Specific-Parameters"},
		{ResourceSpeechRecog, Field{"X-Vendor-Thing", "\xff"}, 404, "X-Vendor-Thing"},
		{ResourceSpeechRecog, Field{"Vendor-Specific-Parameters", "accent=café"}, 0, ""},
	}
	for _, tt := range tests {
		err := ValidateField(tt.r, tt.f)
		if tt.code == 0 {
			if err != nil {
				t.Errorf("%s %v: %v", tt.r, tt.f, err)
			}
			continue
		}
		var se *StatusError
		if !errors.As(err, &se) || se.Code != tt.code || se.Header != tt.header {
			t.Errorf("%s %v: got %v, want %d naming %s", tt.r, tt.f, err, tt.code, tt.header)
		}
	}
	// Every shared fixture is valid for its own resource.
	for _, path := range goldenFiles(t) {
		in, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		m, err := Parse(in)
		if err != nil {
			t.Fatal(err)
		}
		if err := m.Validate(); err != nil {
			t.Errorf("%s: %v", path, err)
		}
	}
}

func TestHeaderTable(t *testing.T) {
	seen := map[string]bool{}
	for _, s := range HeaderSpecs() {
		if seen[s.Name] {
			t.Errorf("duplicate %s", s.Name)
		}
		seen[s.Name] = true
		if s.Type == TypeEnum && len(s.Enum) == 0 {
			t.Errorf("%s: enum without values", s.Name)
		}
	}
	if s, ok := LookupHeader("content-length"); !ok || !s.Generic() || s.Type != TypeUint {
		t.Error("content-length not a generic integer header")
	}
	if _, ok := LookupHeader("X-Unknown"); ok {
		t.Error("unknown header found")
	}
	if s, _ := LookupHeader(HeaderVoiceGender); s.AllowedOn(ResourceSpeechRecog) || !s.AllowedOn(ResourceBasicSynth) {
		t.Error("Voice-Gender resource classes wrong")
	}
}

func TestMethodAllowed(t *testing.T) {
	tests := []struct {
		r    Resource
		m    string
		want bool
	}{
		{ResourceSpeechRecog, MethodRecognize, true}, {ResourceSpeechRecog, MethodSpeak, false},
		{ResourceSpeechSynth, MethodSpeak, true}, {ResourceSpeechSynth, MethodRecognize, false},
		{ResourceRecorder, MethodRecord, true}, {ResourceRecorder, MethodDefineGrammar, false},
		{ResourceRecorder, MethodSetParams, true}, {ResourceSpeakVerify, MethodVerify, true},
	}
	for _, tt := range tests {
		if got := MethodAllowed(tt.r, tt.m); got != tt.want {
			t.Errorf("MethodAllowed(%s, %s) = %v", tt.r, tt.m, got)
		}
	}
}

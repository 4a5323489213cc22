package mrcp

import (
	"bytes"
	"errors"
	"strconv"
	"strings"
	"testing"
)

func crlf(s string) string { return strings.ReplaceAll(s, "\n", "\r\n") }

// withLength fills the "LEN" placeholder of a start line with the right message-length.
func withLength(s string) string {
	for n := 1; ; n++ {
		out := strings.Replace(s, "LEN", strconv.Itoa(n), 1)
		if len(out) == n {
			return out
		}
	}
}

func TestParseStartLines(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		kind  Kind
		mname string
		id    uint32
		code  int
		state RequestState
	}{
		{"request", "MRCP/2.0 LEN RECOGNIZE 543257\nChannel-Identifier: 32AECB23433801@speechrecog\n\n", KindRequest, "RECOGNIZE", 543257, 0, ""},
		{"response", "MRCP/2.0 LEN 543257 200 IN-PROGRESS\nChannel-Identifier: 32AECB23433801@speechrecog\n\n", KindResponse, "", 543257, 200, StateInProgress},
		{"event", "MRCP/2.0 LEN START-OF-INPUT 543257 IN-PROGRESS\nChannel-Identifier: 32AECB23433801@speechrecog\n\n", KindEvent, "START-OF-INPUT", 543257, 0, StateInProgress},
		{"pending", "MRCP/2.0 LEN 7 200 PENDING\n\n", KindResponse, "", 7, 200, StatePending},
		{"max request-id", "MRCP/2.0 LEN STOP 4294967295\n\n", KindRequest, "STOP", 4294967295, 0, ""},
	}
	for _, tt := range tests {
		for _, eol := range []string{"crlf", "lf"} {
			t.Run(tt.name+"/"+eol, func(t *testing.T) {
				in := tt.in
				if eol == "crlf" {
					in = crlf(in)
				}
				in = withLength(in)
				m, err := Parse([]byte(in))
				if err != nil {
					t.Fatal(err)
				}
				if m.Kind != tt.kind || m.Name != tt.mname || m.RequestID != tt.id || m.StatusCode != tt.code || m.State != tt.state {
					t.Errorf("got %+v", m)
				}
			})
		}
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name   string
		in     string
		code   int
		sent   error
		header string
		framed bool // a Message is attached (the request could be answered)
	}{
		{"version", crlf("MRCP/1.0 LEN STOP 1\nChannel-Identifier: a@speechrecog\n\n"), 502, ErrVersion, "mrcp-version", true},
		{"not mrcp", crlf("SIP/2.0 LEN STOP 1\n\n"), 408, ErrMalformed, "start-line", false},
		{"length too small", crlf("MRCP/2.0 10 STOP 1\n\n"), 404, ErrMessageLength, "message-length", true},
		{"length not digits", crlf("MRCP/2.0 1x STOP 1\n\n"), 408, ErrMalformed, "message-length", false},
		{"request-id too big", crlf("MRCP/2.0 LEN STOP 4294967296\n\n"), 408, ErrMalformed, "request-id", false},
		{"status not 3 digits", crlf("MRCP/2.0 LEN 1 20 COMPLETE\n\n"), 408, ErrMalformed, "status-code", false},
		{"bad state", crlf("MRCP/2.0 LEN 1 200 DONE\n\n"), 404, ErrMalformed, "request-state", true},
		{"bad content-length", crlf("MRCP/2.0 LEN SPEAK 1\nContent-Length: x\n\n"), 404, ErrHeaderValue, "Content-Length", true},
		{"body shorter than content-length", crlf("MRCP/2.0 LEN SPEAK 1\nContent-Length: 10\n\nabc"), 404, ErrMessageLength, "Content-Length", true},
		{"no colon", crlf("MRCP/2.0 LEN SPEAK 1\nVoice-Name default\n\n"), 404, ErrMalformed, "", true},
		{"no empty line", crlf("MRCP/2.0 LEN SPEAK 1\nVoice-Name: default\n"), 408, ErrMalformed, "", false},
		{"too few elements", crlf("MRCP/2.0 LEN SPEAK\n\n"), 408, ErrMalformed, "start-line", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(withLength(tt.in)))
			var se *StatusError
			if !errors.As(err, &se) {
				t.Fatalf("want *StatusError, got %v", err)
			}
			if se.Status() != tt.code || !errors.Is(err, tt.sent) || se.Header != tt.header {
				t.Errorf("got %d %q (%v), want %d %q %v", se.Code, se.Header, err, tt.code, tt.header, tt.sent)
			}
			if (se.Message != nil) != tt.framed {
				t.Errorf("Message attached = %v, want %v", se.Message != nil, tt.framed)
			}
		})
	}
}

func TestParseFoldedAndSpacing(t *testing.T) {
	in := withLength(crlf("MRCP/2.0 LEN SET-PARAMS 3\nChannel-Identifier:  a@speechsynth \nVendor-Specific-Parameters: a=1;\n\tb=2\n\n"))
	m, err := Parse([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if got := m.ChannelID(); got != "a@speechsynth" {
		t.Errorf("ChannelID = %q", got)
	}
	if got := m.Header.Value("vendor-specific-parameters"); got != "a=1; b=2" {
		t.Errorf("folded value = %q", got)
	}
}

func TestAppendMessageLength(t *testing.T) {
	// Lengths around digit-count boundaries, where the fixed point matters (§5.1).
	for bodyLen := 0; bodyLen < 1200; bodyLen++ {
		m := NewRequest(MethodSpeak, 1, "a@speechsynth")
		m.Body = bytes.Repeat([]byte("x"), bodyLen)
		if bodyLen > 0 {
			m.Header.Add(HeaderContentType, "text/plain")
		}
		b := m.Append(nil)
		back, err := Parse(b)
		if err != nil {
			t.Fatalf("body %d: %v\n%q", bodyLen, err, b)
		}
		if !bytes.Equal(back.Body, m.Body) {
			t.Fatalf("body %d differs", bodyLen)
		}
	}
}

func TestAppendContentLengthAndInjection(t *testing.T) {
	m := NewEvent(EventRecognitionComplete, 9, StateComplete, "x@speechrecog")
	m.Header.Set(HeaderCompletionCause, RecogNoMatch.String())
	m.Header.Set(HeaderCompletionReason, "bad\r\nInjected: yes")
	m.Header.Set(HeaderContentLength, "999")
	m.Body = []byte("<result/>")
	got := string(m.Append([]byte("prefix")))
	want := withLength(crlf("MRCP/2.0 LEN RECOGNITION-COMPLETE 9 COMPLETE\nChannel-Identifier: x@speechrecog\nCompletion-Cause: 001 no-match\nCompletion-Reason: bad  Injected: yes\nContent-Length: 9\n\n<result/>"))
	if got != "prefix"+want {
		t.Errorf("got\n%q\nwant\n%q", got, want)
	}
	// Without a Content-Length field one is added for a body.
	r := NewRequest(MethodSpeak, 1, "a@speechsynth")
	r.Body = []byte("hi")
	if !strings.Contains(r.String(), "\r\nContent-Length: 2\r\n\r\nhi") {
		t.Errorf("no Content-Length added: %q", r.String())
	}
}

func TestNewResponse(t *testing.T) {
	req := NewRequest(MethodRecognize, 42, "abc@speechrecog")
	resp := req.NewResponse(Status200, StateInProgress)
	want := withLength(crlf("MRCP/2.0 LEN 42 200 IN-PROGRESS\nChannel-Identifier: abc@speechrecog\n\n"))
	if got := resp.String(); got != want {
		t.Errorf("got %q want %q", got, want)
	}
	if req.Resource() != ResourceSpeechRecog {
		t.Errorf("Resource = %q", req.Resource())
	}
	if _, err := (&Message{}).MarshalBinary(); err == nil {
		t.Error("MarshalBinary of a zero Message succeeded")
	}
}

func TestCauseStrings(t *testing.T) {
	tests := []struct {
		got, want string
	}{
		{RecogSuccess.String(), "000 success"},
		{RecogNoInputTimeout.String(), "002 no-input-timeout"},
		{RecogNoMatchMaxtime.String(), "015 no-match-maxtime"},
		{RecogGrammarDefinitionFailure.String(), "016 grammar-definition-failure"},
		{SynthNormal.String(), "000 normal"},
		{SynthCancelled.String(), "007 cancelled"},
		{RecordSuccessSilence.String(), "000 success-silence"},
		{RecordError.String(), "004 error"},
		{RecogCause(99).String(), "099 unknown"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("got %q want %q", tt.got, tt.want)
		}
	}
}

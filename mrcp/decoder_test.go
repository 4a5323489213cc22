package mrcp

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

func TestDecoderStream(t *testing.T) {
	msgs := []string{
		withLength(crlf("MRCP/2.0 LEN RECOGNIZE 1\nChannel-Identifier: a@speechrecog\nContent-Type: text/uri-list\nContent-Length: 23\n\nbuiltin:grammar/boolean")),
		withLength(crlf("MRCP/2.0 LEN STOP 2\nChannel-Identifier: a@speechrecog\n\n")),
		// bare LF start line and header, as some clients send
		withLength("MRCP/2.0 LEN SPEAK 3\nChannel-Identifier: b@speechsynth\nContent-Length: 4\n\nhi\r\n"),
		// no Content-Length: the body is what message-length leaves
		withLength(crlf("MRCP/2.0 LEN SPEAK 4\nChannel-Identifier: b@speechsynth\n\nbody")),
	}
	stream := []byte(strings.Join(msgs, "") + "\r\n" + msgs[1])
	want := append(append([]string{}, msgs...), msgs[1])
	readers := map[string]func() io.Reader{
		"one read":     func() io.Reader { return bytes.NewReader(stream) },
		"byte by byte": func() io.Reader { return iotest.OneByteReader(bytes.NewReader(stream)) },
		"half reads":   func() io.Reader { return iotest.HalfReader(bytes.NewReader(stream)) },
		"data+EOF":     func() io.Reader { return iotest.DataErrReader(bytes.NewReader(stream)) },
	}
	for name, r := range readers {
		t.Run(name, func(t *testing.T) {
			d := NewDecoder(r(), 200) // smaller than the stream: the buffer must be reused
			for i, w := range want {
				m, err := d.Decode()
				if err != nil {
					t.Fatalf("message %d: %v", i, err)
				}
				if i == 2 || i == 3 {
					// Bare-LF header and missing Content-Length are normalised on output.
					if wantBody := []string{"hi\r\n", "body"}[i-2]; string(m.Body) != wantBody {
						t.Errorf("message %d body %q want %q", i, m.Body, wantBody)
					}
					continue
				}
				if got := m.Append(nil); !bytes.Equal(got, []byte(w)) {
					t.Errorf("message %d:\n%q\nwant\n%q", i, got, w)
				}
			}
			if _, err := d.Decode(); err != io.EOF {
				t.Errorf("at end: %v, want io.EOF", err)
			}
		})
	}
}

func TestDecoderErrors(t *testing.T) {
	good := withLength(crlf("MRCP/2.0 LEN STOP 9\nChannel-Identifier: a@speechrecog\n\n"))
	tests := []struct {
		name  string
		in    string
		max   int
		code  int
		fatal bool
		sent  error
		next  bool // the good message after it is still decoded
	}{
		{"too large by length", "MRCP/2.0 5000 SPEAK 1\r\nContent-Length: 4900\r\n\r\n", 1000, 504, true, ErrMessageTooLarge, false},
		{"too large header", "MRCP/2.0 50 SPEAK 1\r\nX: " + strings.Repeat("y", 2000), 1000, 504, true, ErrMessageTooLarge, false},
		{"garbage", "GET / HTTP/1.1\r\nHost: x\r\n\r\n", 1000, 408, true, ErrMalformed, false},
		{"bad version", withLength(crlf("MRCP/3.0 LEN STOP 1\nChannel-Identifier: a@speechrecog\n\n")), 1000, 502, false, ErrVersion, true},
		{"length shorter than header", crlf("MRCP/2.0 10 STOP 1\nChannel-Identifier: a@speechrecog\n\n"), 1000, 404, false, ErrMessageLength, true},
		{"bad length with body", crlf("MRCP/2.0 10 SPEAK 1\nContent-Length: 3\n\nabc"), 1000, 404, false, ErrMessageLength, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := NewDecoder(iotest.HalfReader(strings.NewReader(tt.in+good)), tt.max)
			_, err := d.Decode()
			var se *StatusError
			if !errors.As(err, &se) {
				t.Fatalf("want *StatusError, got %v", err)
			}
			if se.Code != tt.code || se.Fatal() != tt.fatal || !errors.Is(err, tt.sent) {
				t.Errorf("got %v fatal=%v", err, se.Fatal())
			}
			if tt.code == 504 && !strings.Contains(err.Error(), "1000 bytes") {
				t.Errorf("error does not name the limit: %v", err)
			}
			m, err := d.Decode()
			if tt.next {
				if err != nil || m.RequestID != 9 {
					t.Errorf("next message: %v %v", m, err)
				}
			} else if err == nil {
				t.Errorf("decoded after a fatal error: %v", m)
			}
		})
	}
}

// Bytes without a line end are refused once they pass the start-line bound, long before the
// message size limit, without waiting for more (issue 12, item 4).
func TestDecoderStartLineBound(t *testing.T) {
	r := io.MultiReader(strings.NewReader(strings.Repeat("\x17", 3*MaxStartLine)), blockingReader{})
	_, err := NewDecoder(r, 1<<20).Decode()
	var se *StatusError
	if !errors.As(err, &se) || se.Code != Status408 || !se.Fatal() || !errors.Is(err, ErrMalformed) {
		t.Fatalf("got %v, want fatal 408", err)
	}
}

// blockingReader is a peer that sends nothing more: a read would wait forever.
type blockingReader struct{}

func (blockingReader) Read([]byte) (int, error) { select {} }

func TestDecoderUnexpectedEOF(t *testing.T) {
	d := NewDecoder(strings.NewReader("MRCP/2.0 90 SPEAK 1\r\nContent-Length: 40\r\n\r\nabc"), 0)
	if _, err := d.Decode(); err != io.ErrUnexpectedEOF {
		t.Errorf("got %v, want io.ErrUnexpectedEOF", err)
	}
}

// TestDecoderReusesBuffer checks the decoder allocates per message, not per byte or per read.
func TestDecoderReusesBuffer(t *testing.T) {
	msg := withLength(crlf("MRCP/2.0 LEN STOP 9\nChannel-Identifier: a@speechrecog\n\n"))
	stream := []byte(strings.Repeat(msg, 100))
	allocs := testing.AllocsPerRun(5, func() {
		d := NewDecoder(iotest.OneByteReader(bytes.NewReader(stream)), 0)
		for {
			if _, err := d.Decode(); err != nil {
				break
			}
		}
	})
	// Per message: the Message and the header string; plus the decoder and its buffer.
	if allocs > 2*100+10 {
		t.Errorf("%v allocations for 100 messages read byte by byte", allocs)
	}
}

// timeoutReader fails its first read with a transient error, then serves the data.
type timeoutReader struct {
	failed bool
	r      io.Reader
}

var errTransient = errors.New("i/o timeout")

func (t *timeoutReader) Read(p []byte) (int, error) {
	if !t.failed {
		t.failed = true
		return 0, errTransient
	}
	return t.r.Read(p)
}

func TestDecoderTransientReadError(t *testing.T) {
	msg := withLength(crlf("MRCP/2.0 LEN STOP 9\nChannel-Identifier: a@speechrecog\n\n"))
	d := NewDecoder(&timeoutReader{r: strings.NewReader(msg)}, 0)
	if _, err := d.Decode(); err != errTransient {
		t.Fatalf("first Decode: %v", err)
	}
	if m, err := d.Decode(); err != nil || m.RequestID != 9 {
		t.Fatalf("after a transient error: %v %v", m, err)
	}
}

func TestDecoderSizeBoundary(t *testing.T) {
	msg := withLength(crlf("MRCP/2.0 LEN SPEAK 1\nChannel-Identifier: a@speechsynth\nContent-Length: 100\n\n") + strings.Repeat("x", 100))
	for _, tt := range []struct {
		max int
		ok  bool
	}{{len(msg), true}, {len(msg) - 1, false}} {
		d := NewDecoder(iotest.HalfReader(strings.NewReader(msg)), tt.max)
		_, err := d.Decode()
		if tt.ok != (err == nil) {
			t.Errorf("max %d for a %d-byte message: %v", tt.max, len(msg), err)
		}
		if !tt.ok && !errors.Is(err, ErrMessageTooLarge) {
			t.Errorf("max %d: %v, want ErrMessageTooLarge", tt.max, err)
		}
	}
}

// TestDecoderBufferFitsRequests: a connection's buffer, which it keeps while idle, stays at 512
// bytes through a stream of RECOGNIZE-sized requests and grows only for a larger one.
func TestDecoderBufferFitsRequests(t *testing.T) {
	recognize := withLength(crlf("MRCP/2.0 LEN RECOGNIZE 1\nChannel-Identifier: a@speechrecog\n" +
		"Content-Type: text/uri-list\nNo-Input-Timeout: 5000\nRecognition-Timeout: 10000\n" +
		"Start-Input-Timers: true\nContent-Length: 28\n\nbuiltin:dtmf/digits?length=4"))
	big := withLength(crlf("MRCP/2.0 LEN DEFINE-GRAMMAR 2\nChannel-Identifier: a@speechrecog\n" +
		"Content-Type: application/srgs\nContent-Length: 2000\n\n" + strings.Repeat("x", 2000)))
	d := NewDecoder(bytes.NewReader([]byte(strings.Repeat(recognize, 20)+big)), 0)
	for i := 0; i < 20; i++ {
		if _, err := d.Decode(); err != nil {
			t.Fatal(err)
		}
		if len(d.buf) > 512 {
			t.Fatalf("after request %d the buffer holds %d bytes, want 512", i+1, len(d.buf))
		}
	}
	m, err := d.Decode()
	if err != nil || len(m.Body) != 2000 {
		t.Fatalf("large request: %v, body %d bytes", err, len(m.Body))
	}
}

package server

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/mrcpd/mrcpd/mrcp"
	"github.com/mrcpd/mrcpd/mrcp/nlsml"
	"github.com/mrcpd/mrcpd/mrcp/sip"
)

const (
	modRecogInvite = "freeswitch-mod_unimrcp/01-INVITE-recog.sip"
	modSynthInvite = "freeswitch-mod_unimrcp/05-INVITE-synth.sip"
	umcRecogInvite = "unimrcp-client-1.8/01-INVITE-recog.sip"
	server18       = "unimrcp-server-1.8/"
)

// mod_unimrcp's RECOGNIZE with Start-Input-Timers false, then STOP on hangup (fixtures 09, 10):
// 200 IN-PROGRESS, then 200 COMPLETE naming the stopped request and no RECOGNITION-COMPLETE.
func TestGoldenRecognizeThenStop(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.Backends.Recognizer = &holdRecognizer{} })
	ids, _ := h.offer("call-1", sdpBody(t, modRecogInvite))
	cl := h.dial()
	cl.sendFixture("freeswitch-mod_unimrcp/09-RECOGNIZE-start-input-timers-false.mrcp", ids[0])
	expect(t, cl.next(), wantFixture(t, server18+"recog-200-IN-PROGRESS.mrcp", ids[0]))
	h.clock.Advance(time.Minute) // timers are not started: nothing may fire
	cl.sendFixture("freeswitch-mod_unimrcp/10-STOP-on-hangup.mrcp", ids[0])
	expect(t, cl.next(), wantFixture(t, server18+"STOP-200-COMPLETE-active-request-id-list.mrcp", ids[0]))
	cl.send(mrcp.NewRequest(mrcp.MethodGetParams, 3, ids[0]))
	if m := cl.next(); m.Kind != mrcp.KindResponse || m.RequestID != 3 {
		t.Fatalf("after STOP got %s %s %d, want the GET-PARAMS response", m.Kind, m.Name, m.RequestID)
	}
}

// DEFINE-GRAMMAR (UniMRCP client 03, mod_unimrcp 07) is answered like the UniMRCP server, and the
// grammar is then usable as session:<Content-Id>.
func TestGoldenDefineGrammar(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.Backends.Recognizer = &holdRecognizer{text: "billing"} })
	ids, _ := h.offer("call-1", sdpBody(t, umcRecogInvite))
	cl := h.dial()
	cl.sendFixture("unimrcp-client-1.8/03-DEFINE-GRAMMAR-srgs.mrcp", ids[0])
	expect(t, cl.next(), wantFixture(t, server18+"DEFINE-GRAMMAR-200-COMPLETE.mrcp", ids[0]))
	cl.sendFixture("unimrcp-client-1.8/04-RECOGNIZE-session-uri.mrcp", ids[0])
	m := cl.next()
	if m.StatusCode != 200 || m.State != mrcp.StateInProgress {
		t.Fatalf("RECOGNIZE session: got %d %s", m.StatusCode, m.State)
	}
}

func dtmfRecognize(id uint32, channel, uri string, hdr ...string) *mrcp.Message {
	m := mrcp.NewRequest(mrcp.MethodRecognize, id, channel)
	for i := 0; i+1 < len(hdr); i += 2 {
		m.Header.Set(hdr[i], hdr[i+1])
	}
	m.Header.Set(mrcp.HeaderContentType, "text/uri-list")
	m.Body = []byte(uri)
	return m
}

func TestDTMFRecognition(t *testing.T) {
	tests := []struct {
		name    string
		uri     string
		hdr     []string
		keys    string
		advance time.Duration
		cause   string
		input   string
	}{
		{"four digits", "builtin:dtmf/digits?length=4", nil, "1234", 0, "000 success", "1234"},
		{"term char ends", "builtin:dtmf/digits?minlength=1;maxlength=8", []string{mrcp.HeaderDTMFTermChar, "#"}, "42#", 0, "000 success", "42"},
		{"term timeout", "builtin:dtmf/digits?minlength=1;maxlength=8", []string{mrcp.HeaderDTMFTermTimeout, "2000"}, "77", 2 * time.Second, "000 success", "77"},
		{"interdigit timeout", "builtin:dtmf/digits?length=4", []string{mrcp.HeaderDTMFInterdigitTimeout, "3000"}, "12", 3 * time.Second, "013 partial-match", ""},
		{"no input", "builtin:dtmf/digits?length=4", []string{mrcp.HeaderNoInputTimeout, "1000"}, "", time.Second, "002 no-input-timeout", ""},
		{"no match", "builtin:dtmf/boolean", nil, "5", 0, "001 no-match", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, nil)
			ids, _ := h.offer("call-1", sdpBody(t, modRecogInvite))
			cl := h.dial()
			cl.send(dtmfRecognize(1, ids[0], tt.uri, tt.hdr...))
			if m := cl.next(); m.StatusCode != 200 || m.State != mrcp.StateInProgress {
				t.Fatalf("RECOGNIZE: %d %s", m.StatusCode, m.State)
			}
			sink := h.media.receiver(t, 0)
			for _, k := range tt.keys {
				sink.DTMF(k)
			}
			if tt.keys != "" {
				if m := cl.next(); m.Name != mrcp.EventStartOfInput {
					t.Fatalf("want START-OF-INPUT, got %s %s", m.Name, m.Header.Value(mrcp.HeaderCompletionCause))
				}
			}
			if tt.advance > 0 {
				// The session must have seen the keys before time moves.
				cl.send(mrcp.NewRequest(mrcp.MethodGetParams, 2, ids[0]))
				cl.next()
				h.clock.Advance(tt.advance)
			}
			m := cl.next()
			if m.Name != mrcp.EventRecognitionComplete || m.RequestID != 1 || m.State != mrcp.StateComplete {
				t.Fatalf("got %s %d %s", m.Name, m.RequestID, m.State)
			}
			if c := m.Header.Value(mrcp.HeaderCompletionCause); c != tt.cause {
				t.Fatalf("Completion-Cause %q, want %q", c, tt.cause)
			}
			if tt.input != "" {
				body := string(m.Body)
				res, err := nlsml.Parse(m.Body)
				if err != nil || len(res.Interpretations) != 1 {
					t.Fatalf("NLSML %v:\n%s", err, body)
				}
				if in := res.Interpretations[0]; in.Mode != "dtmf" || nlsml.DTMFDigits(in.Input) != tt.input {
					t.Fatalf("NLSML input %q mode %q, want dtmf %s:\n%s", in.Input, in.Mode, tt.input, body)
				}
				if m.Header.Value(mrcp.HeaderContentType) != "application/x-nlsml" {
					t.Fatalf("Content-Type %q", m.Header.Value(mrcp.HeaderContentType))
				}
				cl.send(mrcp.NewRequest(mrcp.MethodGetResult, 9, ids[0]))
				if r := cl.next(); r.StatusCode != 200 || string(r.Body) != body {
					t.Fatalf("GET-RESULT: %d %q", r.StatusCode, r.Body)
				}
			}
		})
	}
}

// mod_unimrcp's SPEAK (06): IN-PROGRESS, then SPEAK-COMPLETE like the UniMRCP server's.
func TestGoldenSpeak(t *testing.T) {
	synth := &toneSynth{chunks: 5}
	h := newHarness(t, func(c *Config) { c.Backends.Synthesizer = synth })
	ids, _ := h.offer("call-1", sdpBody(t, modSynthInvite))
	cl := h.dial()
	cl.sendFixture("freeswitch-mod_unimrcp/06-SPEAK-text.mrcp", ids[0])
	if m := cl.next(); m.StatusCode != 200 || m.State != mrcp.StateInProgress {
		t.Fatalf("SPEAK: %d %s", m.StatusCode, m.State)
	}
	waitTimers(t, h.clock, 2) // connect timer and the one-ptime wait after the last packet
	h.clock.Advance(20 * time.Millisecond)
	expect(t, cl.next(), wantFixture(t, server18+"SPEAK-COMPLETE.mrcp", ids[0]))
	tx := h.media.sender(0)
	tx.mu.Lock()
	written := tx.written
	tx.mu.Unlock()
	if written != 5*160 {
		t.Fatalf("sender got %d samples, want %d", written, 5*160)
	}
}

// Every bad input gets its RFC 6787 §5.4 answer; a second session on another connection carries on.
func TestBadInput(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.Backends.Recognizer = &holdRecognizer{} })
	ids, _ := h.offer("call-1", sdpBody(t, modRecogInvite))
	other, _ := h.offer("call-2", sdpBody(t, modRecogInvite))
	cl := h.dial()
	ok := h.dial()
	ok.send(dtmfRecognize(1, other[0], "builtin:dtmf/digits?length=2"))
	ok.next()

	req := func(method string, id uint32, ch string, hdr ...string) *mrcp.Message {
		m := mrcp.NewRequest(method, id, ch)
		for i := 0; i+1 < len(hdr); i += 2 {
			m.Header.Set(hdr[i], hdr[i+1])
		}
		return m
	}
	tests := []struct {
		name   string
		m      *mrcp.Message
		status int
		header string
	}{
		{"unknown channel", req(mrcp.MethodGetParams, 1, "0123456789abcdef@speechrecog"), 405, ""},
		{"method of another resource", req(mrcp.MethodSpeak, 2, ids[0]), 401, ""},
		{"header of another resource", req(mrcp.MethodSetParams, 3, ids[0], mrcp.HeaderVoiceName, "x"), 403, mrcp.HeaderVoiceName},
		{"bad boolean", req(mrcp.MethodSetParams, 4, ids[0], mrcp.HeaderStartInputTimers, "maybe"), 404, mrcp.HeaderStartInputTimers},
		{"bad timeout", dtmfRecognize(5, ids[0], "builtin:dtmf/digits", mrcp.HeaderNoInputTimeout, "-3"), 404, mrcp.HeaderNoInputTimeout},
		{"GET-RESULT without result", req(mrcp.MethodGetResult, 6, ids[0]), 402, ""},
		{"request-id going back", req(mrcp.MethodGetParams, 2, ids[0]), 410, ""},
		{"unknown grammar", dtmfRecognize(7, ids[0], "session:nope"), 407, ""},
		{"bad confidence", req(mrcp.MethodSetParams, 8, ids[0], mrcp.HeaderConfidenceThreshold, "7"), 404, mrcp.HeaderConfidenceThreshold},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cl.send(tt.m)
			m := cl.next()
			if m.Kind != mrcp.KindResponse || m.StatusCode != tt.status || m.RequestID != tt.m.RequestID {
				t.Fatalf("got %s %d %d, want response %d to %d", m.Kind, m.RequestID, m.StatusCode, tt.status, tt.m.RequestID)
			}
			if tt.header != "" {
				if _, ok := m.Header.Get(tt.header); !ok {
					t.Fatalf("response does not name %s: %v", tt.header, m.Header.Fields)
				}
			}
		})
	}
	t.Run("missing Channel-Identifier", func(t *testing.T) {
		cl.write([]byte("MRCP/2.0 48 GET-PARAMS 20\r\nContent-Length: 0\r\n\r\n"))
		if m := cl.next(); m.StatusCode != 406 || m.RequestID != 20 {
			t.Fatalf("got %d %d", m.StatusCode, m.RequestID)
		}
	})
	t.Run("wrong state", func(t *testing.T) {
		cl.send(dtmfRecognize(30, ids[0], "builtin:dtmf/digits?length=4"))
		cl.next()
		cl.send(dtmfRecognize(31, ids[0], "builtin:dtmf/digits?length=4"))
		if m := cl.next(); m.StatusCode != 402 {
			t.Fatalf("second RECOGNIZE: %d", m.StatusCode)
		}
	})
	t.Run("oversize message closes", func(t *testing.T) {
		c2 := h.dial()
		big := mrcp.NewRequest(mrcp.MethodSetParams, 1, ids[0])
		big.Header.Set(mrcp.HeaderLoggingTag, strings.Repeat("x", 5000))
		c2.send(big)
		if m := c2.next(); m.StatusCode != 504 {
			t.Fatalf("oversize: %d", m.StatusCode)
		}
		c2.closed()
	})
	t.Run("garbage closes", func(t *testing.T) {
		c3 := h.dial()
		c3.write([]byte("HELLO THERE\r\n\r\n"))
		m := c3.next()
		if m.Kind != mrcp.KindResponse || m.StatusCode < 400 {
			t.Fatalf("garbage: %s %d", m.Kind, m.StatusCode)
		}
		c3.closed()
	})
	// The other session still works.
	sink := h.media.receiver(t, 1)
	sink.DTMF('4')
	sink.DTMF('2')
	if m := ok.next(); m.Name != mrcp.EventStartOfInput {
		t.Fatalf("other session: %s", m.Name)
	}
	if m := ok.next(); m.Header.Value(mrcp.HeaderCompletionCause) != "000 success" {
		t.Fatalf("other session: %s %s", m.Name, m.Header.Value(mrcp.HeaderCompletionCause))
	}
}

func TestSessionEnds(t *testing.T) {
	t.Run("never connects", func(t *testing.T) {
		h := newHarness(t, nil)
		h.offer("call-1", sdpBody(t, modRecogInvite))
		waitSessions(t, h, 1)
		waitTimers(t, h.clock, 1)
		h.clock.Advance(10 * time.Second)
		if id := <-h.hangup.byes; id != "call-1" {
			t.Fatalf("BYE for %s", id)
		}
		waitSessions(t, h, 0)
	})
	t.Run("connection lost", func(t *testing.T) {
		h := newHarness(t, nil)
		ids, _ := h.offer("call-1", sdpBody(t, modRecogInvite))
		cl := h.dial()
		cl.send(mrcp.NewRequest(mrcp.MethodGetParams, 1, ids[0]))
		cl.next()
		cl.c.Close()
		waitTimers(t, h.clock, 2) // connect timer, then the grace period
		h.clock.Advance(connLossGrace)
		if id := <-h.hangup.byes; id != "call-1" {
			t.Fatalf("BYE for %s", id)
		}
		waitSessions(t, h, 0)
	})
	t.Run("BYE from client", func(t *testing.T) {
		h := newHarness(t, nil)
		ids, _ := h.offer("call-1", sdpBody(t, modRecogInvite))
		cl := h.dial()
		cl.send(mrcp.NewRequest(mrcp.MethodGetParams, 1, ids[0]))
		cl.next()
		h.srv.Ended("call-1", "BYE")
		waitSessions(t, h, 0)
		cl.send(mrcp.NewRequest(mrcp.MethodGetParams, 2, ids[0]))
		if m := cl.next(); m.StatusCode != 405 {
			t.Fatalf("after BYE: %d", m.StatusCode)
		}
		select {
		case id := <-h.hangup.byes:
			t.Fatalf("server sent BYE for %s after the client's BYE", id)
		default:
		}
	})
	t.Run("re-INVITE removes channel", func(t *testing.T) {
		h := newHarness(t, nil)
		body := sdpBody(t, modRecogInvite)
		ids, _ := h.offer("call-1", body)
		re := strings.Replace(string(body), "m=application 9 ", "m=application 0 ", 1)
		ans, err := h.srv.Offer(context.Background(), &sip.Call{CallID: "call-1", Remote: "127.0.0.1:5092"}, []byte(re), true)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(ans), "m=application 0 ") {
			t.Fatalf("answer keeps the channel:\n%s", ans)
		}
		cl := h.dial()
		cl.send(mrcp.NewRequest(mrcp.MethodGetParams, 1, ids[0]))
		if m := cl.next(); m.StatusCode != 405 {
			t.Fatalf("removed channel: %d", m.StatusCode)
		}
	})
}

func TestOfferErrors(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.MaxSessions = 1 })
	body := string(sdpBody(t, modRecogInvite))
	tests := []struct {
		name string
		sdp  string
		code int
	}{
		{"unknown resource", strings.Replace(body, "speechrecog", "speakfreely", 1), 404},
		{"not SDP", "hello", 488},
		{"no common codec", strings.NewReplacer("RTP/AVP 0 8 96 101", "RTP/AVP 96", "a=rtpmap:96 L16/8000", "a=rtpmap:96 opus/48000/2").Replace(body), 488},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := h.srv.Offer(context.Background(), &sip.Call{CallID: tt.name, Remote: "127.0.0.1:5092"}, []byte(tt.sdp), false)
			var sc interface{ SIPStatus() int }
			if !errors.As(err, &sc) || sc.SIPStatus() != tt.code {
				t.Fatalf("got %v, want SIP %d", err, tt.code)
			}
		})
	}
	h.offer("first", []byte(body))
	_, err := h.srv.Offer(context.Background(), &sip.Call{CallID: "second", Remote: "127.0.0.1:5092"}, []byte(body), false)
	var sc interface{ SIPStatus() int }
	if !errors.As(err, &sc) || sc.SIPStatus() != 503 {
		t.Fatalf("at capacity: %v", err)
	}
}

func waitSessions(t *testing.T, h *harness, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for h.srv.Sessions() != n {
		if time.Now().After(deadline) {
			t.Fatalf("%d sessions, want %d", h.srv.Sessions(), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

package sip

import (
	"bytes"
	"log/slog"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/mrcpd/mrcpd/asr/testkit"
)

// TestInviteMissingHeaders: an INVITE without Call-ID, From or To is malformed (RFC 3261 §8.1.1)
// and gets 400 naming the header, never an answer.
func TestInviteMissingHeaders(t *testing.T) {
	for _, name := range []string{"Call-ID", "From", "To"} {
		t.Run(name, func(t *testing.T) {
			h := newFakeHandler()
			s := startServer(t, Config{}, h)
			p := newPeer(t, s, "udp")
			msg := regexp.MustCompile(`(?m)^`+name+`: [^\r]*\r\n`).ReplaceAllString(p.fixture(recogInvite), "")
			p.send(msg)
			res := p.expect(400)
			if w := header(res, "Warning"); !strings.Contains(w, name) {
				t.Errorf("Warning %q does not name %s", w, name)
			}
			if calls := h.offerCalls(); len(calls) != 0 {
				t.Errorf("Offer called for a malformed INVITE: %+v", calls)
			}
		})
	}
}

// TestRequireUnknownExtension: RFC 3261 §8.2.2.3, an option tag we do not support in Require
// gets 420 with Unsupported listing it; Require: timer (RFC 4028) is ours.
func TestRequireUnknownExtension(t *testing.T) {
	h := newFakeHandler()
	s := startServer(t, Config{}, h)
	p := newPeer(t, s, "udp")
	msg := strings.Replace(p.fixture(recogInvite), "Supported: timer, 100rel\r\n", "Supported: timer, 100rel\r\nRequire: timer, foo-ext,bar\r\n", 1)
	p.send(msg)
	res := p.expect(420)
	if got := header(res, "Unsupported"); got != "foo-ext, bar" {
		t.Errorf("Unsupported %q, want \"foo-ext, bar\"", got)
	}
	if calls := h.offerCalls(); len(calls) != 0 {
		t.Errorf("Offer called: %+v", calls)
	}
	msg = strings.NewReplacer("Supported: timer, 100rel\r\n", "Supported: timer, 100rel\r\nRequire: timer\r\n",
		recogCallID, "require-timer", "z9hG4bK96HBFDDmNpceB", "z9hG4bKreq2").Replace(p.fixture(recogInvite))
	p.send(msg)
	p.expect(200)
}

// TestReinviteLowerCSeq: an in-dialog request whose CSeq is not above the last one is out of
// order and gets 500 (RFC 3261 §12.2.2) without reaching the Handler.
func TestReinviteLowerCSeq(t *testing.T) {
	h := newFakeHandler()
	s := startServer(t, Config{}, h)
	p := newPeer(t, s, "udp")
	ok := p.establish()
	p.send(p.reinvite(ok, "123102905", "low"))
	p.expect(500)
	if n := len(h.offerCalls()); n != 1 {
		t.Fatalf("%d Offer calls, want only the INVITE's", n)
	}
	// A later re-INVITE still works, and then its CSeq is the floor.
	p.send(p.reinvite(ok, "123102910", "high"))
	ok2 := p.expect(200)
	p.send(p.ackFor(ok2, "ack2"))
	p.send(p.reinvite(ok, "123102908", "low2"))
	p.expect(500)
	if n := len(h.offerCalls()); n != 2 {
		t.Fatalf("%d Offer calls, want 2", n)
	}
}

// TestCancelRacingAnswer: a CANCEL that arrives after the Handler answered but before the 200
// left must not produce 487 and then a 200 for the same INVITE (RFC 3261 §9.2: the 487 ends
// the transaction). The server's lock holds the answer at its dialog registration while the
// CANCEL goes through; sipgo's Timer G (T1 = 500 ms) would then retransmit whatever final
// response the transaction last saw.
func TestCancelRacingAnswer(t *testing.T) {
	h := newFakeHandler()
	h.hold = make(chan struct{})
	s := startServer(t, Config{}, h)
	p := newPeer(t, s, "udp")
	invite := p.fixture(recogInvite)
	p.send(invite)
	<-h.entered
	s.mu.Lock()
	close(h.hold)
	func() {
		defer func() {
			if t.Failed() {
				s.mu.Unlock() // the server's cleanup needs it
			}
		}()
		testkit.Eventually(t, "the answer blocked in the dialog registration", func() bool { return inStack("sip.(*Server).register") })
	}()
	cancel, _, _ := strings.Cut(strings.NewReplacer("INVITE sip:", "CANCEL sip:", "CSeq: 123102906 INVITE", "CSeq: 123102906 CANCEL").Replace(invite), "\r\n\r\n")
	p.send(cancel + "\r\n\r\n")
	got := map[string]bool{}
	for !got["487"] {
		m, err := p.recv(5 * time.Second)
		if err != nil {
			s.mu.Unlock()
			t.Fatalf("waiting for 487: %v", err)
		}
		if res, ok := m.(*sip.Response); ok {
			got[strings.Fields(res.StartLine())[1]] = true
		}
	}
	s.mu.Unlock()
	deadline := time.Now().Add(1500 * time.Millisecond) // three Timer G periods
	for time.Now().Before(deadline) {
		m, err := p.recv(time.Until(deadline))
		if err != nil {
			break
		}
		if res, ok := m.(*sip.Response); ok && res.StatusCode == 200 && res.CSeq().MethodName == sip.INVITE {
			t.Fatalf("200 OK for the INVITE after its 487:\n%s", res)
		}
	}
	if e := h.waitEnded(t); e != (endedCall{recogCallID, "cancelled"}) {
		t.Errorf("Ended %+v, want cancelled", e)
	}
}

// A CANCEL handled before its INVITE (sipgo handles each datagram on its own goroutine, so one
// sent right behind the INVITE can overtake it) got 481 and the INVITE then got 200 for a call its
// client had abandoned: 15% of the CANCELs in TestE2EChurn. Sent in that order on purpose,
// the INVITE is now answered 487 and no offer is made.
func TestCancelHandledBeforeInvite(t *testing.T) {
	h := newFakeHandler()
	s := startServer(t, Config{}, h)
	p := newPeer(t, s, "udp")
	invite := p.fixture(recogInvite)
	cancel, _, _ := strings.Cut(strings.NewReplacer("INVITE sip:", "CANCEL sip:", "CSeq: 123102906 INVITE", "CSeq: 123102906 CANCEL").Replace(invite), "\r\n\r\n")
	next := func() *sip.Response {
		for {
			m, err := p.recv(5 * time.Second)
			if err != nil {
				t.Fatal(err)
			}
			if res, ok := m.(*sip.Response); ok && res.StatusCode >= 200 {
				return res
			}
		}
	}
	p.send(cancel + "\r\n\r\n")
	if res := next(); res.StatusCode != 481 || res.CSeq().MethodName != sip.CANCEL {
		t.Fatalf("CANCEL with no INVITE yet: %s", res.StartLine())
	}
	p.send(invite)
	if res := next(); res.StatusCode != 487 {
		t.Fatalf("INVITE after its CANCEL: %s", res.StartLine())
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.offers) != 0 {
		t.Fatalf("the cancelled INVITE's offer was handled: %d", len(h.offers))
	}
}

// inStack reports whether a goroutine is in fn.
func inStack(fn string) bool {
	buf := make([]byte, 1<<20)
	return bytes.Contains(buf[:runtime.Stack(buf, true)], []byte(fn))
}

// TestParseFailureLog: a flood of unparsable datagrams is logged as bounded excerpts, a few at
// a time, not each whole message at ERROR (sipgo logs the raw bytes of every failure).
func TestParseFailureLog(t *testing.T) {
	var logs syncBuffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	s := startServerLog(t, Config{}, newFakeHandler(), log)
	p := newPeer(t, s, "udp")
	junk := "INVITE sip:x SIP/2.0\r\nVia: " + strings.Repeat("A", 60000) + "\r\n\r\n"
	for range 50 {
		p.send(junk)
	}
	// An OPTIONS answered after the flood shows the datagrams before it were all read.
	p.send("OPTIONS sip:" + p.server + " SIP/2.0\r\nVia: SIP/2.0/UDP " + p.conn.LocalAddr().String() +
		";branch=z9hG4bKopt\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:c@d>\r\nCall-ID: opt\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n")
	p.expect(200)
	out := logs.String()
	if strings.Contains(out, strings.Repeat("A", 1000)) {
		t.Errorf("a log line carries the raw message (%d bytes of log)", len(out))
	}
	n := strings.Count(out, "sip message unparsable")
	if n == 0 || n > parseLogBurst {
		t.Errorf("%d parse failure lines for 50 bad datagrams, want 1..%d:\n%.2000s", n, parseLogBurst, out)
	}
	if strings.Contains(out, "level=ERROR") {
		t.Errorf("a remote's garbage is logged at ERROR:\n%.2000s", out)
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// TestLogLimiter: a burst, then one more per parseLogEvery, and the count of those left out.
func TestLogLimiter(t *testing.T) {
	l := &logLimiter{tokens: parseLogBurst}
	t0 := time.Unix(1000, 0)
	for i := range parseLogBurst {
		if ok, _ := l.take(t0); !ok {
			t.Fatalf("take %d of the burst refused", i)
		}
	}
	for range 3 {
		if ok, _ := l.take(t0.Add(time.Second)); ok {
			t.Fatal("take past the burst allowed")
		}
	}
	if ok, dropped := l.take(t0.Add(parseLogEvery)); !ok || dropped != 3 {
		t.Fatalf("after %v: ok %v dropped %d, want true 3", parseLogEvery, ok, dropped)
	}
	if ok, _ := l.take(t0.Add(parseLogEvery + time.Second)); ok {
		t.Fatal("a second take within the period allowed")
	}
}

// TestRetryAfterOn503: a Handler's 503 (capacity) tells the client when to retry.
func TestRetryAfterOn503(t *testing.T) {
	h := newFakeHandler()
	h.offerErr = &StatusError{Code: 503, Warning: "at capacity"}
	s := startServer(t, Config{}, h)
	p := newPeer(t, s, "udp")
	res := p.expect2(p.fixture(recogInvite), 503)
	if got := header(res, "Retry-After"); got != retryAfter {
		t.Errorf("Retry-After %q, want %q", got, retryAfter)
	}
}

// TestAnswerTooLargeForUDP: an answer that cannot fit a UDP datagram gets 513 and the session
// is ended (sipgo drops such a 200 and the client heard nothing); over TCP the same offer is
// answered.
func TestAnswerTooLargeForUDP(t *testing.T) {
	for _, transport := range []string{"udp", "tcp"} {
		t.Run(transport, func(t *testing.T) {
			h := newFakeHandler()
			s := startServer(t, Config{}, h)
			p := newPeer(t, s, transport)
			invite := p.fixture(recogInvite)
			head, body, _ := strings.Cut(invite, "\r\n\r\n")
			ctl, audio, _ := strings.Cut(body[strings.Index(body, "m=application"):], "m=audio")
			body = body[:strings.Index(body, "m=application")] + strings.Repeat(ctl, 6) + "m=audio" + audio
			p.send(head + "\r\n\r\n" + body)
			if transport == "tcp" {
				p.expect(200)
				return
			}
			res := p.expect(513)
			if w := header(res, "Warning"); !strings.Contains(w, "TCP") {
				t.Errorf("Warning %q does not point to TCP", w)
			}
			if e := h.waitEnded(t); e.reason != "answer too large" {
				t.Errorf("Ended %+v", e)
			}
		})
	}
}

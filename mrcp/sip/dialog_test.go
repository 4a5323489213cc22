package sip

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
)

// ackFor builds the ACK for a 2xx (new branch, RFC 3261 §13.2.2.4).
func (p *peer) ackFor(ok *sip.Response, branch string) string {
	return "ACK sip:" + p.server + " SIP/2.0\r\nVia: SIP/2.0/" + strings.ToUpper(p.transport) + " " + p.conn.LocalAddr().String() +
		";rport;branch=z9hG4bK" + branch + "\r\nMax-Forwards: 70\r\nFrom: " + header(ok, "From") + "\r\nTo: " + header(ok, "To") +
		"\r\nCall-ID: " + header(ok, "Call-ID") + "\r\nCSeq: " + strings.Replace(header(ok, "CSeq"), "INVITE", "ACK", 1) +
		"\r\nContent-Length: 0\r\n\r\n"
}

// establish runs INVITE / 200 / ACK with mod_unimrcp's INVITE and returns the 200.
func (p *peer) establish() *sip.Response {
	p.t.Helper()
	p.send(p.fixture(recogInvite))
	ok := p.expect(200)
	p.send(p.ackFor(ok, "ack1"))
	return ok
}

// reinvite sends a re-INVITE of the captured offer with edits to the SDP and a new CSeq.
func (p *peer) reinvite(ok *sip.Response, cseq, branch string, edits ...string) string {
	tag := toTag2(ok)
	msg := p.fixture(recogInvite, "To: <sip:"+p.server+">", "To: <sip:"+p.server+">;tag="+tag,
		"CSeq: 123102906", "CSeq: "+cseq, "z9hG4bK96HBFDDmNpceB", "z9hG4bK"+branch)
	return strings.NewReplacer(edits...).Replace(msg)
}

func TestCancelPendingInvite(t *testing.T) {
	h := newFakeHandler()
	h.block = true
	s := startServer(t, Config{}, h)
	p := newPeer(t, s, "udp")
	invite := p.fixture(recogInvite)
	p.send(invite)
	<-h.entered
	cancel := strings.NewReplacer("INVITE sip:", "CANCEL sip:", "CSeq: 123102906 INVITE", "CSeq: 123102906 CANCEL").Replace(invite)
	cancel, _, _ = strings.Cut(cancel, "\r\n\r\n")
	p.send(cancel + "\r\n\r\n")
	got := map[int]string{}
	for len(got) < 2 {
		m, err := p.recv(5 * time.Second)
		if err != nil {
			t.Fatalf("after CANCEL: %v (got %v)", err, got)
		}
		if res, ok := m.(*sip.Response); ok && res.StatusCode != 100 {
			got[res.StatusCode] = string(res.CSeq().MethodName)
		}
	}
	if got[200] != "CANCEL" || got[487] != "INVITE" {
		t.Errorf("responses %v, want 200 for CANCEL and 487 for INVITE", got)
	}
	// The Handler saw its context cancelled; a failed Offer has no dialog to end.
	select {
	case err := <-h.ctxErrs:
		if err != context.Canceled {
			t.Errorf("ctx err %v, want Canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Offer context not cancelled")
	}
}

func TestOfferTimeoutAnswers500(t *testing.T) {
	h := newFakeHandler()
	h.block = true
	s := startServer(t, Config{OfferTimeout: 50 * time.Millisecond}, h)
	p := newPeer(t, s, "tcp")
	p.send(p.fixture(recogInvite))
	res := p.expect(500)
	if w := header(res, "Warning"); !strings.Contains(w, "timed out") {
		t.Errorf("Warning %q", w)
	}
}

// TestAckTimeout: a 2xx is retransmitted over UDP and, without an ACK for 64*T1, the dialog
// ends with a BYE (RFC 3261 §13.3.1.4).
func TestAckTimeout(t *testing.T) {
	h := newFakeHandler()
	s := startServer(t, Config{T1: 10 * time.Millisecond}, h)
	p := newPeer(t, s, "udp")
	p.send(p.fixture(recogInvite))
	oks := 0
	for {
		m, err := p.recv(5 * time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if res, ok := m.(*sip.Response); ok && res.StatusCode == 200 {
			oks++
			continue
		}
		if req, ok := m.(*sip.Request); ok && req.Method == sip.BYE {
			p.reply(req, 200, "OK")
			break
		}
	}
	if oks < 3 {
		t.Errorf("200 sent %d times, want retransmissions", oks)
	}
	if e := h.waitEnded(t); e.reason != "ack timeout" {
		t.Errorf("Ended %+v", e)
	}
}

// TestAckStopsRetransmission: after the ACK no 2xx is resent.
func TestAckStopsRetransmission(t *testing.T) {
	h := newFakeHandler()
	s := startServer(t, Config{T1: 20 * time.Millisecond}, h)
	p := newPeer(t, s, "udp")
	ok := p.establish()
	// Drain retransmissions that crossed the ACK, then expect silence past the ACK timeout.
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) {
		m, err := p.recv(200 * time.Millisecond)
		if err != nil {
			break
		}
		t.Logf("after ACK: %.40s", m.String())
		if req, ok := m.(*sip.Request); ok {
			t.Fatalf("unexpected request after ACK:\n%s", req)
		}
	}
	if err := p.quiet(64 * 20 * time.Millisecond); err != nil {
		t.Fatal(err)
	}
	select {
	case e := <-h.ended:
		t.Fatalf("dialog ended: %+v", e)
	default:
	}
	p.send(p.fixture(recogBye, recogToTag, toTag2(ok)))
	p.expect(200)
	if e := h.waitEnded(t); e.reason != "bye" {
		t.Errorf("Ended %+v", e)
	}
}

// A re-INVITE over UDP tells the Handler how large an answer its 200 can carry (MaxAnswer), so
// that a 513 can leave the session on its previous offer; over TCP there is no limit.
func TestReinviteMaxAnswer(t *testing.T) {
	for _, transport := range []string{"udp", "tcp"} {
		h := newFakeHandler()
		s := startServer(t, Config{}, h)
		p := newPeer(t, s, transport)
		ok := p.establish()
		p.send(p.reinvite(ok, "123102907", "reinv1"))
		p.send(p.ackFor(p.expect(200), "ack2"))
		calls := h.offerCalls()
		if len(calls) != 2 || calls[0].maxAnswer != -1 {
			t.Fatalf("%s: offers %+v", transport, calls)
		}
		got := calls[1].maxAnswer
		if transport == "tcp" && got != -1 || transport == "udp" && (got < 500 || got >= maxUDPMessage) {
			t.Errorf("%s: re-INVITE's MaxAnswer %d", transport, got)
		}
	}
}

func TestReinvite(t *testing.T) {
	h := newFakeHandler()
	s := startServer(t, Config{}, h)
	p := newPeer(t, s, "tcp")
	ok := p.establish()
	// Session refresh with the same SDP (RFC 4028 §7.1).
	p.send(p.reinvite(ok, "123102907", "reinv1"))
	ok2 := p.expect(200)
	if header(ok2, "Session-Expires") != "600;refresher=uac" || !strings.Contains(string(ok2.Body()), "m=application 1544") {
		t.Errorf("refresh answer:\n%s", ok2)
	}
	p.send(p.ackFor(ok2, "ack2"))
	// Removing the channel: m=application 0 (RFC 6787 §4.2).
	p.send(p.reinvite(ok, "123102908", "reinv2", "m=application 9 ", "m=application 0 "))
	ok3 := p.expect(200)
	if !strings.Contains(string(ok3.Body()), "m=application 0 TCP/MRCPv2 1") {
		t.Errorf("removal answer:\n%s", ok3.Body())
	}
	p.send(p.ackFor(ok3, "ack3"))
	calls := h.offerCalls()
	if len(calls) != 3 || calls[0].reinvite || !calls[1].reinvite || !calls[2].reinvite {
		t.Fatalf("offers: %+v", calls)
	}
	// A re-INVITE for a dialog we do not have is 481.
	p.send(strings.Replace(p.reinvite(ok, "123102909", "reinv3"), ";tag="+toTag2(ok), ";tag=nosuchtag", 1))
	p.expect(481)
}

func TestOptionsAndUnknownDialogs(t *testing.T) {
	h := newFakeHandler()
	s := startServer(t, Config{}, h)
	p := newPeer(t, s, "udp")
	options := func(branch string) string {
		return "OPTIONS sip:" + p.server + " SIP/2.0\r\nVia: SIP/2.0/UDP " + p.conn.LocalAddr().String() + ";rport;branch=z9hG4bK" + branch +
			"\r\nMax-Forwards: 70\r\nFrom: <sip:probe@127.0.0.1>;tag=p1\r\nTo: <sip:" + p.server + ">\r\nCall-ID: opt-" + branch +
			"\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
	}
	res := p.expect2(options("o1"), 200)
	if !strings.Contains(header(res, "Allow"), "INVITE") || header(res, "Accept") != "application/sdp" {
		t.Errorf("OPTIONS 200 headers:\n%s", res)
	}
	s.SetDraining(true)
	p.expect2(options("o2"), 503)
	s.SetDraining(false)
	p.expect2(options("o3"), 200)

	inDialog := func(method, branch string) string {
		return method + " sip:" + p.server + " SIP/2.0\r\nVia: SIP/2.0/UDP " + p.conn.LocalAddr().String() + ";rport;branch=z9hG4bK" + branch +
			"\r\nMax-Forwards: 70\r\nFrom: <sip:a@127.0.0.1>;tag=a1\r\nTo: <sip:" + p.server + ">;tag=unknown\r\nCall-ID: nope" +
			"\r\nCSeq: 2 " + method + "\r\nContent-Length: 0\r\n\r\n"
	}
	for i, m := range []string{"BYE", "INFO", "UPDATE", "CANCEL"} {
		p.expect2(inDialog(m, "u"+string(rune('a'+i))), 481)
	}
	p.expect2(strings.Replace(inDialog("MESSAGE", "m1"), ";tag=unknown", "", 1), 405)
}

// TestSessionExpiry: without a refresh the dialog ends with a BYE (RFC 4028 §10).
func TestSessionExpiry(t *testing.T) {
	h := newFakeHandler()
	s := startServer(t, Config{SessionExpires: 1500 * time.Millisecond}, h)
	p := newPeer(t, s, "udp")
	ok := p.establish()
	if header(ok, "Session-Expires") != "1;refresher=uac" {
		t.Errorf("Session-Expires %q", header(ok, "Session-Expires"))
	}
	bye := p.expectRequest(sip.BYE)
	p.reply(bye, 200, "OK")
	if e := h.waitEnded(t); e.reason != "session expired" {
		t.Errorf("Ended %+v", e)
	}
}

func TestSessionIntervalTooSmall(t *testing.T) {
	s := startServer(t, Config{}, newFakeHandler())
	p := newPeer(t, s, "udp")
	res := p.expect2(p.fixture(recogInvite, "Supported: timer, 100rel\r\n", "Supported: timer, 100rel\r\nSession-Expires: 30\r\n"), 422)
	if header(res, "Min-SE") != "120" {
		t.Errorf("422 without Min-SE 120:\n%s", res)
	}
}

// TestShutdownByes: stopping the server ends live dialogs with a BYE.
func TestShutdownByes(t *testing.T) {
	h := newFakeHandler()
	s, err := NewServer(Config{Addr: "127.0.0.1:0"}, h, discardLogger())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	p := newPeer(t, s, "udp")
	p.establish()
	cancel()
	bye := p.expectRequest(sip.BYE)
	p.reply(bye, 200, "OK")
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if e := h.waitEnded(t); e.reason != "shutdown" {
		t.Errorf("Ended %+v", e)
	}
}

// TestByeDuringReoffer: a Handler that ends the session while answering a re-INVITE (the session
// layer does when the last channel goes) does not deadlock the dialog.
func TestByeDuringReoffer(t *testing.T) {
	h := newFakeHandler()
	var srv atomic.Pointer[Server]
	byeErr := make(chan error, 1)
	h.onReoffer = func(call *Call) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		byeErr <- srv.Load().Bye(ctx, call.CallID)
	}
	s := startServer(t, Config{}, h)
	srv.Store(s)
	p := newPeer(t, s, "udp")
	ok := p.establish()
	p.send(p.reinvite(ok, "123102907", "reinv1", "m=application 9 ", "m=application 0 "))
	bye := p.expectRequest(sip.BYE)
	p.reply(bye, 200, "OK")
	if err := <-byeErr; err != nil {
		t.Fatalf("Bye: %v", err)
	}
	p.expect(481) // the dialog is gone by the time the re-INVITE is answered
	if e := h.waitEnded(t); e.reason != "bye sent" {
		t.Errorf("Ended %+v", e)
	}
}

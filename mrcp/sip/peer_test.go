package sip

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/mrcpd/mrcpd/mrcp/mrcptest"
	"github.com/mrcpd/mrcpd/mrcp/sdp"
)

// fakeHandler answers offers with the real sdp package and records what the server did.
type fakeHandler struct {
	offerErr  error            // returned instead of an answer when set
	block     bool             // Offer waits for its context to end
	hold      chan struct{}    // Offer ignores its context and answers once this is closed
	onReoffer func(call *Call) // called by Offer for a re-INVITE
	entered   chan struct{}    // receives once per Offer call (buffered)

	mu      sync.Mutex
	offers  []offerCall
	ended   chan endedCall
	ctxErrs chan error // the context error a blocked Offer saw
}

type offerCall struct {
	call      Call
	reinvite  bool
	maxAnswer int // MaxAnswer of the Offer's context, -1 without one
	offer     []byte
}

type endedCall struct{ callID, reason string }

func newFakeHandler() *fakeHandler {
	return &fakeHandler{entered: make(chan struct{}, 16), ended: make(chan endedCall, 16), ctxErrs: make(chan error, 16)}
}

func (h *fakeHandler) Offer(ctx context.Context, call *Call, offer []byte, reinvite bool) ([]byte, error) {
	h.mu.Lock()
	limit, ok := MaxAnswer(ctx)
	if !ok {
		limit = -1
	}
	h.offers = append(h.offers, offerCall{*call, reinvite, limit, offer})
	h.mu.Unlock()
	h.entered <- struct{}{}
	if h.block {
		<-ctx.Done()
		h.ctxErrs <- ctx.Err()
		return nil, ctx.Err()
	}
	if h.hold != nil {
		<-h.hold
	}
	if reinvite && h.onReoffer != nil {
		h.onReoffer(call)
	}
	if h.offerErr != nil {
		return nil, h.offerErr
	}
	o, err := sdp.ParseOffer(offer)
	if err != nil {
		return nil, err
	}
	a := &sdp.Answer{SessionID: 1, Version: 1, Addr: "127.0.0.1"}
	for _, c := range o.Control {
		a.Control = append(a.Control, sdp.AnswerControl{Port: 1544, Channel: sdp.NewChannelID(c.Resource), Rejected: c.Port == 0})
	}
	for _, au := range o.Audio {
		codec, te, err := sdp.NegotiateAudio(au, []sdp.Format{{PT: 0, Name: "PCMU", ClockRate: 8000}, {PT: 101, Name: "telephone-event", ClockRate: 8000}})
		if err != nil {
			return nil, err
		}
		a.Audio = append(a.Audio, sdp.AnswerAudio{Port: 5000, Format: codec, TelephoneEvent: te})
	}
	return sdp.BuildAnswer(o, a)
}

func (h *fakeHandler) Ended(callID, reason string) { h.ended <- endedCall{callID, reason} }

func (h *fakeHandler) offerCalls() []offerCall {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]offerCall(nil), h.offers...)
}

func (h *fakeHandler) waitEnded(t *testing.T) endedCall {
	t.Helper()
	select {
	case e := <-h.ended:
		return e
	case <-time.After(10 * time.Second):
		t.Fatal("Handler.Ended not called")
		return endedCall{}
	}
}

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// startServer runs a Server on 127.0.0.1 with a free port until the test ends.
func startServer(t testing.TB, cfg Config, h Handler) *Server {
	t.Helper()
	return startServerLog(t, cfg, h, discardLogger())
}

// startServerLog is startServer logging to log.
func startServerLog(t testing.TB, cfg Config, h Handler, log *slog.Logger) *Server {
	t.Helper()
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:0"
	}
	s, err := NewServer(cfg, h, log)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return s
}

// peer is a hand-driven SIP client on a real loopback socket that replays captured messages.
type peer struct {
	t         testing.TB
	transport string
	conn      net.Conn
	rd        *bufio.Reader
	server    string
	fixtures  string
}

func newPeer(t testing.TB, s *Server, transport string) *peer {
	t.Helper()
	server := s.Addr(transport).String()
	var conn net.Conn
	var err error
	switch transport {
	case "udp":
		conn, err = net.Dial("udp", server)
	case "tls":
		conn, err = tls.Dial("tcp", server, &tls.Config{InsecureSkipVerify: true}) // our test certificate
	default:
		conn, err = net.Dial("tcp", server)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return &peer{t: t, transport: transport, conn: conn, rd: bufio.NewReader(conn), server: server,
		fixtures: mrcptest.Fixtures(t)}
}

// fixture loads a captured message and points it at this peer and the server under test.
func (p *peer) fixture(rel string, repl ...string) string {
	p.t.Helper()
	b, err := os.ReadFile(filepath.Join(p.fixtures, rel))
	if err != nil {
		p.t.Fatal(err)
	}
	msg := string(b)
	for _, from := range []string{"127.0.0.1:5092", "127.0.0.1:8062", "127.0.0.1:8064"} {
		msg = strings.ReplaceAll(msg, from, p.conn.LocalAddr().String())
	}
	msg = strings.ReplaceAll(msg, "127.0.0.1:8060", p.server)
	if p.transport != "udp" {
		msg = strings.ReplaceAll(msg, "SIP/2.0/UDP", "SIP/2.0/"+strings.ToUpper(p.transport))
		msg = strings.ReplaceAll(msg, "transport=udp", "transport="+p.transport)
	}
	return strings.NewReplacer(repl...).Replace(msg)
}

// send writes msg with its Content-Length made to match the (possibly edited) body.
func (p *peer) send(msg string) {
	p.t.Helper()
	if head, body, ok := strings.Cut(msg, "\r\n\r\n"); ok {
		lines := strings.Split(head, "\r\n")
		for i, l := range lines {
			if strings.HasPrefix(strings.ToLower(l), "content-length:") {
				lines[i] = "Content-Length: " + strconv.Itoa(len(body))
			}
		}
		msg = strings.Join(lines, "\r\n") + "\r\n\r\n" + body
	}
	if _, err := p.conn.Write([]byte(msg)); err != nil {
		p.t.Fatal(err)
	}
}

// recv reads one SIP message (one datagram, or one Content-Length framed message on TCP).
func (p *peer) recv(timeout time.Duration) (sip.Message, error) {
	if err := p.conn.SetReadDeadline(time.Now().Add(timeout)); err != nil {
		return nil, err
	}
	var raw []byte
	if p.transport == "udp" {
		buf := make([]byte, 65535)
		n, err := p.conn.Read(buf)
		if err != nil {
			return nil, err
		}
		raw = buf[:n]
	} else {
		var head bytes.Buffer
		length := 0
		for {
			line, err := p.rd.ReadString('\n')
			if err != nil {
				return nil, err
			}
			head.WriteString(line)
			if k, v, ok := strings.Cut(line, ":"); ok && strings.EqualFold(strings.TrimSpace(k), "Content-Length") {
				length, _ = strconv.Atoi(strings.TrimSpace(v))
			}
			if line == "\r\n" {
				break
			}
		}
		body := make([]byte, length)
		if _, err := io.ReadFull(p.rd, body); err != nil {
			return nil, err
		}
		raw = append(head.Bytes(), body...)
	}
	return sip.ParseMessage(raw)
}

// expect reads until a response with code arrives, skipping 100 Trying and retransmissions.
func (p *peer) expect(code int) *sip.Response {
	p.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		m, err := p.recv(time.Until(deadline))
		if err != nil {
			p.t.Fatalf("waiting for %d: %v", code, err)
		}
		if res, ok := m.(*sip.Response); ok {
			if res.StatusCode == code {
				return res
			}
			m := res.CSeq().MethodName
			if res.StatusCode == 100 || res.StatusCode == 200 && code != 200 && (m == sip.INVITE || m == sip.CANCEL) {
				continue
			}
			p.t.Fatalf("got %d %s, want %d\n%s", res.StatusCode, res.Reason, code, res)
		}
	}
	p.t.Fatalf("no %d response", code)
	return nil
}

// expectRequest reads until a request of method arrives, skipping responses.
func (p *peer) expectRequest(method sip.RequestMethod) *sip.Request {
	p.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		m, err := p.recv(time.Until(deadline))
		if err != nil {
			p.t.Fatalf("waiting for %s: %v", method, err)
		}
		if req, ok := m.(*sip.Request); ok && req.Method == method {
			return req
		}
	}
	p.t.Fatalf("no %s", method)
	return nil
}

// reply answers a request the server sent us.
func (p *peer) reply(req *sip.Request, code int, reason string) {
	p.t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "SIP/2.0 %d %s\r\n", code, reason)
	for _, name := range []string{"Via", "From", "To", "Call-ID", "CSeq"} {
		for _, h := range req.GetHeaders(name) {
			fmt.Fprintf(&b, "%s: %s\r\n", name, h.Value())
		}
	}
	b.WriteString("Content-Length: 0\r\n\r\n")
	p.send(b.String())
}

// recvNothing asserts that nothing arrives (other than 2xx retransmissions) for d.
func (p *peer) quiet(d time.Duration) error {
	m, err := p.recv(d)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return nil
	}
	if err != nil {
		return err
	}
	return fmt.Errorf("unexpected message:\n%s", m)
}

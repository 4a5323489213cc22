package server

import (
	"context"
	"crypto/tls"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mrcpd/mrcpd/mrcp"
	"github.com/mrcpd/mrcpd/mrcp/sip"
)

// RFC 6787 §4.2: a channel belongs to the first connection that uses it. Another connection that
// names it gets 403 and changes nothing: not the request-id sequence, not the parameters, not
// where events go, and its loss does not end the session (issue 12, item 1).
func TestChannelBoundToConnection(t *testing.T) {
	h := newHarness(t, nil)
	ids, _ := h.offer("call-1", sdpBody(t, modRecogInvite))
	owner := h.dial()
	owner.send(mrcp.NewRequest(mrcp.MethodGetParams, 1, ids[0]))
	if m := owner.next(); m.StatusCode != 200 {
		t.Fatalf("owner: %d", m.StatusCode)
	}
	thief := h.dial()
	for i, m := range []*mrcp.Message{
		setParams(100, ids[0], mrcp.HeaderNoInputTimeout, "1"),
		mrcp.NewRequest(mrcp.MethodGetParams, 101, ids[0]),
		mrcp.NewRequest(mrcp.MethodSpeak, 102, ids[0]), // rejected anyway: still no take-over
		dtmfRecognize(103, ids[0], "builtin:dtmf/digits?length=2"),
	} {
		thief.send(m)
		r := thief.next()
		if r.StatusCode != mrcp.Status403 || r.RequestID != m.RequestID || r.ChannelID() != ids[0] {
			t.Fatalf("request %d of the other connection: %d %d %q", i, r.StatusCode, r.RequestID, r.ChannelID())
		}
	}
	// Request-id 2 is still the next one for the owner, and SET-PARAMS did not land.
	owner.send(getParams(2, ids[0], mrcp.HeaderNoInputTimeout))
	if m := owner.next(); m.StatusCode != 200 || m.Header.Value(mrcp.HeaderNoInputTimeout) != "5000" {
		t.Fatalf("owner after the attempt: %d %q", m.StatusCode, m.Header.Value(mrcp.HeaderNoInputTimeout))
	}
	// Events go to the owner: a RECOGNIZE's completion arrives there, not on the other connection.
	owner.send(dtmfRecognize(3, ids[0], "builtin:dtmf/digits?length=2"))
	if m := owner.next(); m.StatusCode != 200 {
		t.Fatalf("RECOGNIZE: %d", m.StatusCode)
	}
	sink := h.media.receiver(t, 0)
	sink.DTMF('1')
	sink.DTMF('2')
	if m := owner.next(); m.Name != mrcp.EventStartOfInput {
		t.Fatalf("owner got %s", m.Name)
	}
	if m := owner.next(); m.Name != mrcp.EventRecognitionComplete {
		t.Fatalf("owner got %s", m.Name)
	}
	// Closing the other connection is nothing to the session.
	thief.c.Close()
	thief.closed()
	h.clock.Advance(2 * connLossGrace)
	select {
	case id := <-h.hangup.byes:
		t.Fatalf("the other connection's loss ended %s", id)
	case <-time.After(100 * time.Millisecond):
	}
	owner.send(mrcp.NewRequest(mrcp.MethodGetParams, 4, ids[0]))
	if m := owner.next(); m.StatusCode != 200 {
		t.Fatalf("owner after the other connection closed: %d", m.StatusCode)
	}
}

func setParams(id uint32, ch string, kv ...string) *mrcp.Message {
	m := mrcp.NewRequest(mrcp.MethodSetParams, id, ch)
	for i := 0; i+1 < len(kv); i += 2 {
		m.Header.Set(kv[i], kv[i+1])
	}
	return m
}

func getParams(id uint32, ch string, names ...string) *mrcp.Message {
	m := mrcp.NewRequest(mrcp.MethodGetParams, id, ch)
	for _, n := range names {
		m.Header.Set(n, "")
	}
	return m
}

// A channel negotiated as TCP/TLS/MRCPv2 is served only over TLS, a TCP/MRCPv2 one only over plain
// TCP; a request on the other listener gets 403 and binds nothing (issue 12, item 2).
func TestChannelTransportEnforced(t *testing.T) {
	h := newHarness(t, func(c *Config) {
		c.TLSAddr = "127.0.0.1:0"
		c.TLS = &tls.Config{Certificates: []tls.Certificate{selfSigned(t)}}
	})
	plainBody := sdpBody(t, modRecogInvite)
	tlsBody := []byte(strings.Replace(string(plainBody), "TCP/MRCPv2", "TCP/TLS/MRCPv2", 1))
	tlsIDs, _ := h.offer("call-tls", tlsBody)
	plainIDs, _ := h.offer("call-plain", plainBody)

	plain := h.dial()
	plain.send(mrcp.NewRequest(mrcp.MethodGetParams, 1, tlsIDs[0]))
	if m := plain.next(); m.StatusCode != mrcp.Status403 {
		t.Fatalf("TLS channel over plain TCP: %d", m.StatusCode)
	}
	secure := h.dialTLS()
	secure.send(mrcp.NewRequest(mrcp.MethodGetParams, 1, plainIDs[0]))
	if m := secure.next(); m.StatusCode != mrcp.Status403 {
		t.Fatalf("plain channel over TLS: %d", m.StatusCode)
	}
	// Neither attempt bound the channel: each is served on its own transport.
	secure.send(mrcp.NewRequest(mrcp.MethodGetParams, 1, tlsIDs[0]))
	if m := secure.next(); m.StatusCode != 200 {
		t.Fatalf("TLS channel over TLS: %d", m.StatusCode)
	}
	plain.send(mrcp.NewRequest(mrcp.MethodGetParams, 1, plainIDs[0]))
	if m := plain.next(); m.StatusCode != 200 {
		t.Fatalf("plain channel over TCP: %d", m.StatusCode)
	}
	// Closing the plain connection does not end the TLS session.
	plain.c.Close()
	plain.closed()
	waitTimers(t, h.clock, 3) // two connect timers, the plain session's grace period
	h.clock.Advance(2 * connLossGrace)
	select {
	case id := <-h.hangup.byes:
		if id != "call-plain" {
			t.Fatalf("BYE for %s", id)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the plain session outlived its connection")
	}
	secure.send(mrcp.NewRequest(mrcp.MethodGetParams, 2, tlsIDs[0]))
	if m := secure.next(); m.StatusCode != 200 {
		t.Fatalf("TLS session after the plain connection closed: %d", m.StatusCode)
	}
}

// A session set up over SIP TLS is not downgraded to a plain control channel (issue 12, item 2).
func TestSIPTLSNotDowngraded(t *testing.T) {
	h := newHarness(t, func(c *Config) {
		c.TLSAddr = "127.0.0.1:0"
		c.TLS = &tls.Config{Certificates: []tls.Certificate{selfSigned(t)}}
	})
	body := sdpBody(t, modRecogInvite)
	_, err := h.srv.Offer(context.Background(), &sip.Call{CallID: "call-1", Remote: "127.0.0.1:5092", Transport: "tls"}, body, false)
	var sc interface{ SIPStatus() int }
	if !errors.As(err, &sc) || sc.SIPStatus() != 488 {
		t.Fatalf("plain control channel over SIP TLS: %v, want SIP 488", err)
	}
	tlsBody := []byte(strings.Replace(string(body), "TCP/MRCPv2", "TCP/TLS/MRCPv2", 1))
	ans, err := h.srv.Offer(context.Background(), &sip.Call{CallID: "call-2", Remote: "127.0.0.1:5092", Transport: "tls"}, tlsBody, false)
	if err != nil || !strings.Contains(string(ans), "TCP/TLS/MRCPv2") {
		t.Fatalf("TLS control channel over SIP TLS: %v\n%s", err, ans)
	}
	waitSessions(t, h, 1)
}

// connect_timeout is per session: a session whose channels never receive a request ends, although
// other sessions' connections from the same address come and go meanwhile (issue 12, item 11).
func TestConnectTimeoutPerSession(t *testing.T) {
	h := newHarness(t, nil)
	h.offer("silent", sdpBody(t, modRecogInvite))
	waitTimers(t, h.clock, 1)
	for i := range 3 {
		ids, _ := h.offer("busy-"+strconv.Itoa(i), sdpBody(t, modRecogInvite))
		cl := h.dial()
		cl.send(mrcp.NewRequest(mrcp.MethodGetParams, 1, ids[0]))
		cl.next()
		h.clock.Advance(4 * time.Second)
	}
	select {
	case id := <-h.hangup.byes:
		if id != "silent" {
			t.Fatalf("BYE for %s", id)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the session that never connected lives on")
	}
}

func (h *harness) dialTLS() *client {
	h.t.Helper()
	c, err := tls.Dial("tcp", h.srv.TLSAddr().String(), &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		h.t.Fatal(err)
	}
	return h.wrap(c)
}

// A connection opened before the session's connect deadline, still quiet, may be its own and is
// waited for; connections from the same host opened after the deadline are other sessions' and do
// not keep it. Before, any unbound connection opened since the offer kept an abandoned session
// alive, so a host that kept opening connections (FreeSWITCH under load) kept it forever.
func TestConnectTimeoutNotExtendedByLaterConnections(t *testing.T) {
	h := newHarness(t, nil)
	h.offer("silent", sdpBody(t, modRecogInvite))
	waitTimers(t, h.clock, 1)
	early := h.dial()
	h.waitConns(1)
	h.clock.Advance(10 * time.Second) // the deadline: early may still be the session's
	waitTimers(t, h.clock, 1)         // the connect timer, armed again
	select {
	case id := <-h.hangup.byes:
		t.Fatalf("BYE for %s while a connection opened in time may be its own", id)
	default:
	}
	early.c.Close()
	h.waitConns(0)
	h.clock.Advance(time.Second)
	h.dial() // after the deadline: another session's
	h.waitConns(1)
	h.clock.Advance(9 * time.Second)
	select {
	case id := <-h.hangup.byes:
		if id != "silent" {
			t.Fatalf("BYE for %s", id)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a connection opened after the connect deadline kept the abandoned session alive")
	}
}

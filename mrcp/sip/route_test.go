package sip

import (
	"context"
	"strings"
	"testing"

	"github.com/emiago/sipgo/sip"
)

// Behind a proxy that Record-Routes (Kamailio in front of several mrcpd) the 200 OK carries the
// Record-Route back and our BYE carries it as its route set, in order (RFC 3261 §12.1.1, §12.2.1.1),
// so that it passes the proxy like the client's requests do.
func TestByeFollowsRecordRoute(t *testing.T) {
	h := newFakeHandler()
	s := startServer(t, Config{}, h)
	p := newPeer(t, s, "udp")
	rr := "Record-Route: <sip:10.0.0.1;lr>\r\nRecord-Route: <sip:10.0.0.2;lr;ftag=x>\r\nMax-Forwards:"
	p.send(p.fixture(recogInvite, "Max-Forwards:", rr))
	ok := p.expect(200)
	if got := ok.GetHeaders("Record-Route"); len(got) != 2 {
		t.Fatalf("200 OK Record-Route %v, want the INVITE's two", got)
	}
	p.send("ACK sip:" + p.server + " SIP/2.0\r\nVia: SIP/2.0/UDP " + p.conn.LocalAddr().String() + ";rport;branch=z9hG4bKack1\r\n" +
		"From: " + header(ok, "From") + "\r\nTo: " + header(ok, "To") + "\r\nCall-ID: " + header(ok, "Call-ID") +
		"\r\nCSeq: " + strings.Replace(header(ok, "CSeq"), "INVITE", "ACK", 1) + "\r\nContent-Length: 0\r\n\r\n")
	callID := header(ok, "Call-ID")
	byeDone := make(chan error, 1)
	go func() { byeDone <- s.Bye(context.Background(), callID) }()
	bye := p.expectRequest(sip.BYE)
	routes := bye.GetHeaders("Route")
	if len(routes) != 2 || routes[0].Value() != "<sip:10.0.0.1;lr>" || routes[1].Value() != "<sip:10.0.0.2;lr;ftag=x>" {
		t.Errorf("BYE Route %v, want the INVITE's Record-Route in order", routes)
	}
	p.reply(bye, 200, "OK")
	if err := <-byeDone; err != nil {
		t.Fatalf("Bye: %v", err)
	}
}

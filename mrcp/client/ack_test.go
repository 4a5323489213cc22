package client

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
)

// A retransmitted 2xx gets the ACK again (RFC 3261 §13.2.2.4): a server whose first ACK was lost
// resends its 2xx and, without a second ACK, ends the dialog after 32 s (mrcpd's "no ACK for 2xx"
// at 2,000 sessions on a loaded machine).
func TestRetransmitted2xxIsAcked(t *testing.T) {
	sipConn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer sipConn.Close()
	ctrl, err := net.Listen("tcp", "127.0.0.1:0") // the MRCP control port the answer names
	if err != nil {
		t.Fatal(err)
	}
	defer ctrl.Close()
	c := newTestClient(t, sipConn.LocalAddr().String(), "udp")
	type result struct {
		s   *Session
		err error
	}
	opened := make(chan result, 1)
	go func() {
		s, err := c.OpenPort(context.Background(), "speechrecog", 6010)
		opened <- result{s, err}
	}()
	invite, from := readSIP(t, sipConn)
	ok := []byte(answer(t, invite, sipConn.LocalAddr().(*net.UDPAddr).Port, ctrl.Addr().(*net.TCPAddr).Port).String())
	// The 2xx, then (once the session is open and the INVITE transaction over, as a server's
	// retransmission 500 ms later finds it) the same 2xx again.
	for i := range 2 {
		if _, err := sipConn.WriteToUDP(ok, from); err != nil {
			t.Fatal(err)
		}
		if ack, _ := readSIP(t, sipConn); ack.Method != sip.ACK {
			t.Fatalf("2xx %d answered with %s, want ACK", i+1, ack.Method)
		}
		if i > 0 {
			break
		}
		conn, err := ctrl.Accept()
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		r := <-opened
		if r.err != nil {
			t.Fatal(r.err)
		}
		defer func() {
			r.s.ended.Store(true) // no BYE: this server answers nothing more
			if err := r.s.Close(context.Background()); err != nil {
				t.Error(err)
			}
		}()
	}
}

// readSIP reads one request from c, skipping nothing: the client sends only what the test expects.
func readSIP(t *testing.T, c *net.UDPConn) (*sip.Request, *net.UDPAddr) {
	t.Helper()
	b := make([]byte, 65535)
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, from, err := c.ReadFromUDP(b)
	if err != nil {
		t.Fatalf("no SIP request: %v", err)
	}
	m, err := sip.ParseMessage(b[:n])
	if err != nil {
		t.Fatal(err)
	}
	req, ok := m.(*sip.Request)
	if !ok {
		t.Fatalf("not a request: %s", m.String())
	}
	return req, from
}

// answer is the 200 OK UniMRCP's server gives mod_unimrcp's INVITE, from SIP port sipPort with
// the MRCP control port ctrl.
func answer(t *testing.T, invite *sip.Request, sipPort, ctrl int) *sip.Response {
	t.Helper()
	body := strings.ReplaceAll(fmt.Sprintf(`v=0
o=UniMRCPServer 5679171586646660607 2674884567986638019 IN IP4 127.0.0.1
s=-
c=IN IP4 127.0.0.1
t=0 0
m=application %d TCP/MRCPv2 1
a=setup:passive
a=connection:new
a=channel:6badd17a12324d3b@speechrecog
a=cmid:1
m=audio 5320 RTP/AVP 0 101
a=rtpmap:0 PCMU/8000
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-15
a=recvonly
a=mid:1
`, ctrl), "\n", "\r\n")
	res := sip.NewResponseFromRequest(invite, 200, "OK", []byte(body))
	res.To().Params.Add("tag", "ptQ86UDtyyrUj")
	res.AppendHeader(&sip.ContactHeader{Address: sip.Uri{Scheme: "sip", Host: "127.0.0.1", Port: sipPort}})
	res.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	return res
}

package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"
)

// offerWith is mod_unimrcp's offer with n control channels, each with its own audio m-line.
func offerWith(t *testing.T, resources ...string) string {
	base := modRecogSDP(t)
	head, _, _ := strings.Cut(base, "m=application")
	var b strings.Builder
	b.WriteString(head)
	for i, r := range resources {
		fmt.Fprintf(&b, "m=application 9 TCP/MRCPv2 1\r\na=setup:active\r\na=connection:new\r\na=resource:%s\r\na=cmid:%d\r\n", r, i+1)
	}
	for i := range resources {
		fmt.Fprintf(&b, "m=audio %d RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\na=mid:%d\r\n", 6010+2*i, i+1)
	}
	return b.String()
}

// TestE2EOfferLimits: an INVITE with hundreds of m-lines is refused before any port is taken (it
// used to get an RTP port pair per line, and the next call 503); an offer whose 200 would be too
// large for a UDP datagram gets 513 (it used to get no answer at all), and the same over TCP 200.
func TestE2EOfferLimits(t *testing.T) {
	d := startMrcpd(t, "sip:\n  drain_timeout: 1s\n") // the calls answered 200 are never used
	many := modRecogSDP(t) + strings.Repeat("m=audio 6010 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n", 900)
	if code, res := tcpInvite(t, d.sip, "many", many); code != 488 || !strings.Contains(header(res, "Warning"), "m-lines") {
		t.Fatalf("900 m-lines over TCP: %d, want 488 naming m-lines\n%s", code, res)
	}
	big := offerWith(t, "speechrecog", "speechsynth", "recorder", "speechrecog")
	u := newRawUA(t, d.sip)
	if code, res := u.invite(big); code != "513" {
		t.Fatalf("a 4-channel offer over UDP: %s, want 513\n%s", code, res)
	}
	if code, res := tcpInvite(t, d.sip, "big-tcp", big); code != 200 {
		t.Fatalf("the same offer over TCP: %d, want 200\n%s", code, res)
	}
	u = newRawUA(t, d.sip)
	code, res := u.invite(modRecogSDP(t))
	if code != "200" {
		t.Fatalf("an ordinary call after them: %s\n%s\n%s", code, res, d.log)
	}
	u.ack(res)
}

// tcpInvite sends one INVITE over a new TCP connection and returns the final response.
func tcpInvite(t *testing.T, server, callID, sdp string) (int, string) {
	t.Helper()
	c, err := net.Dial("tcp", server)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	me := c.LocalAddr().String()
	fmt.Fprintf(c, "INVITE sip:%s;transport=tcp SIP/2.0\r\nVia: SIP/2.0/TCP %s;branch=z9hG4bK%s\r\nMax-Forwards: 70\r\n"+
		"From: <sip:%s>;tag=tcptag\r\nTo: <sip:%s>\r\nCall-ID: %s\r\nCSeq: 1 INVITE\r\n"+
		"Content-Type: application/sdp\r\nContent-Length: %d\r\n\r\n%s", server, me, callID, me, server, callID, len(sdp), sdp)
	rd := bufio.NewReader(c)
	c.SetReadDeadline(time.Now().Add(15 * time.Second))
	for {
		var head strings.Builder
		length := 0
		for {
			line, err := rd.ReadString('\n')
			if err != nil {
				t.Fatalf("no final response: %v", err)
			}
			head.WriteString(line)
			if k, v, ok := strings.Cut(line, ":"); ok && strings.EqualFold(k, "Content-Length") {
				length, _ = strconv.Atoi(strings.TrimSpace(v))
			}
			if line == "\r\n" {
				break
			}
		}
		body := make([]byte, length)
		if _, err := io.ReadFull(rd, body); err != nil {
			t.Fatal(err)
		}
		msg := head.String() + string(body)
		if m := statusRE.FindStringSubmatch(msg); m != nil && m[1][0] != '1' {
			code, _ := strconv.Atoi(m[1])
			return code, msg
		}
	}
}

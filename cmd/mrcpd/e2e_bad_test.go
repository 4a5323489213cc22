package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mrcpd/mrcpd/mrcp"
	"github.com/mrcpd/mrcpd/mrcp/client"
	"github.com/mrcpd/mrcpd/mrcp/mrcptest"
	"github.com/mrcpd/mrcpd/mrcp/sip/siptest"
)

// (a) sipp plays mod_unimrcp's INVITEs (no Contact header, its exact SDP) and checks the answer.
func TestE2ESipp(t *testing.T) {
	d := startMrcpd(t, "")
	for _, sc := range []string{siptest.ModUnimrcpRecog, siptest.ModUnimrcpSynth} {
		for _, tr := range [][]string{nil, {"-t", "t1"}} {
			t.Run(fmt.Sprint(sc, tr), func(t *testing.T) { siptest.RunSipp(t, sc, d.sip, tr...) })
		}
	}
}

// (d) Every bad input gets its documented answer while another session carries on.
func TestE2EBadInput(t *testing.T) {
	d := startMrcpd(t, "mrcp:\n  max_message_size: 2048\n  connect_timeout: 1s\n")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := d.newClient(t)
	other, err := c.Open(ctx, "speechrecog")
	if err != nil {
		t.Fatalf("open: %v\n%s", err, d.log)
	}
	defer other.Close(ctx)
	s, err := c.Open(ctx, "speechrecog")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(ctx)

	req := func(method string, hdr ...string) *mrcp.Message {
		m := s.NewRequest(method)
		for i := 0; i+1 < len(hdr); i += 2 {
			m.Header.Set(hdr[i], hdr[i+1])
		}
		return m
	}
	unknown := req(mrcp.MethodGetParams, mrcp.HeaderChannelIdentifier, "0123456789abcdef@speechrecog")
	recognize := req(mrcp.MethodRecognize, mrcp.HeaderContentType, "text/uri-list", mrcp.HeaderNoInputTimeout, "soon")
	recognize.Body = []byte("builtin:dtmf/digits?length=4")
	tests := []struct {
		name   string
		m      *mrcp.Message
		status int
		header string // the response must name it
	}{
		{"unknown channel", unknown, 405, ""},
		{"bad header value", recognize, 404, mrcp.HeaderNoInputTimeout},
		{"wrong state", req(mrcp.MethodGetResult), 402, ""},
		{"method of another resource", req(mrcp.MethodSpeak), 401, ""},
		{"header of another resource", req(mrcp.MethodSetParams, mrcp.HeaderVoiceName, "x"), 403, mrcp.HeaderVoiceName},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := s.Send(ctx, tt.m)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.status, resp)
			}
			if _, ok := resp.Header.Get(tt.header); tt.header != "" && !ok {
				t.Fatalf("response does not name %s: %s", tt.header, resp)
			}
		})
	}

	raw := []struct {
		name   string
		bytes  string
		status int
		closes bool
	}{
		{"missing Channel-Identifier", "MRCP/2.0 48 GET-PARAMS 20\r\nContent-Length: 0\r\n\r\n", 406, false},
		{"garbage", "HELLO MRCP SERVER\r\n\r\n", 0, true},
		{"oversize", fmt.Sprintf("MRCP/2.0 5000 SET-PARAMS 1\r\nChannel-Identifier: %s\r\nLogging-Tag: %s\r\n\r\n", s.Channel, strings.Repeat("x", 4900)), 504, true},
	}
	for _, tt := range raw {
		t.Run(tt.name, func(t *testing.T) {
			nc, err := net.Dial("tcp", d.mrcp)
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			nc.SetDeadline(time.Now().Add(10 * time.Second))
			if _, err := io.WriteString(nc, tt.bytes); err != nil {
				t.Fatal(err)
			}
			dec := mrcp.NewDecoder(nc, 1<<20)
			m, err := dec.Decode()
			if err != nil {
				t.Fatalf("no answer: %v", err)
			}
			if m.Kind != mrcp.KindResponse || m.StatusCode < 400 || (tt.status != 0 && m.StatusCode != tt.status) {
				t.Fatalf("got %s", m)
			}
			if tt.closes {
				if _, err := dec.Decode(); !errors.Is(err, io.EOF) {
					t.Fatalf("connection not closed: %v", err)
				}
			}
		})
	}

	t.Run("unknown resource in SDP", func(t *testing.T) {
		_, err := c.Open(ctx, "speakverify")
		var se *client.SIPError
		if !errors.As(err, &se) || se.Code != 404 {
			t.Fatalf("got %v, want SIP 404", err)
		}
	})
	sipTests := []struct {
		name string
		sdp  string
		code string
	}{
		{"bad SDP", "this is not SDP\r\n", "488"},
		{"no common codec", strings.NewReplacer("RTP/AVP 0 8 96 101", "RTP/AVP 96", "a=rtpmap:96 L16/8000", "a=rtpmap:96 X-NONE/8000").Replace(modRecogSDP(t)), "488"},
	}
	for _, tt := range sipTests {
		t.Run(tt.name, func(t *testing.T) {
			u := newRawUA(t, d.sip)
			if code, _ := u.invite(tt.sdp); code != tt.code {
				t.Fatalf("INVITE answered %s, want %s", code, tt.code)
			}
		})
	}
	t.Run("never opening the control connection", func(t *testing.T) {
		u := newRawUA(t, d.sip)
		code, ok := u.invite(modRecogSDP(t))
		if code != "200" {
			t.Fatalf("INVITE answered %s", code)
		}
		u.ack(ok)
		if !u.waitBye(5 * time.Second) {
			t.Fatalf("no BYE after mrcp.connect_timeout\n%s", d.log)
		}
	})

	// The other session was untouched by all of this.
	res, err := other.Recognize(ctx, client.RecognizeRequest{Grammar: "builtin:dtmf/digits?length=3", DTMF: "123"})
	if err != nil || !res.Success() {
		t.Fatalf("other session: %v %+v\n%s", err, res, d.log)
	}
}

func modRecogSDP(t *testing.T) string {
	b, err := os.ReadFile(filepath.Join(mrcptest.Fixtures(t), "freeswitch-mod_unimrcp", "01-INVITE-recog.sip"))
	if err != nil {
		t.Fatal(err)
	}
	s := strings.ReplaceAll(string(b), "\r\n", "\n")
	_, body, _ := strings.Cut(s, "\n\n")
	return strings.ReplaceAll(body, "\n", "\r\n")
}

// rawUA is a bare UDP SIP peer that sends exactly what mod_unimrcp sends (no Contact header).
type rawUA struct {
	t      *testing.T
	conn   *net.UDPConn
	server string
	callID string
}

func newRawUA(t *testing.T, server string) *rawUA {
	return &rawUA{t: t, conn: listenUDP(t), server: server, callID: fmt.Sprintf("raw-%d@test", time.Now().UnixNano())}
}

func (u *rawUA) send(msg string) {
	u.t.Helper()
	if err := u.write(msg); err != nil {
		u.t.Fatal(err)
	}
}

// write sends msg; it needs no *testing.T, so that worker goroutines may use it.
func (u *rawUA) write(msg string) error {
	ra, err := net.ResolveUDPAddr("udp", u.server)
	if err != nil {
		return err
	}
	_, err = u.conn.WriteToUDP([]byte(msg), ra)
	return err
}

func (u *rawUA) read(d time.Duration) (string, bool) {
	buf := make([]byte, 65535)
	u.conn.SetReadDeadline(time.Now().Add(d))
	n, _, err := u.conn.ReadFromUDP(buf)
	if err != nil {
		return "", false
	}
	return string(buf[:n]), true
}

var statusRE = regexp.MustCompile(`^SIP/2.0 (\d{3})`)

// invite sends an INVITE and returns the final status code and response.
func (u *rawUA) invite(sdp string) (string, string) {
	me := u.conn.LocalAddr().String()
	u.send(fmt.Sprintf("INVITE sip:%s SIP/2.0\r\nVia: SIP/2.0/UDP %s;rport;branch=z9hG4bK%d\r\nMax-Forwards: 70\r\n"+
		"From: <sip:%s>;tag=rawtag\r\nTo: <sip:%s>\r\nCall-ID: %s\r\nCSeq: 1 INVITE\r\n"+
		"Content-Type: application/sdp\r\nContent-Length: %d\r\n\r\n%s",
		u.server, me, time.Now().UnixNano(), me, u.server, u.callID, len(sdp), sdp))
	for {
		msg, ok := u.read(10 * time.Second)
		if !ok {
			u.t.Fatal("no final response to INVITE")
		}
		m := statusRE.FindStringSubmatch(msg)
		if m != nil && m[1][0] != '1' {
			return m[1], msg
		}
	}
}

func header(msg, name string) string {
	sc := bufio.NewScanner(strings.NewReader(msg))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+": "); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

func (u *rawUA) ack(ok string) {
	me := u.conn.LocalAddr().String()
	u.send(fmt.Sprintf("ACK sip:%s SIP/2.0\r\nVia: SIP/2.0/UDP %s;rport;branch=z9hG4bK%d\r\nMax-Forwards: 70\r\n"+
		"From: <sip:%s>;tag=rawtag\r\nTo: %s\r\nCall-ID: %s\r\nCSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n",
		u.server, me, time.Now().UnixNano(), me, header(ok, "To"), u.callID))
}

// waitBye waits for the server's BYE and answers it (no *testing.T needed: churn workers use it).
func (u *rawUA) waitBye(d time.Duration) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		msg, ok := u.read(time.Until(deadline))
		if !ok {
			return false
		}
		if !strings.HasPrefix(msg, "BYE ") {
			continue
		}
		_ = u.write(fmt.Sprintf("SIP/2.0 200 OK\r\nVia: %s\r\nFrom: %s\r\nTo: %s\r\nCall-ID: %s\r\nCSeq: %s\r\nContent-Length: 0\r\n\r\n",
			header(msg, "Via"), header(msg, "From"), header(msg, "To"), header(msg, "Call-ID"), header(msg, "CSeq")))
		return true
	}
	return false
}

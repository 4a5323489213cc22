package sip

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"go.uber.org/goleak"

	"github.com/mrcpd/mrcpd/mrcp/sdp"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	recogInvite = "freeswitch-mod_unimrcp/01-INVITE-recog.sip"
	recogAck    = "freeswitch-mod_unimrcp/02-ACK.sip"
	recogBye    = "freeswitch-mod_unimrcp/04-BYE.sip"
	recogToTag  = "ptQ86UDtyyrUj" // the reference server's tag in the captured ACK and BYE
	recogCallID = "a7c4e2ef-60bc-1240-82b0-026552978adb"
)

func header(m interface{ GetHeader(string) sip.Header }, name string) string {
	if h := m.GetHeader(name); h != nil {
		return h.Value()
	}
	return ""
}

// TestModUnimrcpCall replays mod_unimrcp's INVITE (no Contact header), ACK and BYE over UDP
// and TCP and checks the answer against what UniMRCP's server sends.
func TestModUnimrcpCall(t *testing.T) {
	for _, transport := range []string{"udp", "tcp"} {
		t.Run(transport, func(t *testing.T) {
			h := newFakeHandler()
			s := startServer(t, Config{}, h)
			p := newPeer(t, s, transport)
			p.send(p.fixture(recogInvite))
			first, err := p.recv(5 * time.Second)
			if err != nil {
				t.Fatal(err)
			}
			if res, ok := first.(*sip.Response); !ok || res.StatusCode != 100 {
				t.Fatalf("first response %v, want 100 Trying", first)
			}
			ok := p.expect(200)
			for name, want := range map[string]string{
				"Require": "timer", "Supported": "timer", "Session-Expires": "600;refresher=uac", "Min-SE": "120",
				"Content-Type": "application/sdp", "Accept": "application/sdp", "Call-ID": recogCallID,
			} {
				if got := header(ok, name); got != want {
					t.Errorf("%s: %q, want %q", name, got, want)
				}
			}
			wantContact := "<sip:" + s.Addr(transport).String() + ">"
			if transport == "tcp" {
				wantContact = "<sip:" + s.Addr(transport).String() + ";transport=tcp>"
			}
			if got := header(ok, "Contact"); got != wantContact {
				t.Errorf("Contact %q, want %q", got, wantContact)
			}
			body := string(ok.Body())
			for _, want := range []string{"m=application 1544 TCP/MRCPv2 1\r\n", "a=setup:passive\r\n", "a=connection:new\r\n",
				"@speechrecog\r\n", "a=cmid:1\r\n", "m=audio 5000 RTP/AVP 0 101\r\n", "a=recvonly\r\n", "a=mid:1\r\n"} {
				if !strings.Contains(body, want) {
					t.Errorf("answer lacks %q:\n%s", want, body)
				}
			}
			tag := toTag2(ok)
			calls := h.offerCalls()
			if len(calls) != 1 || calls[0].reinvite || calls[0].call.CallID != recogCallID ||
				calls[0].call.FromTag != "ZKv1N23Z63BpN" || calls[0].call.ToTag != tag || calls[0].call.Transport != transport {
				t.Fatalf("offers = %+v, to-tag %q", calls, tag)
			}
			p.send(p.fixture(recogAck, recogToTag, tag))
			p.send(p.fixture(recogBye, recogToTag, tag))
			p.expect(200)
			if e := h.waitEnded(t); e != (endedCall{recogCallID, "bye"}) {
				t.Errorf("Ended %+v", e)
			}
			// The dialog is gone: a second BYE is unknown.
			p.send(p.fixture(recogBye, recogToTag, tag, "CSeq: 123102907", "CSeq: 123102908", "z9hG4bKBS4vj3eUF8rKj", "z9hG4bKsecondbye"))
			p.expect(481)
		})
	}
}

func toTag2(res *sip.Response) string {
	tag, _ := res.To().Params.Get("tag")
	return tag
}

// TestUniMRCPClientContact: the UniMRCP client sends a Contact; our BYE goes to it.
func TestServerByeTargets(t *testing.T) {
	tests := []struct {
		name, invite, fromTag, wantURI string
	}{
		{"no Contact: From URI", recogInvite, "ZKv1N23Z63BpN", "sip:PEER"},
		{"Contact", "unimrcp-client-1.8/01-INVITE-recog.sip", "HD3KpKBceZHcD", "sip:PEER;transport=udp"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newFakeHandler()
			s := startServer(t, Config{}, h)
			p := newPeer(t, s, "udp")
			p.send(p.fixture(tt.invite))
			ok := p.expect(200)
			tag := toTag2(ok)
			ack := "ACK sip:" + p.server + " SIP/2.0\r\nVia: SIP/2.0/UDP " + p.conn.LocalAddr().String() + ";rport;branch=z9hG4bKack1\r\n" +
				"From: " + header(ok, "From") + "\r\nTo: " + header(ok, "To") + "\r\nCall-ID: " + header(ok, "Call-ID") +
				"\r\nCSeq: " + strings.Replace(header(ok, "CSeq"), "INVITE", "ACK", 1) + "\r\nContent-Length: 0\r\n\r\n"
			p.send(ack)
			callID := header(ok, "Call-ID")
			byeDone := make(chan error, 1)
			go func() { byeDone <- s.Bye(context.Background(), callID) }()
			bye := p.expectRequest(sip.BYE)
			if got, want := bye.Recipient.String(), strings.Replace(tt.wantURI, "PEER", p.conn.LocalAddr().String(), 1); got != want {
				t.Errorf("BYE Request-URI %q, want %q", got, want)
			}
			if got, _ := bye.From().Params.Get("tag"); got != tag {
				t.Errorf("BYE From tag %q, want ours %q", got, tag)
			}
			if got, _ := bye.To().Params.Get("tag"); got != tt.fromTag {
				t.Errorf("BYE To tag %q, want %q", got, tt.fromTag)
			}
			p.reply(bye, 200, "OK")
			if err := <-byeDone; err != nil {
				t.Fatalf("Bye: %v", err)
			}
			if e := h.waitEnded(t); e.reason != "bye sent" {
				t.Errorf("Ended %+v", e)
			}
			if err := s.Bye(context.Background(), callID); !errors.Is(err, ErrNoDialog) {
				t.Errorf("second Bye: %v, want ErrNoDialog", err)
			}
		})
	}
}

// TestInviteFailures: each failure answers at once with its code and a Warning naming why.
func TestInviteFailures(t *testing.T) {
	tests := []struct {
		name     string
		offerErr error
		edit     func(string) string
		drain    bool
		code     int
		warning  string
	}{
		{name: "unknown resource", edit: func(m string) string { return strings.Replace(m, "a=resource:speechrecog", "a=resource:telepathy", 1) },
			code: 404, warning: `unknown resource 'telepathy'`},
		{name: "no common codec", edit: func(m string) string {
			return strings.NewReplacer("RTP/AVP 0 8 96 101", "RTP/AVP 18 8 96 101", "a=rtpmap:0 PCMU/8000", "a=rtpmap:18 G729/8000",
				"a=rtpmap:8 PCMA/8000", "a=rtpmap:8 XXXX/8000", "a=rtpmap:96 L16/8000", "a=rtpmap:96 YYY/8000").Replace(m)
		}, code: 488, warning: "no common audio codec"},
		{name: "handler error with status", offerErr: &sdp.Error{Code: 486, Warning: "at capacity"}, code: 486, warning: "at capacity"},
		{name: "plain handler error", offerErr: errors.New("boom"), code: 500, warning: "boom"},
		{name: "draining", drain: true, code: 503, warning: "draining"},
		{name: "no body", edit: func(m string) string {
			head, _, _ := strings.Cut(m, "\r\n\r\n")
			return head + "\r\n\r\n"
		}, code: 488, warning: "no SDP offer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newFakeHandler()
			h.offerErr = tt.offerErr
			s := startServer(t, Config{}, h)
			s.SetDraining(tt.drain)
			p := newPeer(t, s, "udp")
			msg := p.fixture(recogInvite)
			if tt.edit != nil {
				msg = tt.edit(msg)
			}
			res := p.expect2(msg, tt.code)
			w := header(res, "Warning")
			if !strings.HasPrefix(w, `399 mrcpd "`+tt.warning) {
				t.Errorf("Warning %q, want 399 mrcpd naming %q", w, tt.warning)
			}
			select {
			case e := <-h.ended:
				t.Errorf("Ended %+v for a failed INVITE", e)
			default:
			}
		})
	}
}

// expect2 sends msg and waits for code.
func (p *peer) expect2(msg string, code int) *sip.Response {
	p.t.Helper()
	p.send(msg)
	return p.expect(code)
}

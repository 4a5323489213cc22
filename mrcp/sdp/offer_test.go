package sdp

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/mrcpd/mrcpd/mrcp/mrcptest"
)

const baseOffer = "v=0\r\no=FreeSWITCH 1 2 IN IP4 192.0.2.2\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"

const recogControl = "m=application 9 TCP/MRCPv2 1\r\na=setup:active\r\na=connection:new\r\na=resource:speechrecog\r\na=cmid:1\r\n"

const pcmuAudio = "m=audio 6010 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\na=sendonly\r\na=mid:1\r\n"

func TestParseOfferErrors(t *testing.T) {
	tests := []struct {
		name     string
		sdp      string
		code     int
		warnings string // substring of the Warning text
	}{
		{"garbage", "hello", 488, "malformed SDP"},
		{"no application", baseOffer + pcmuAudio, 488, "no m=application"},
		{"unknown proto", baseOffer + "m=application 9 UDP/MRCPv2 1\r\na=resource:speechrecog\r\n" + pcmuAudio, 488, "unsupported m=application proto"},
		{"missing resource", baseOffer + "m=application 9 TCP/MRCPv2 1\r\na=setup:active\r\na=cmid:1\r\n" + pcmuAudio, 488, "without a=resource"},
		{"unknown resource", baseOffer + strings.Replace(recogControl, "speechrecog", "telepathy", 1) + pcmuAudio, 404, `unknown resource "telepathy"`},
		{"passive client", baseOffer + strings.Replace(recogControl, "active", "passive", 1) + pcmuAudio, 488, "setup:passive"},
		{"bad payload type", baseOffer + recogControl + "m=audio 6010 RTP/AVP PCMU\r\n", 488, "not an RTP payload type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseOffer([]byte(tt.sdp))
			var se *Error
			if !errors.As(err, &se) {
				t.Fatalf("ParseOffer error = %v, want *Error", err)
			}
			if se.SIPStatus() != tt.code || !strings.Contains(se.Warning, tt.warnings) {
				t.Errorf("got %d %q, want %d containing %q", se.Code, se.Warning, tt.code, tt.warnings)
			}
		})
	}
}

func TestNegotiateAudio(t *testing.T) {
	tests := []struct {
		name    string
		audio   string
		codec   string // "PT Name"
		te      string // "PT fmtp" or ""
		wantErr bool
	}{
		{"pcmu with te", pcmuAudio, "0 PCMU", "101 0-15", false},
		{"offer order wins", "m=audio 1 RTP/AVP 8 0\r\n", "8 PCMA", "", false},
		{"dynamic pt kept", "m=audio 1 RTP/AVP 97 120\r\na=rtpmap:97 L16/8000\r\na=rtpmap:120 telephone-event/8000\r\n", "97 L16", "120 ", false},
		{"te at other rate dropped", "m=audio 1 RTP/AVP 0 102\r\na=rtpmap:102 telephone-event/16000\r\n", "0 PCMU", "", false},
		{"static without rtpmap", "m=audio 1 RTP/AVP 0\r\n", "0 PCMU", "", false},
		{"none common", "m=audio 1 RTP/AVP 18 97\r\na=rtpmap:97 opus/48000/2\r\n", "", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := ParseOffer([]byte(baseOffer + recogControl + tt.audio))
			if err != nil {
				t.Fatal(err)
			}
			codec, te, err := NegotiateAudio(o.Audio[0], supported)
			if tt.wantErr {
				var se *Error
				if !errors.As(err, &se) || se.Code != 488 || !strings.Contains(se.Warning, "no common audio codec") {
					t.Fatalf("err = %v, want 488 no common audio codec", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.TrimSpace(itoa(codec.PT) + " " + codec.Name); got != tt.codec {
				t.Errorf("codec %q, want %q", got, tt.codec)
			}
			gotTE := ""
			if te != nil {
				gotTE = itoa(te.PT) + " " + te.Fmtp
			}
			if gotTE != tt.te {
				t.Errorf("telephone-event %q, want %q", gotTE, tt.te)
			}
		})
	}
}

func itoa(pt uint8) string { return strconv.Itoa(int(pt)) }

func TestReverseDirection(t *testing.T) {
	for in, want := range map[string]string{"sendonly": "recvonly", "recvonly": "sendonly", "sendrecv": "sendrecv", "inactive": "inactive", "": "sendrecv"} {
		if got := ReverseDirection(in); got != want {
			t.Errorf("ReverseDirection(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestAnswerShapes covers TLS, a removed channel (re-INVITE with m=application 0), a media-level
// c= overriding the session one, a rejected video line and ptime echo.
func TestAnswerShapes(t *testing.T) {
	offer := baseOffer +
		"m=application 9 TCP/TLS/MRCPv2 1\r\na=setup:active\r\na=connection:existing\r\na=resource:speechsynth\r\na=cmid:2\r\n" +
		"m=application 0 TCP/MRCPv2 1\r\na=channel:00000000000000aa@speechrecog\r\na=cmid:1\r\n" +
		"m=audio 7000 RTP/AVP 8\r\nc=IN IP4 127.0.0.9\r\na=recvonly\r\na=ptime:30\r\na=mid:2\r\n" +
		"m=video 9000 RTP/AVP 31\r\n"
	o, err := ParseOffer([]byte(offer))
	if err != nil {
		t.Fatal(err)
	}
	if o.Control[1].Port != 0 || o.Control[1].Channel != "00000000000000aa@speechrecog" {
		t.Errorf("removed control = %+v", o.Control[1])
	}
	if o.Audio[0].ConnAddr != "127.0.0.9" || o.Audio[0].Index != 2 {
		t.Errorf("audio = %+v, want media-level c= 127.0.0.9 at index 2", o.Audio[0])
	}
	codec, te, err := NegotiateAudio(o.Audio[0], supported)
	if err != nil {
		t.Fatal(err)
	}
	ans := &Answer{SessionID: 7, Version: 8, Addr: "::1",
		Control: []AnswerControl{{Port: 1545, Connection: "existing", Channel: "00000000000000bb@speechsynth"}, {Rejected: true, Channel: "00000000000000aa@speechrecog"}},
		Audio:   []AnswerAudio{{Port: 5002, Format: codec, TelephoneEvent: te}}}
	b, err := BuildAnswer(o, ans)
	if err != nil {
		t.Fatal(err)
	}
	want := "v=0\r\no=mrcpd 7 8 IN IP6 ::1\r\ns=-\r\nc=IN IP6 ::1\r\nt=0 0\r\n" +
		"m=application 1545 TCP/TLS/MRCPv2 1\r\na=setup:passive\r\na=connection:existing\r\na=channel:00000000000000bb@speechsynth\r\na=cmid:2\r\n" +
		"m=application 0 TCP/MRCPv2 1\r\na=channel:00000000000000aa@speechrecog\r\na=cmid:1\r\n" +
		"m=audio 5002 RTP/AVP 8\r\na=rtpmap:8 PCMA/8000\r\na=sendonly\r\na=ptime:30\r\na=mid:2\r\n" +
		"m=video 0 RTP/AVP 31\r\n"
	if string(b) != want {
		t.Errorf("answer\n%s\nwant\n%s", b, want)
	}
	if _, err := BuildAnswer(o, &Answer{Addr: "127.0.0.1"}); err == nil {
		t.Error("BuildAnswer with missing lines succeeded")
	}
}

func TestNewChannelID(t *testing.T) {
	id := NewChannelID("speechrecog")
	hexPart, res, ok := strings.Cut(id, "@")
	if !ok || res != "speechrecog" || len(hexPart) != 16 || strings.Trim(hexPart, "0123456789abcdef") != "" {
		t.Errorf("NewChannelID = %q", id)
	}
	if NewChannelID("x") == NewChannelID("x") {
		t.Error("two channel ids are equal")
	}
}

// TestParseAnswer reads UniMRCP's answers the way a client does.
func TestParseAnswer(t *testing.T) {
	dir := mrcptest.Fixtures(t)
	b, err := os.ReadFile(filepath.Join(dir, "unimrcp-server-1.8", "recog-200-OK-answer-to-mod_unimrcp.sip"))
	if err != nil {
		t.Fatal(err)
	}
	_, body, _ := strings.Cut(string(b), "\r\n\r\n")
	a, err := ParseAnswer([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	c, au := a.Control[0], a.Audio[0]
	if c.Port != 1544 || c.Setup != "passive" || c.Channel != "6badd17a12324d3b@speechrecog" || c.Resource != "speechrecog" {
		t.Errorf("control %+v", c)
	}
	if au.Port != 5320 || au.ConnAddr != "127.0.0.1" || au.Direction != "recvonly" || len(au.Formats) != 2 || au.Formats[1].Fmtp != "0-15" {
		t.Errorf("audio %+v", au)
	}
	if _, err := ParseOffer([]byte(body)); err == nil {
		t.Error("ParseOffer accepted a=setup:passive")
	}
}

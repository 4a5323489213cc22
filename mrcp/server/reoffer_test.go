package server

import (
	"context"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/mrcpd/mrcpd/mrcp"
	"github.com/mrcpd/mrcpd/mrcp/sip"
)

var originRE = regexp.MustCompile(`o=\S+ \d+ (\d+) `)

// A refused re-offer changes nothing (RFC 3261 §14.2): not when its answer would not fit the UDP
// datagram of its 200 (513; before, the session kept the new offer's state while the client kept
// the old one), nor when a later m-line is refused (404). The re-offer removed the channel and
// added a synthesizer with its audio line: the channel still answers, nothing new is registered,
// and the next refresh's answer has the version the refused one would have had.
func TestRefusedReofferChangesNothing(t *testing.T) {
	h := newHarness(t, nil)
	body := string(sdpBody(t, modRecogInvite))
	ids, first := h.offer("call-1", []byte(body))
	removeAndAdd := strings.Replace(body, "m=application 9 ", "m=application 0 ", 1) +
		"m=application 9 TCP/MRCPv2 1\r\na=setup:active\r\na=connection:new\r\na=resource:speechsynth\r\na=cmid:2\r\n" +
		"m=audio 6012 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=recvonly\r\na=mid:2\r\n"
	call := &sip.Call{CallID: "call-1", Remote: "127.0.0.1:5092"}
	cl := h.dial()
	reqID := uint32(0)
	for name, tc := range map[string]struct {
		ctx  context.Context
		sdp  string
		code int
	}{
		"too large for UDP": {sip.WithMaxAnswer(context.Background(), 200), removeAndAdd, 513},
		"later m-line refused": {context.Background(), removeAndAdd +
			"m=application 9 TCP/MRCPv2 1\r\na=setup:active\r\na=connection:new\r\na=resource:speakfreely\r\na=cmid:3\r\n", 404},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := h.srv.Offer(tc.ctx, call, []byte(tc.sdp), true); sipStatus(err) != tc.code {
				t.Fatalf("re-offer: %v, want %d", err, tc.code)
			}
			h.srv.mu.Lock()
			n := len(h.srv.channels)
			h.srv.mu.Unlock()
			if n != 1 {
				t.Fatalf("%d channels registered after the refused re-offer, want the first", n)
			}
			reqID++
			cl.send(mrcp.NewRequest(mrcp.MethodGetParams, reqID, ids[0]))
			if m := cl.next(); m.StatusCode != 200 {
				t.Fatalf("the channel the refused re-offer removed: %d", m.StatusCode)
			}
		})
	}
	again, err := h.srv.Offer(context.Background(), call, []byte(body), true)
	if err != nil {
		t.Fatal(err)
	}
	v1, v2 := originRE.FindStringSubmatch(string(first)), originRE.FindStringSubmatch(string(again))
	if v1 == nil || v2 == nil || mline(again, "m=audio") != mline(first, "m=audio") {
		t.Fatalf("refresh after refused re-offers:\n%s", again)
	}
	a, _ := strconv.ParseUint(v1[1], 10, 64)
	b, _ := strconv.ParseUint(v2[1], 10, 64)
	if b != a+1 {
		t.Fatalf("o= version %d after refused re-offers, want %d", b, a+1)
	}
}

package server

import (
	"bytes"
	"context"
	"encoding/base64"
	"regexp"
	"strings"
	"testing"

	"github.com/mrcpd/mrcpd/mrcp/sip"
)

const offeredKey = "BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcH"

// savpOffer is mod_unimrcp's recognizer offer as RTP/SAVP with an SDES key (RFC 4568).
func savpOffer(t *testing.T, key string) []byte {
	return []byte(strings.Replace(string(sdpBody(t, modRecogInvite)), "RTP/AVP", "RTP/SAVP", 1) +
		"a=crypto:3 AES_CM_128_HMAC_SHA1_32 inline:" + key + "\r\n")
}

var answerCryptoRE = regexp.MustCompile(`a=crypto:(\d+) (\S+) inline:(\S+)`)

// rtp.srtp: off refuses RTP/SAVP (488 naming the key); optional answers it with RTP/SAVP and a
// key of ours and hands both keys to the stream, and serves RTP/AVP plain; required refuses
// RTP/AVP. A re-offer keeps the keys, and one that changes them is refused.
func TestSRTPPolicy(t *testing.T) {
	offer := func(h *harness, id string, body []byte) ([]byte, error) {
		return h.srv.Offer(context.Background(), &sip.Call{CallID: id, Remote: "127.0.0.1:5092"}, body, false)
	}
	off := newHarness(t, nil)
	if _, err := offer(off, "savp", savpOffer(t, offeredKey)); sipStatus(err) != 488 || !strings.Contains(err.Error(), "rtp.srtp") {
		t.Fatalf("RTP/SAVP with rtp.srtp off: %v, want 488 naming rtp.srtp", err)
	}

	opt := newHarness(t, func(c *Config) { c.SRTP = SRTPOptional })
	ans, err := offer(opt, "savp", savpOffer(t, offeredKey))
	if err != nil {
		t.Fatal(err)
	}
	m := answerCryptoRE.FindSubmatch(ans)
	if !strings.Contains(mline(ans, "m=audio"), "RTP/SAVP") || m == nil || string(m[1]) != "3" ||
		string(m[2]) != "AES_CM_128_HMAC_SHA1_32" || string(m[3]) == offeredKey {
		t.Fatalf("answer does not keep RTP/SAVP with a key of ours for tag 3:\n%s", ans)
	}
	ours, _ := base64.StdEncoding.DecodeString(string(m[3]))
	theirs, _ := base64.StdEncoding.DecodeString(offeredKey)
	k := opt.media.receiver(t, 0).cfg.SRTP
	if k == nil || k.Suite != "AES_CM_128_HMAC_SHA1_32" || !bytes.Equal(k.Remote, theirs) || !bytes.Equal(k.Local, ours) {
		t.Fatalf("stream keys %+v", k)
	}
	again, err := opt.srv.Offer(context.Background(), &sip.Call{CallID: "savp", Remote: "127.0.0.1:5092"}, savpOffer(t, offeredKey), true)
	if err != nil || !bytes.Contains(again, m[0]) {
		t.Fatalf("refresh with the same key: %v\n%s", err, again)
	}
	_, err = opt.srv.Offer(context.Background(), &sip.Call{CallID: "savp", Remote: "127.0.0.1:5092"},
		savpOffer(t, "CAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI"), true)
	if sipStatus(err) != 488 {
		t.Fatalf("re-offer changing the key: %v, want 488", err)
	}
	ans, err = offer(opt, "avp", sdpBody(t, modRecogInvite))
	if err != nil || strings.Contains(string(ans), "a=crypto") || opt.media.receiver(t, 1).cfg.SRTP != nil {
		t.Fatalf("RTP/AVP with rtp.srtp optional: %v\n%s", err, ans)
	}

	req := newHarness(t, func(c *Config) { c.SRTP = SRTPRequired })
	if _, err := offer(req, "avp", sdpBody(t, modRecogInvite)); sipStatus(err) != 488 || !strings.Contains(err.Error(), "required") {
		t.Fatalf("RTP/AVP with rtp.srtp required: %v, want 488", err)
	}
	if _, err := offer(req, "savp", savpOffer(t, offeredKey)); err != nil {
		t.Fatalf("RTP/SAVP with rtp.srtp required: %v", err)
	}
}

func TestParseSRTPPolicy(t *testing.T) {
	for in, want := range map[string]SRTPPolicy{"": SRTPOff, "off": SRTPOff, "optional": SRTPOptional, "required": SRTPRequired} {
		if got, err := ParseSRTPPolicy(in); err != nil || got != want {
			t.Errorf("%q: %v %v", in, got, err)
		}
	}
	if _, err := ParseSRTPPolicy("on"); err == nil {
		t.Error(`"on" accepted`)
	}
}

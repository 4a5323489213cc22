package sdp

import (
	"bytes"
	"encoding/base64"
	"strings"
	"testing"
)

var testKey = base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, KeySaltLen))

func savpOffer(cryptoLines ...string) string {
	var b strings.Builder
	b.WriteString(baseOffer + recogControl + "m=audio 6010 RTP/SAVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\na=sendonly\r\na=mid:1\r\n")
	for _, c := range cryptoLines {
		b.WriteString("a=crypto:" + c + "\r\n")
	}
	return b.String()
}

// TestCryptoOfferAnswer: RFC 4568 SDES on an RTP/SAVP line: unusable alternatives are skipped,
// the first usable one is taken (the offerer's preference), and the answer keeps RTP/SAVP with
// the same tag and suite and a fresh key of ours.
func TestCryptoOfferAnswer(t *testing.T) {
	o, err := ParseOffer([]byte(savpOffer(
		"1 AES_256_CM_HMAC_SHA1_80 inline:"+testKey,
		"2 AES_CM_128_HMAC_SHA1_80 inline:"+testKey+"|2^20", // must be re-keyed after 2^20 packets
		"3 AES_CM_128_HMAC_SHA1_80 inline:"+testKey+"|1:4",  // MKI
		"4 AES_CM_128_HMAC_SHA1_32 inline:"+testKey+"|2^31",
		"5 AES_CM_128_HMAC_SHA1_80 inline:"+testKey)))
	if err != nil {
		t.Fatal(err)
	}
	au := o.Audio[0]
	if au.Proto != ProtoSRTP || len(au.Crypto) != 2 || au.Crypto[0].Tag != 4 || au.Crypto[1].Tag != 5 {
		t.Fatalf("audio %+v", au)
	}
	remote, local, err := NegotiateCrypto(au)
	if err != nil {
		t.Fatal(err)
	}
	if remote.Tag != 4 || remote.Suite != SuiteAES32 || local.Tag != 4 || local.Suite != SuiteAES32 ||
		len(local.Key) != KeySaltLen || bytes.Equal(local.Key, remote.Key) {
		t.Fatalf("remote %+v local %+v", remote, local)
	}
	codec, te, err := NegotiateAudio(au, supported)
	if err != nil {
		t.Fatal(err)
	}
	ans, err := BuildAnswer(o, &Answer{Addr: "127.0.0.1", Control: []AnswerControl{{Port: 1544, Channel: "a@speechrecog"}},
		Audio: []AnswerAudio{{Port: 5000, Format: codec, TelephoneEvent: te, Crypto: local}}})
	if err != nil {
		t.Fatal(err)
	}
	want := "a=crypto:4 AES_CM_128_HMAC_SHA1_32 inline:" + base64.StdEncoding.EncodeToString(local.Key) + "\r\n"
	if !strings.Contains(string(ans), "m=audio 5000 RTP/SAVP 0 101\r\n") || !strings.Contains(string(ans), want) {
		t.Fatalf("answer lacks RTP/SAVP or %q:\n%s", want, ans)
	}
}

// TestCryptoRefusals: malformed a=crypto lines are a 488 naming the fault; an RTP/SAVP line
// with no usable key cannot be answered; a=crypto on RTP/AVP is ignored (RFC 4568 §5).
func TestCryptoRefusals(t *testing.T) {
	for name, line := range map[string]string{
		"short key":  "1 AES_CM_128_HMAC_SHA1_80 inline:" + base64.StdEncoding.EncodeToString([]byte("short")),
		"not base64": "1 AES_CM_128_HMAC_SHA1_80 inline:!!!",
		"no inline":  "1 AES_CM_128_HMAC_SHA1_80 uri:x",
		"bad tag":    "x AES_CM_128_HMAC_SHA1_80 inline:" + testKey,
		"long tag":   "1234567890 AES_CM_128_HMAC_SHA1_80 inline:" + testKey,
		"two fields": "1 AES_CM_128_HMAC_SHA1_80",
	} {
		if _, err := ParseOffer([]byte(savpOffer(line))); err == nil || !strings.Contains(err.Error(), "a=crypto") {
			t.Errorf("%s: %v, want a 488 naming a=crypto", name, err)
		}
	}
	o, err := ParseOffer([]byte(savpOffer("1 F8_128_HMAC_SHA1_80 inline:" + testKey)))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := NegotiateCrypto(o.Audio[0]); err == nil {
		t.Error("an unsupported suite negotiated")
	}
	o, err = ParseOffer([]byte(strings.Replace(savpOffer("1 AES_CM_128_HMAC_SHA1_80 inline:"+testKey), "RTP/SAVP", "RTP/AVP", 1)))
	if err != nil || len(o.Audio[0].Crypto) != 0 {
		t.Errorf("RTP/AVP with a=crypto: %v %+v", err, o)
	}
	if _, err := ParseOffer([]byte(strings.Replace(savpOffer(), "RTP/SAVP", "UDP/TLS/RTP/SAVPF", 1))); err == nil {
		t.Error("an audio proto other than RTP/AVP and RTP/SAVP accepted")
	}
}

package media_test

import (
	"bytes"
	"testing"

	"github.com/mrcpd/mrcpd/media"
	"github.com/mrcpd/mrcpd/media/mediatest"
)

// TestSRTPRoundTrip: what one side seals with its key the other opens with the same key as the
// peer's, for both suites; a flipped bit, a packet sealed with another key, plain RTP (a forged
// telephone-event) and random bytes are all refused and counted.
func TestSRTPRoundTrip(t *testing.T) {
	keyA, keyB := bytes.Repeat([]byte{1}, 30), bytes.Repeat([]byte{2}, 30)
	for _, suite := range []string{"AES_CM_128_HMAC_SHA1_80", "AES_CM_128_HMAC_SHA1_32"} {
		t.Run(suite, func(t *testing.T) {
			a, err := media.NewSRTP(suite, keyB, keyA)
			if err != nil {
				t.Fatal(err)
			}
			b, err := media.NewSRTP(suite, keyA, keyB)
			if err != nil {
				t.Fatal(err)
			}
			st := &mediatest.Stream{PT: 0, SSRC: 7, Seq: 1}
			for i := range 5 {
				plain := st.Next(bytes.Repeat([]byte{byte(i)}, 160), 160)
				sealed, err := a.Seal(nil, plain)
				if err != nil {
					t.Fatal(err)
				}
				if bytes.Contains(sealed, plain[12:]) {
					t.Fatal("payload sent in clear")
				}
				opened, err := b.Open(nil, sealed)
				if err != nil || !bytes.Equal(opened, plain) {
					t.Fatalf("packet %d: %v", i, err)
				}
			}
			sealed, _ := a.Seal(nil, st.Next(make([]byte, 160), 160))
			tampered := bytes.Clone(sealed)
			tampered[20] ^= 1
			other, _ := media.NewSRTP(suite, keyA, bytes.Repeat([]byte{3}, 30))
			wrongKey, _ := other.Seal(nil, st.Next(make([]byte, 160), 160))
			forged := st.Event(101, 0, media.TelephoneEvent{Event: 9, Duration: 160}.Append(nil), true)
			for name, pkt := range map[string][]byte{"tampered": tampered, "wrong key": wrongKey,
				"plain RTP": forged, "random": bytes.Repeat([]byte{0x80, 0x65, 0x17}, 20)} {
				if _, err := b.Open(nil, pkt); err == nil {
					t.Errorf("%s packet opened", name)
				}
			}
			if b.Rejected() != 4 {
				t.Errorf("%d rejected, want 4", b.Rejected())
			}
		})
	}
	if _, err := media.NewSRTP("F8_128_HMAC_SHA1_80", keyA, keyB); err == nil {
		t.Error("an unsupported suite accepted")
	}
	if _, err := media.NewSRTP("AES_CM_128_HMAC_SHA1_80", keyA[:16], keyB); err == nil {
		t.Error("a key without its salt accepted")
	}
}

package sdp

import (
	"errors"
	"testing"
)

// FuzzParseOffer checks that no input panics, that every failure is an *Error with a SIP code,
// and that every accepted offer can be answered. Seeds: testdata/fuzz/FuzzParseOffer (the
// captured INVITE bodies of mod_unimrcp and the UniMRCP client) plus the shapes below.
func FuzzParseOffer(f *testing.F) {
	f.Add([]byte(baseOffer + recogControl + pcmuAudio))
	f.Add([]byte(baseOffer + "m=application 0 TCP/MRCPv2 1\r\na=cmid:1\r\nm=audio 0 RTP/AVP 0\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		o, err := ParseOffer(b)
		if err != nil {
			var se *Error
			if !errors.As(err, &se) || (se.Code != 488 && se.Code != 404) || se.Warning == "" {
				t.Fatalf("error %v is not a 488/404 *Error", err)
			}
			return
		}
		a := &Answer{Addr: "127.0.0.1"}
		for _, c := range o.Control {
			a.Control = append(a.Control, AnswerControl{Port: 1544, Channel: NewChannelID(c.Resource)})
		}
		for _, au := range o.Audio {
			codec, te, err := NegotiateAudio(au, supported)
			var local *Crypto
			if au.Proto == ProtoSRTP && err == nil {
				var remote *Crypto
				if remote, local, err = NegotiateCrypto(au); err == nil && len(remote.Key) != KeySaltLen {
					t.Fatalf("negotiated a %d-byte key", len(remote.Key))
				}
			}
			a.Audio = append(a.Audio, AnswerAudio{Port: 5000, Format: codec, TelephoneEvent: te, Rejected: err != nil, Crypto: local})
		}
		ans, err := BuildAnswer(o, a)
		if err != nil {
			t.Fatalf("BuildAnswer: %v", err)
		}
		if _, err := ParseOffer(ans); err != nil {
			var se *Error
			// An answer is not an offer (setup:passive) but must be valid SDP.
			if errors.As(err, &se) && len(se.Warning) > 9 && se.Warning[:9] == "malformed" {
				t.Fatalf("our answer does not parse: %v\n%s", err, ans)
			}
		}
	})
}

// FuzzParseAnswer: what a client (mrcpclient, the load tool) reads from a server's answer. No
// input panics, every failure is an *Error, and an accepted answer names a channel for each
// control line it did not refuse. Seeds: testdata/fuzz/FuzzParseAnswer (UniMRCP's answers).
func FuzzParseAnswer(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := ParseAnswer(b)
		if err != nil {
			var se *Error
			if !errors.As(err, &se) || se.Warning == "" {
				t.Fatalf("error %v is not an *Error", err)
			}
			return
		}
		for _, c := range a.Control {
			if c.Port != 0 && c.Resource == "" {
				t.Fatalf("accepted control line %d without a resource", c.Index)
			}
		}
	})
}

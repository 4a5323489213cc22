package sdp

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
)

// SRTP key exchange in SDP (SDES, RFC 4568): an RTP/SAVP audio line carries one or more
// a=crypto lines, "<tag> <suite> inline:<base64 key||salt>[|<lifetime>][|<MKI>:<len>]", each an
// alternative; the answer accepts one, echoing its tag and suite with a key of its own.

// The audio protos of RFC 3551 and RFC 3711.
const (
	ProtoRTP  = "RTP/AVP"
	ProtoSRTP = "RTP/SAVP"
)

// The crypto suites mrcpd implements (RFC 4568 §6.2): AES counter mode with a 128-bit key and
// an 80- or 32-bit HMAC-SHA1 tag. Both take 16 bytes of key and 14 of salt.
const (
	SuiteAES80 = "AES_CM_128_HMAC_SHA1_80"
	SuiteAES32 = "AES_CM_128_HMAC_SHA1_32"
)

// KeySaltLen is the length of an inline key of the supported suites: master key and salt.
const KeySaltLen = 30

// Crypto is one a=crypto line of a supported suite.
type Crypto struct {
	Tag   int
	Suite string
	Key   []byte // master key followed by master salt, KeySaltLen bytes
}

// maxCryptoLines bounds what is read of one m-line: an offer lists a few alternatives.
const maxCryptoLines = 16

// parseCrypto reads one a=crypto value. ok is false for a line mrcpd cannot use (another suite,
// several keys, an MKI, a short lifetime, session parameters), which an offer may carry as an
// alternative; err is set for a line that is malformed.
func parseCrypto(v string) (c Crypto, ok bool, err error) {
	f := strings.Fields(v)
	if len(f) < 3 {
		return c, false, fmt.Errorf("a=crypto %q: want <tag> <suite> <key-params>", v)
	}
	tag, err := strconv.ParseUint(f[0], 10, 31) // RFC 4568 §9.1: 1*9DIGIT
	if err != nil || len(f[0]) > 9 {
		return c, false, fmt.Errorf("a=crypto tag %q is not a number of 1-9 digits", f[0])
	}
	c.Tag, c.Suite = int(tag), f[1]
	if (c.Suite != SuiteAES80 && c.Suite != SuiteAES32) || len(f) > 3 || strings.Contains(f[2], ";") {
		return c, false, nil
	}
	params, ok := strings.CutPrefix(f[2], "inline:")
	if !ok {
		return c, false, fmt.Errorf("a=crypto key-params %q: want inline:", f[2])
	}
	parts := strings.Split(params, "|")
	key, err := base64.StdEncoding.DecodeString(parts[0])
	if err != nil || len(key) != KeySaltLen {
		return c, false, fmt.Errorf("a=crypto key of %s is not %d bytes of base64", c.Suite, KeySaltLen)
	}
	c.Key = key
	for _, p := range parts[1:] {
		if strings.Contains(p, ":") { // MKI: one key per direction is all mrcpd keeps
			return c, false, nil
		}
		if !longLifetime(p) {
			return c, false, nil
		}
	}
	return c, true, nil
}

// longLifetime accepts a key lifetime (RFC 4568 §6.1, "2^n" or a count) no shorter than 2^31
// packets, the SRTP maximum for these suites (RFC 3711 §9.2), so that no re-keying is needed.
func longLifetime(p string) bool {
	if n, ok := strings.CutPrefix(p, "2^"); ok {
		e, err := strconv.Atoi(n)
		return err == nil && e >= 31
	}
	v, err := strconv.ParseUint(p, 10, 64)
	return err == nil && v >= 1<<31
}

// NegotiateCrypto picks the key for an offered RTP/SAVP line: the first a=crypto of a supported
// suite (RFC 4568 §7.1.1, the offerer's preference) and a fresh key of ours for the answer.
func NegotiateCrypto(a Audio) (remote, local *Crypto, err error) {
	for _, c := range a.Crypto {
		c := c
		ours := Crypto{Tag: c.Tag, Suite: c.Suite, Key: make([]byte, KeySaltLen)}
		_, _ = rand.Read(ours.Key) // crypto/rand.Read never fails (Go 1.24+)
		return &c, &ours, nil
	}
	return nil, nil, notAcceptable("no a=crypto with a usable %s or %s key (RFC 4568 SDES)", SuiteAES80, SuiteAES32)
}

func (c Crypto) attribute() string {
	return strconv.Itoa(c.Tag) + " " + c.Suite + " inline:" + base64.StdEncoding.EncodeToString(c.Key)
}

package media

import (
	"fmt"
	"sync/atomic"

	"github.com/pion/rtp"
	"github.com/pion/srtp/v3"
)

// SRTP is the stage that removes (receive) and applies (send) SRTP protection with the keys of
// an SDES exchange (RFC 3711; RFC 4568): the peer's key opens what it sends, ours seals what we
// send. A datagram that fails authentication (forged, replayed, random) is dropped and counted.
type SRTP struct {
	suite    string
	in, out  *srtp.Context
	rejected atomic.Uint64
	// parsed headers, reused: each direction is used by one goroutine at a time (a worker, or an
	// SRTPConn's reader and writer), and a header per packet was the stage's only allocation
	inHdr, outHdr rtp.Header
}

// SRTP suites, as SDP names them (RFC 4568 §6.2).
var srtpProfiles = map[string]srtp.ProtectionProfile{
	"AES_CM_128_HMAC_SHA1_80": srtp.ProtectionProfileAes128CmHmacSha1_80,
	"AES_CM_128_HMAC_SHA1_32": srtp.ProtectionProfileAes128CmHmacSha1_32,
}

// SRTPKeys are what an SDES exchange negotiated for a stream (RFC 4568): the suite, the peer's
// key and ours, each master key followed by master salt.
type SRTPKeys struct {
	Suite         string
	Remote, Local []byte
}

// NewSRTP builds both directions; each key is master key followed by master salt (30 bytes).
func NewSRTP(suite string, remoteKey, localKey []byte) (*SRTP, error) {
	p, ok := srtpProfiles[suite]
	if !ok {
		return nil, fmt.Errorf("media: SRTP suite %q not supported", suite)
	}
	in, err := srtpContext(p, remoteKey)
	if err != nil {
		return nil, fmt.Errorf("media: SRTP peer key: %w", err)
	}
	out, err := srtpContext(p, localKey)
	if err != nil {
		return nil, fmt.Errorf("media: SRTP local key: %w", err)
	}
	return &SRTP{suite: suite, in: in, out: out}, nil
}

func srtpContext(p srtp.ProtectionProfile, keySalt []byte) (*srtp.Context, error) {
	kl, err := p.KeyLen()
	if err != nil {
		return nil, err
	}
	sl, err := p.SaltLen()
	if err != nil {
		return nil, err
	}
	if len(keySalt) != kl+sl {
		return nil, fmt.Errorf("key and salt of %d bytes, want %d", len(keySalt), kl+sl)
	}
	return srtp.CreateContext(keySalt[:kl], keySalt[kl:], p)
}

// Open authenticates and decrypts a received SRTP packet into dst (which may be pkt[:0]).
func (s *SRTP) Open(dst, pkt []byte) ([]byte, error) {
	b, err := s.in.DecryptRTP(dst, pkt, &s.inHdr)
	if err != nil {
		s.rejected.Add(1)
		return nil, fmt.Errorf("media: SRTP: %w", err)
	}
	return b, nil
}

// Seal protects an RTP packet to send.
func (s *SRTP) Seal(dst, pkt []byte) ([]byte, error) { return s.out.EncryptRTP(dst, pkt, &s.outHdr) }

// OpenRTCP and SealRTCP do the same for RTCP (SRTCP, RFC 3711 §3.4).
func (s *SRTP) OpenRTCP(dst, pkt []byte) ([]byte, error) {
	b, err := s.in.DecryptRTCP(dst, pkt, nil)
	if err != nil {
		s.rejected.Add(1)
		return nil, fmt.Errorf("media: SRTCP: %w", err)
	}
	return b, nil
}

func (s *SRTP) SealRTCP(dst, pkt []byte) ([]byte, error) { return s.out.EncryptRTCP(dst, pkt, nil) }

// Rejected counts datagrams that failed authentication.
func (s *SRTP) Rejected() uint64 { return s.rejected.Load() }

func (s *SRTP) String() string { return "SRTP(" + s.suite + ")" }

package server

import (
	"bytes"
	"fmt"

	"github.com/mrcpd/mrcpd/media"
	"github.com/mrcpd/mrcpd/mrcp/sdp"
	"github.com/mrcpd/mrcpd/mrcp/sip"
)

// SRTPPolicy is rtp.srtp: which RTP profiles an audio m-line may use.
type SRTPPolicy string

const (
	// SRTPOff answers RTP/SAVP with 488: the media is plain RTP/AVP.
	SRTPOff SRTPPolicy = "off"
	// SRTPOptional protects what is offered as RTP/SAVP with SDES keys and serves RTP/AVP plain.
	SRTPOptional SRTPPolicy = "optional"
	// SRTPRequired refuses RTP/AVP with 488.
	SRTPRequired SRTPPolicy = "required"
)

// ParseSRTPPolicy reads rtp.srtp; empty is off.
func ParseSRTPPolicy(s string) (SRTPPolicy, error) {
	switch p := SRTPPolicy(s); p {
	case "":
		return SRTPOff, nil
	case SRTPOff, SRTPOptional, SRTPRequired:
		return p, nil
	}
	return "", fmt.Errorf("%q: want off, optional or required", s)
}

// negotiateSRTP applies rtp.srtp to an offered audio line (RFC 4568 §7.1): the keys of the
// stream, nil for RTP/AVP, and the a=crypto of our answer. An endpoint keeps its profile and
// keys for its life: the engine's stream was built with them, so a re-offer that changes
// either is refused (488) rather than answered with keys that would not be used.
func (se *session) negotiateSRTP(au sdp.Audio, ep *endpoint) (*media.SRTPKeys, *sdp.Crypto, error) {
	policy := se.srv.cfg.SRTP
	if au.Proto != sdp.ProtoSRTP {
		switch {
		case policy == SRTPRequired:
			return nil, nil, sip.Errorf(488, nil, "rtp.srtp is required: offer RTP/SAVP with a=crypto, not %s", au.Proto)
		case ep != nil && ep.srtp != nil:
			return nil, nil, sip.Errorf(488, nil, "audio %q is RTP/SAVP and cannot change to %s", au.Mid, au.Proto)
		}
		return nil, nil, nil
	}
	if policy != SRTPOptional && policy != SRTPRequired {
		return nil, nil, sip.Errorf(488, nil, "RTP/SAVP (SRTP) is off on this server (rtp.srtp); offer RTP/AVP")
	}
	if ep != nil {
		return keptSRTP(au, ep)
	}
	remote, local, err := sdp.NegotiateCrypto(au)
	if err != nil {
		return nil, nil, err
	}
	return &media.SRTPKeys{Suite: remote.Suite, Remote: remote.Key, Local: local.Key}, local, nil
}

// keptSRTP answers a re-offer for a running endpoint: the same suite and peer key again get the
// same answer (a session refresh); anything else is 488.
func keptSRTP(au sdp.Audio, ep *endpoint) (*media.SRTPKeys, *sdp.Crypto, error) {
	if ep.srtp == nil {
		return nil, nil, sip.Errorf(488, nil, "audio %q is RTP/AVP and cannot change to %s", au.Mid, au.Proto)
	}
	for _, c := range au.Crypto {
		if c.Suite == ep.srtp.Suite && bytes.Equal(c.Key, ep.srtp.Remote) {
			return ep.srtp, &sdp.Crypto{Tag: c.Tag, Suite: c.Suite, Key: ep.srtp.Local}, nil
		}
	}
	return nil, nil, sip.Errorf(488, nil, "audio %q cannot change its SRTP keys in a re-offer", au.Mid)
}

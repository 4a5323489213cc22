// Package sdp is the MRCPv2 offer/answer model (RFC 6787 §4.2 on RFC 3264) on top of pion/sdp.
//
// An MRCPv2 offer carries one m=application line per control channel (a=resource names the
// resource, a=cmid ties it to an audio m-line's a=mid) and audio m-lines for the media. The
// answer echoes the m-lines in the offer's order, which RFC 3264 §6 requires.
package sdp

import (
	"strconv"
	"strings"

	"github.com/pion/sdp/v3"

	"github.com/mrcpd/mrcpd/media"
)

// Format is one RTP payload format of an audio m-line: the media engine's type, so that what
// negotiation picks is what the engine runs.
type Format = media.Format

// Offer is the part of an SDP offer an MRCPv2 server acts on.
type Offer struct {
	Origin   string // the o= value; its address is the sender's host, not where media goes
	ConnAddr string // session-level c= address
	Control  []Control
	Audio    []Audio
	Raw      *sdp.SessionDescription
}

// Control is one m=application line (RFC 6787 §4.2).
type Control struct {
	Index      int // position among all m-lines of the offer
	Port       int // 0: the client removes this channel (re-INVITE)
	Proto      string
	Setup      string
	Connection string
	Resource   string
	Cmid       string
	Channel    string // present in re-offers of an established channel
}

// Audio is one m=audio line.
type Audio struct {
	Index     int
	Port      int
	Proto     string   // ProtoRTP or ProtoSRTP
	Crypto    []Crypto // RTP/SAVP: the usable a=crypto alternatives, in the offer's order
	ConnAddr  string   // media-level c= when present, else the session-level one
	Formats   []Format
	Direction string // sendrecv, sendonly, recvonly or inactive (RFC 3264 §5.1)
	Mid       string
	Ptime     int
}

// The MRCPv2 control protos of RFC 6787 §4.2 (TLS per §4.4).
const (
	ProtoTCP = "TCP/MRCPv2"
	ProtoTLS = "TCP/TLS/MRCPv2"
)

// Resource types of RFC 6787 §3.
var rfcResources = map[string]bool{
	"speechrecog": true, "dtmfrecog": true, "speechsynth": true,
	"basicsynth": true, "speakverify": true, "recorder": true,
}

// Static payload types of RFC 3551 §6 that MRCP clients offer without an rtpmap.
var staticFormats = map[uint8]Format{
	0:  {PT: 0, Name: "PCMU", ClockRate: 8000, Channels: 1},
	3:  {PT: 3, Name: "GSM", ClockRate: 8000, Channels: 1},
	8:  {PT: 8, Name: "PCMA", ClockRate: 8000, Channels: 1},
	9:  {PT: 9, Name: "G722", ClockRate: 8000, Channels: 1},
	10: {PT: 10, Name: "L16", ClockRate: 44100, Channels: 2},
	11: {PT: 11, Name: "L16", ClockRate: 44100, Channels: 1},
	18: {PT: 18, Name: "G729", ClockRate: 8000, Channels: 1},
}

// ParseOffer parses an SDP offer of an MRCPv2 INVITE or re-INVITE. Every failure is an *Error:
// 488 with a Warning naming what is unusable, or 404 for a resource RFC 6787 does not define.
func ParseOffer(b []byte) (*Offer, error) { return parse(b, false) }

// ParseAnswer parses a server's SDP answer into the same shape (for clients): a=setup:passive is
// expected there, and the resource comes from a=channel (RFC 6787 §4.2).
func ParseAnswer(b []byte) (*Offer, error) { return parse(b, true) }

func parse(b []byte, answer bool) (*Offer, error) {
	raw := &sdp.SessionDescription{}
	if err := raw.Unmarshal(b); err != nil {
		return nil, notAcceptable("malformed SDP: %v", err)
	}
	o := &Offer{Origin: originString(raw.Origin), Raw: raw}
	if c := raw.ConnectionInformation; c != nil && c.Address != nil {
		o.ConnAddr = c.Address.Address
	}
	sessionDir := direction(raw.Attributes, "sendrecv")
	for i, md := range raw.MediaDescriptions {
		switch md.MediaName.Media {
		case "application":
			c, err := parseControl(i, md, answer)
			if err != nil {
				return nil, err
			}
			o.Control = append(o.Control, c)
		case "audio":
			a, err := parseAudio(i, md, o.ConnAddr, sessionDir)
			if err != nil {
				return nil, err
			}
			o.Audio = append(o.Audio, a)
		}
	}
	if len(o.Control) == 0 {
		return nil, notAcceptable("no m=application line (not an MRCPv2 offer)")
	}
	return o, nil
}

func originString(or sdp.Origin) string {
	return strings.Join([]string{or.Username, strconv.FormatUint(or.SessionID, 10),
		strconv.FormatUint(or.SessionVersion, 10), or.NetworkType, or.AddressType, or.UnicastAddress}, " ")
}

func parseControl(idx int, md *sdp.MediaDescription, answer bool) (Control, error) {
	c := Control{Index: idx, Port: md.MediaName.Port.Value, Proto: strings.Join(md.MediaName.Protos, "/")}
	if c.Proto != ProtoTCP && c.Proto != ProtoTLS {
		return c, notAcceptable("unsupported m=application proto %q (want %s or %s)", c.Proto, ProtoTCP, ProtoTLS)
	}
	for _, a := range md.Attributes {
		switch a.Key {
		case "setup":
			c.Setup = a.Value
		case "connection":
			c.Connection = a.Value
		case "resource":
			c.Resource = a.Value
		case "cmid":
			c.Cmid = a.Value
		case "channel":
			c.Channel = a.Value
		}
	}
	if c.Port == 0 {
		return c, nil // a removed channel needs no resource (RFC 3264 §8.2)
	}
	if c.Resource == "" {
		if _, res, ok := strings.Cut(c.Channel, "@"); ok {
			c.Resource = res
		} else {
			return c, notAcceptable("m=application without a=resource")
		}
	}
	if !rfcResources[c.Resource] {
		return c, UnknownResource(c.Resource)
	}
	if c.Setup == "passive" && !answer {
		// We never connect out (RFC 6787 §4.2: the client is the active side).
		return c, notAcceptable("a=setup:passive in the offer: the client must connect (active)")
	}
	return c, nil
}

func parseAudio(idx int, md *sdp.MediaDescription, sessionAddr, sessionDir string) (Audio, error) {
	a := Audio{Index: idx, Port: md.MediaName.Port.Value, ConnAddr: sessionAddr,
		Direction: direction(md.Attributes, sessionDir), Proto: strings.Join(md.MediaName.Protos, "/")}
	if a.Proto != ProtoRTP && a.Proto != ProtoSRTP && a.Port != 0 {
		return a, notAcceptable("unsupported audio proto %q (want %s or %s)", a.Proto, ProtoRTP, ProtoSRTP)
	}
	if c := md.ConnectionInformation; c != nil && c.Address != nil {
		a.ConnAddr = c.Address.Address // media-level c= overrides session-level (RFC 4566 §5.7)
	}
	byPT := map[uint8]int{}
	for _, f := range md.MediaName.Formats {
		pt, err := strconv.ParseUint(f, 10, 7)
		if err != nil {
			return a, notAcceptable("audio m-line format %q is not an RTP payload type", f)
		}
		format, ok := staticFormats[uint8(pt)]
		if !ok {
			format = Format{PT: uint8(pt)}
		}
		byPT[uint8(pt)] = len(a.Formats)
		a.Formats = append(a.Formats, format)
	}
	for _, at := range md.Attributes {
		switch at.Key {
		case "rtpmap":
			pt, f, ok := parseRtpmap(at.Value)
			if i, known := byPT[pt]; ok && known {
				f.Fmtp = a.Formats[i].Fmtp
				a.Formats[i] = f
			}
		case "fmtp":
			ptS, params, _ := strings.Cut(at.Value, " ")
			pt, err := strconv.ParseUint(ptS, 10, 7)
			if i, known := byPT[uint8(pt)]; err == nil && known {
				a.Formats[i].Fmtp = strings.TrimSpace(params)
			}
		case "mid":
			a.Mid = at.Value
		case "crypto":
			if a.Proto != ProtoSRTP || len(a.Crypto) == maxCryptoLines {
				continue // SDES keys belong to RTP/SAVP lines only (RFC 4568 §5)
			}
			c, ok, err := parseCrypto(at.Value)
			if err != nil {
				return a, notAcceptable("%v", err)
			}
			if ok {
				a.Crypto = append(a.Crypto, c)
			}
		case "ptime":
			if p, err := strconv.Atoi(at.Value); err == nil && p > 0 {
				a.Ptime = p
			}
		}
	}
	return a, nil
}

// parseRtpmap reads "<pt> <name>/<rate>[/<channels>]" (RFC 4566 §6).
func parseRtpmap(v string) (uint8, Format, bool) {
	ptS, enc, ok := strings.Cut(v, " ")
	if !ok {
		return 0, Format{}, false
	}
	pt, err := strconv.ParseUint(ptS, 10, 7)
	if err != nil {
		return 0, Format{}, false
	}
	parts := strings.Split(strings.TrimSpace(enc), "/")
	if len(parts) < 2 {
		return 0, Format{}, false
	}
	rate, err := strconv.Atoi(parts[1])
	if err != nil || rate <= 0 {
		return 0, Format{}, false
	}
	f := Format{PT: uint8(pt), Name: parts[0], ClockRate: rate, Channels: 1}
	if len(parts) > 2 {
		if ch, err := strconv.Atoi(parts[2]); err == nil && ch > 0 {
			f.Channels = ch
		}
	}
	return uint8(pt), f, true
}

func direction(attrs []sdp.Attribute, def string) string {
	for _, a := range attrs {
		switch a.Key {
		case "sendrecv", "sendonly", "recvonly", "inactive":
			return a.Key
		}
	}
	return def
}

// ReverseDirection is the answer's direction for an offered one (RFC 3264 §6.1).
func ReverseDirection(dir string) string {
	switch dir {
	case "sendonly":
		return "recvonly"
	case "recvonly":
		return "sendonly"
	case "inactive":
		return "inactive"
	}
	return "sendrecv"
}

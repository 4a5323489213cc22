package sdp

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/pion/sdp/v3"
)

// AnswerControl answers one offered m=application line. Empty fields take the offer's value
// (Proto, Cmid) or the RFC 6787 default (Connection "new").
type AnswerControl struct {
	Port       int
	Proto      string
	Connection string // "new" or "existing" (RFC 4145 §5; RFC 6787 §4.2)
	Channel    string // "<id>@<resource>"
	Cmid       string
	Rejected   bool // answered with port 0: the channel is removed or refused
}

// AnswerAudio answers one offered m=audio line. Empty Direction is the offer's reversed, empty
// Mid and zero Ptime echo the offer's.
type AnswerAudio struct {
	Port           int
	Format         Format
	TelephoneEvent *Format
	Direction      string
	Mid            string
	Ptime          int
	Rejected       bool
	// Crypto is our SRTP key (NegotiateCrypto) for an RTP/SAVP line, which the answer keeps
	// as RTP/SAVP; nil answers RTP/AVP.
	Crypto *Crypto
}

// Answer is what the server decided; BuildAnswer renders it against the offer.
type Answer struct {
	SessionID, Version uint64
	Addr               string // our address for both c= and o=
	Control            []AnswerControl
	Audio              []AnswerAudio
}

// answerUsername is the o= username; RFC 4566 §5.2 leaves it free.
const answerUsername = "mrcpd"

// BuildAnswer renders the SDP answer: one m-line per offered m-line in the offer's order
// (RFC 3264 §6), a.Control[i] answering o.Control[i] and a.Audio[i] answering o.Audio[i]. Media
// lines of other types are rejected with port 0.
func BuildAnswer(o *Offer, a *Answer) ([]byte, error) {
	if len(a.Control) != len(o.Control) || len(a.Audio) != len(o.Audio) {
		return nil, fmt.Errorf("sdp: answer has %d control and %d audio lines for an offer with %d and %d",
			len(a.Control), len(a.Audio), len(o.Control), len(o.Audio))
	}
	addrType := "IP4"
	if ip, err := netip.ParseAddr(a.Addr); err == nil && ip.Is6() && !ip.Is4In6() {
		addrType = "IP6"
	}
	d := &sdp.SessionDescription{
		Origin: sdp.Origin{Username: answerUsername, SessionID: a.SessionID, SessionVersion: a.Version,
			NetworkType: "IN", AddressType: addrType, UnicastAddress: a.Addr},
		SessionName: "-",
		ConnectionInformation: &sdp.ConnectionInformation{NetworkType: "IN", AddressType: addrType,
			Address: &sdp.Address{Address: a.Addr}},
		TimeDescriptions: []sdp.TimeDescription{{}},
	}
	media := make([]*sdp.MediaDescription, len(o.Raw.MediaDescriptions))
	for i, c := range o.Control {
		media[c.Index] = controlAnswer(c, a.Control[i])
	}
	for i, au := range o.Audio {
		m, err := audioAnswer(au, a.Audio[i])
		if err != nil {
			return nil, err
		}
		media[au.Index] = m
	}
	for i, m := range media {
		if m == nil { // video, text, ...: not ours (RFC 3264 §6: reject with port 0)
			off := o.Raw.MediaDescriptions[i].MediaName
			m = &sdp.MediaDescription{MediaName: sdp.MediaName{Media: off.Media, Port: sdp.RangedPort{},
				Protos: off.Protos, Formats: off.Formats}}
		}
		d.MediaDescriptions = append(d.MediaDescriptions, m)
	}
	return d.Marshal()
}

func controlAnswer(off Control, ans AnswerControl) *sdp.MediaDescription {
	proto := ans.Proto
	if proto == "" {
		proto = off.Proto
	}
	cmid := ans.Cmid
	if cmid == "" {
		cmid = off.Cmid
	}
	port := ans.Port
	if ans.Rejected || off.Port == 0 {
		port = 0
	}
	m := &sdp.MediaDescription{MediaName: sdp.MediaName{Media: "application",
		Port: sdp.RangedPort{Value: port}, Protos: strings.Split(proto, "/"), Formats: []string{"1"}}}
	if port != 0 {
		conn := ans.Connection
		if conn == "" {
			conn = "new"
		}
		m.Attributes = append(m.Attributes, sdp.NewAttribute("setup", "passive"),
			sdp.NewAttribute("connection", conn))
	}
	if ans.Channel != "" {
		m.Attributes = append(m.Attributes, sdp.NewAttribute("channel", ans.Channel))
	}
	if cmid != "" {
		m.Attributes = append(m.Attributes, sdp.NewAttribute("cmid", cmid))
	}
	return m
}

func audioAnswer(off Audio, ans AnswerAudio) (*sdp.MediaDescription, error) {
	proto := ProtoRTP
	if ans.Crypto != nil || (ans.Rejected || off.Port == 0) && off.Proto == ProtoSRTP {
		proto = ProtoSRTP
	}
	m := &sdp.MediaDescription{MediaName: sdp.MediaName{Media: "audio", Protos: strings.Split(proto, "/")}}
	if ans.Rejected || off.Port == 0 {
		for _, f := range off.Formats {
			m.MediaName.Formats = append(m.MediaName.Formats, strconv.Itoa(int(f.PT)))
		}
		if len(m.MediaName.Formats) == 0 {
			m.MediaName.Formats = []string{"0"}
		}
		return m, nil
	}
	if ans.Format.Name == "" || ans.Format.ClockRate <= 0 {
		return nil, fmt.Errorf("sdp: audio answer for m-line %d has no codec", off.Index)
	}
	m.MediaName.Port.Value = ans.Port
	formats := []Format{ans.Format}
	if ans.TelephoneEvent != nil {
		formats = append(formats, *ans.TelephoneEvent)
	}
	for _, f := range formats {
		m.MediaName.Formats = append(m.MediaName.Formats, strconv.Itoa(int(f.PT)))
	}
	for _, f := range formats {
		m.Attributes = append(m.Attributes, sdp.NewAttribute("rtpmap", rtpmap(f)))
		if f.Fmtp != "" {
			m.Attributes = append(m.Attributes, sdp.NewAttribute("fmtp", strconv.Itoa(int(f.PT))+" "+f.Fmtp))
		}
	}
	dir := ans.Direction
	if dir == "" {
		dir = ReverseDirection(off.Direction)
	}
	m.Attributes = append(m.Attributes, sdp.NewPropertyAttribute(dir))
	ptime := ans.Ptime
	if ptime == 0 {
		ptime = off.Ptime
	}
	if ptime > 0 {
		m.Attributes = append(m.Attributes, sdp.NewAttribute("ptime", strconv.Itoa(ptime)))
	}
	mid := ans.Mid
	if mid == "" {
		mid = off.Mid
	}
	if mid != "" {
		m.Attributes = append(m.Attributes, sdp.NewAttribute("mid", mid))
	}
	if ans.Crypto != nil {
		m.Attributes = append(m.Attributes, sdp.NewAttribute("crypto", ans.Crypto.attribute()))
	}
	return m, nil
}

func rtpmap(f Format) string {
	s := strconv.Itoa(int(f.PT)) + " " + f.Name + "/" + strconv.Itoa(f.ClockRate)
	if f.Channels > 1 {
		s += "/" + strconv.Itoa(f.Channels)
	}
	return s
}

// NegotiateAudio picks the codec for an offered audio m-line: the first offered format (the
// offerer's preference, RFC 3264 §6.1) that supported has, keeping the offer's payload type,
// and telephone-event at the same clock rate when both sides have it (RFC 4733 §7.1.1).
func NegotiateAudio(a Audio, supported []Format) (codec Format, te *Format, err error) {
	found := false
	for _, f := range a.Formats {
		if isTelephoneEvent(f) || !hasFormat(supported, f) {
			continue
		}
		codec, found = f, true
		break
	}
	if !found {
		return Format{}, nil, notAcceptable("no common audio codec in %s", describe(a.Formats))
	}
	for _, f := range a.Formats {
		if isTelephoneEvent(f) && f.ClockRate == codec.ClockRate && hasFormat(supported, f) {
			te = &f
			break
		}
	}
	return codec, te, nil
}

func isTelephoneEvent(f Format) bool { return strings.EqualFold(f.Name, "telephone-event") }

func hasFormat(list []Format, f Format) bool {
	for _, s := range list {
		if strings.EqualFold(s.Name, f.Name) && s.ClockRate == f.ClockRate && channels(s) == channels(f) {
			return true
		}
	}
	return false
}

func channels(f Format) int {
	if f.Channels <= 0 {
		return 1
	}
	return f.Channels
}

func describe(fs []Format) string {
	parts := make([]string, 0, len(fs))
	for _, f := range fs {
		if f.Name == "" {
			parts = append(parts, strconv.Itoa(int(f.PT)))
			continue
		}
		parts = append(parts, f.Name+"/"+strconv.Itoa(f.ClockRate))
	}
	return "[" + strings.Join(parts, " ") + "]"
}

// NewChannelID returns a fresh "<16 lowercase hex digits>@<resource>" channel identifier
// (RFC 6787 §6.2.1; the 16-digit form is what UniMRCP issues and clients expect).
func NewChannelID(resource string) string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return hex.EncodeToString(b[:]) + "@" + resource
}

package client

import (
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"strings"

	"github.com/mrcpd/mrcpd/media"
	"github.com/mrcpd/mrcpd/mrcp/sdp"
)

// offeredFormats is mod_unimrcp's default codec list (0 8 96 101), in its order.
var offeredFormats = []media.Format{
	{PT: 0, Name: "PCMU", ClockRate: 8000, Channels: 1},
	{PT: 8, Name: "PCMA", ClockRate: 8000, Channels: 1},
	{PT: 96, Name: "L16", ClockRate: 8000, Channels: 1},
	{PT: 101, Name: "telephone-event", ClockRate: 8000, Channels: 1, Fmtp: "0-15"},
}

// buildOffer writes the SDP offer mod_unimrcp sends (fixtures/freeswitch-mod_unimrcp/01, 05):
// one control m-line for resource and one audio m-line, sendonly for a recognizer or recorder
// (we send audio) and recvonly for a synthesizer, or sendrecv. With crypto the audio line is
// RTP/SAVP carrying our SDES key (RFC 4568 §9.1).
func buildOffer(ip string, rtpPort int, resource string, formats []media.Format, sendrecv bool, crypto *sdp.Crypto) []byte {
	dir := "sendonly"
	switch {
	case sendrecv:
		dir = "sendrecv"
	case resource == "speechsynth" || resource == "basicsynth":
		dir = "recvonly"
	}
	proto := "RTP/AVP"
	if crypto != nil {
		proto = sdp.ProtoSRTP
	}
	var b strings.Builder
	fmt.Fprintf(&b, "v=0\r\no=mrcpclient %d %d IN IP4 %s\r\ns=-\r\nc=IN IP4 %s\r\nt=0 0\r\n",
		rand.Uint64()>>1, rand.Uint64()>>1, ip, ip)
	fmt.Fprintf(&b, "m=application 9 TCP/MRCPv2 1\r\na=setup:active\r\na=connection:new\r\na=resource:%s\r\na=cmid:1\r\n", resource)
	fmt.Fprintf(&b, "m=audio %d %s", rtpPort, proto)
	for _, f := range formats {
		fmt.Fprintf(&b, " %d", f.PT)
	}
	b.WriteString("\r\n")
	for _, f := range formats {
		fmt.Fprintf(&b, "a=rtpmap:%d %s/%d\r\n", f.PT, f.Name, f.ClockRate)
		if f.Fmtp != "" {
			fmt.Fprintf(&b, "a=fmtp:%d %s\r\n", f.PT, f.Fmtp)
		}
	}
	if crypto != nil {
		fmt.Fprintf(&b, "a=crypto:%d %s inline:%s\r\n", crypto.Tag, crypto.Suite, base64.StdEncoding.EncodeToString(crypto.Key))
	}
	fmt.Fprintf(&b, "a=%s\r\na=mid:1\r\n", dir)
	return []byte(b.String())
}

package media

import (
	"fmt"
	"net/netip"
	"time"
)

// SourceFilter is the first receive stage of a stream: it passes RTP only from the peer and
// counts the rest (issue 12: forged telephone-events from another port turned 4711 into 9999,
// a random-byte flood made digits, a third party's stream pulled synthesized audio away).
//
// Without latching the peer is the address and port of the offer's c= and m= lines. With
// latching (rtp.symmetric, for callers behind NAT whose SDP names an unreachable address) it is
// the source of the first valid RTP packet, and it moves to another source only after the
// latched one has been silent for RelatchAfter, never within a talkspurt. A packet that is not
// version 2 RTP of a negotiated payload type never latches.
type SourceFilter struct {
	offered  netip.AddrPort
	latching bool
	after    time.Duration
	pts      [128]bool

	current netip.AddrPort // the source passed
	last    time.Time      // its latest packet
	dropped uint64
}

// RelatchAfter is how long a latched source must have been silent before another may take its
// place: longer than any pause of a live stream (FreeSWITCH sends through silence).
const RelatchAfter = 2 * time.Second

// NewSourceFilter filters for the offered source, or latches when latching is set. pts are the
// negotiated payload types.
func NewSourceFilter(offered netip.AddrPort, latching bool, pts []uint8) *SourceFilter {
	f := &SourceFilter{offered: unmap(offered), latching: latching, after: RelatchAfter}
	for _, pt := range pts {
		f.pts[pt&0x7f] = true
	}
	if !latching {
		f.current = f.offered
	}
	return f
}

// Accept says whether datagram b from from, arriving at at, goes on to the next stage.
func (f *SourceFilter) Accept(b []byte, from netip.AddrPort, at time.Time) bool {
	if !f.Allows(b, from, at) {
		f.dropped++
		return false
	}
	f.Passed(from, at)
	return true
}

// Allows says whether b may pass, changing nothing: a stage after the filter (SRTP) may still
// refuse it, and a latch must follow only a packet that went all the way through.
func (f *SourceFilter) Allows(b []byte, from netip.AddrPort, at time.Time) bool {
	from = unmap(from)
	switch {
	case f.current.IsValid() && from == f.current:
		return true
	case !f.latching || !f.validRTP(b):
		return false
	}
	// the first source, or the latched one went silent
	return !f.current.IsValid() || at.Sub(f.last) >= f.after
}

// Passed records a packet that went through from from: the source it latches onto, if new.
func (f *SourceFilter) Passed(from netip.AddrPort, at time.Time) {
	f.current, f.last = unmap(from), at
}

// Source is the address RTP is accepted from; invalid until a latching filter has latched.
func (f *SourceFilter) Source() netip.AddrPort { return f.current }

// Dropped counts datagrams refused.
func (f *SourceFilter) Dropped() uint64 { return f.dropped }

func (f *SourceFilter) validRTP(b []byte) bool {
	return len(b) >= 12 && b[0]>>6 == 2 && f.pts[b[1]&0x7f]
}

func (f *SourceFilter) String() string {
	if f.latching {
		return fmt.Sprintf("Source(latch, relatch after %v silent)", f.after)
	}
	return fmt.Sprintf("Source(%v)", f.offered)
}

func unmap(a netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(a.Addr().Unmap(), a.Port())
}

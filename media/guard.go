package media

import (
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// guard is a stream's first receive stage (issue 12): the source filter, then SRTP when the
// offer negotiated it. What it refuses never reaches the jitter buffer or the DTMF detector,
// and the latch of symmetric RTP moves only for a packet that passed both, so neither a
// forged stream nor a third party's can pull synthesized audio away from the caller.
type guard struct {
	filter *SourceFilter
	srtp   *SRTP // nil: plain RTP/AVP
	// onLatch points the sender at a newly latched source (rtp.symmetric).
	onLatch func(net.Addr)

	foreign, unauthenticated atomic.Uint64
}

// newGuard filters for the offer's address, or latches when symmetric is set or the offer
// names no usable address (c=0.0.0.0, a host name): the first source is then kept while it
// talks (SourceFilter).
func newGuard(cfg StreamConfig, symmetric bool) (*guard, error) {
	var offered netip.AddrPort
	if ua, ok := cfg.Remote.(*net.UDPAddr); ok && ua != nil {
		offered = ua.AddrPort()
	}
	usable := offered.IsValid() && !offered.Addr().IsUnspecified() && offered.Port() != 0
	pts := []uint8{cfg.Format.PT}
	if cfg.TelephoneEvent != nil {
		pts = append(pts, cfg.TelephoneEvent.PT)
	}
	g := &guard{filter: NewSourceFilter(offered, symmetric || !usable, pts)}
	if k := cfg.SRTP; k != nil {
		s, err := NewSRTP(k.Suite, k.Remote, k.Local)
		if err != nil {
			return nil, err
		}
		g.srtp = s
	}
	return g, nil
}

func (g *guard) String() string {
	if g.srtp != nil {
		return g.filter.String() + " -> " + g.srtp.String()
	}
	return g.filter.String()
}

// rtp passes datagram b from from, decrypted in place when SRTP is on, or refuses and counts it.
func (g *guard) rtp(b []byte, from netip.AddrPort, at time.Time) ([]byte, bool) {
	return g.pass(b, from, at, false)
}

// pass is rtp; with adopt, a source the filter does not know may take the peer's place with
// valid RTP of a negotiated type (a shared port's NAT case, see sharedPort), if it passes SRTP.
func (g *guard) pass(b []byte, from netip.AddrPort, at time.Time, adopt bool) ([]byte, bool) {
	if !g.filter.Allows(b, from, at) && (!adopt || !g.filter.validRTP(b)) {
		g.foreign.Add(1)
		return nil, false
	}
	if g.srtp != nil {
		var err error
		if b, err = g.srtp.Open(b, b); err != nil {
			g.unauthenticated.Add(1)
			return nil, false
		}
	}
	was := g.filter.Source()
	g.filter.Passed(from, at)
	if now := g.filter.Source(); now != was && g.onLatch != nil {
		g.onLatch(net.UDPAddrFromAddrPort(now))
	}
	return b, true
}

// rtcp passes RTCP from the host RTP is accepted from (its RTCP port is its own business, RFC
// 3605), authenticated and decrypted in place when SRTP is on (SRTCP, RFC 3711 §3.4).
func (g *guard) rtcp(b []byte, from netip.AddrPort) ([]byte, bool) {
	src := g.filter.Source()
	if !src.IsValid() || unmap(from).Addr() != src.Addr() {
		g.foreign.Add(1)
		return nil, false
	}
	if g.srtp != nil {
		var err error
		if b, err = g.srtp.OpenRTCP(b, b); err != nil {
			g.unauthenticated.Add(1)
			return nil, false
		}
	}
	return b, true
}

// sendConn is what the stream's sender (rtcp false) or receiver reports (rtcp true) write to.
func (g *guard) sendConn(c net.PacketConn, rtcp bool) net.PacketConn {
	if g.srtp == nil || c == nil {
		return c
	}
	return NewSRTPConn(c, g.srtp, rtcp)
}

// count adds the guard's refusals to a stream's counters.
func (g *guard) count(s JitterStats) JitterStats {
	s.Foreign += g.foreign.Load()
	s.Unauthenticated += g.unauthenticated.Load()
	return s
}

// SRTPConn speaks SRTP (or SRTCP) on a PacketConn: what is written is sealed with our key,
// what is read is opened with the peer's, and what fails authentication is dropped (counted by
// the SRTP). A media Sender or Receiver works through it unchanged: the engine's send side, and
// clients of mrcpd.
type SRTPConn struct {
	net.PacketConn
	s    *SRTP
	rtcp bool

	wmu  sync.Mutex // seals are one at a time: an SRTP context is not safe for concurrent use
	wbuf []byte
	rmu  sync.Mutex
}

// NewSRTPConn wraps c; rtcp selects SRTCP (the RTCP port).
func NewSRTPConn(c net.PacketConn, s *SRTP, rtcp bool) *SRTPConn {
	return &SRTPConn{PacketConn: c, s: s, rtcp: rtcp}
}

func (c *SRTPConn) seal(b []byte) ([]byte, error) {
	var err error
	if c.rtcp {
		c.wbuf, err = c.s.SealRTCP(c.wbuf[:0], b)
	} else {
		c.wbuf, err = c.s.Seal(c.wbuf[:0], b)
	}
	if err != nil {
		return nil, fmt.Errorf("media: sealing: %w", err)
	}
	return c.wbuf, nil
}

// WriteTo seals b and sends it; it returns len(b) when sent.
func (c *SRTPConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	p, err := c.seal(b)
	if err != nil {
		return 0, err
	}
	if _, err := c.PacketConn.WriteTo(p, addr); err != nil {
		return 0, err
	}
	return len(b), nil
}

// WriteToUDPAddrPort is WriteTo without a net.Addr (the Sender's allocation-free path).
func (c *SRTPConn) WriteToUDPAddrPort(b []byte, to netip.AddrPort) (int, error) {
	w, ok := c.PacketConn.(addrPortWriter)
	if !ok {
		return c.WriteTo(b, net.UDPAddrFromAddrPort(to))
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	p, err := c.seal(b)
	if err != nil {
		return 0, err
	}
	if _, err := w.WriteToUDPAddrPort(p, to); err != nil {
		return 0, err
	}
	return len(b), nil
}

// ReadFrom returns the next datagram that authenticates, decrypted in b.
func (c *SRTPConn) ReadFrom(b []byte) (int, net.Addr, error) {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	for {
		n, addr, err := c.PacketConn.ReadFrom(b)
		if err != nil {
			return n, addr, err
		}
		var p []byte
		if c.rtcp {
			p, err = c.s.OpenRTCP(b[:n], b[:n])
		} else {
			p, err = c.s.Open(b[:n], b[:n])
		}
		if err == nil {
			return len(p), addr, nil
		}
	}
}

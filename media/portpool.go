package media

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"syscall"
)

// PortPool hands out RTP sockets on even ports of a range, leaving port+1 for RTCP (RFC 3550 §11). The
// kernel is the source of truth for what is in use: a port whose bind fails is skipped, and a closed
// socket's port is free again, so nothing needs returning. Allocation rotates through the range so that a
// port just released is not reused at once (late packets of the old call would land in the new one).
type PortPool struct {
	ip     net.IP
	lo, hi int

	mu   sync.Mutex
	next int
}

// NewPortPool returns a pool binding ip on ports lo..hi.
func NewPortPool(ip string, lo, hi int) *PortPool {
	lo = (lo + 1) &^ 1
	return &PortPool{ip: net.ParseIP(ip), lo: lo, hi: hi, next: lo}
}

func (p *PortPool) String() string { return fmt.Sprintf("PortPool(%s:%d-%d)", p.ip, p.lo, p.hi) }

// Listen binds the next free even port of the range.
func (p *PortPool) Listen() (*net.UDPConn, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := (p.hi - p.lo + 2) / 2
	var last error
	for i := 0; i < n; i++ {
		port := p.advance()
		c, err := net.ListenUDP("udp", &net.UDPAddr{IP: p.ip, Port: port})
		if err == nil {
			return c, nil
		}
		if !errors.Is(err, syscall.EADDRINUSE) {
			return nil, fmt.Errorf("media: binding %s:%d: %w", p.ip, port, err)
		}
		last = err
	}
	return nil, fmt.Errorf("%w %s:%d-%d: %w", ErrNoPorts, p.ip, p.lo, p.hi, last)
}

// ListenRTCP binds the RTCP socket that goes with an RTP socket from Listen (its port + 1).
func (p *PortPool) ListenRTCP(rtpConn *net.UDPConn) (*net.UDPConn, error) {
	a := rtpConn.LocalAddr().(*net.UDPAddr)
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: a.IP, Port: a.Port + 1})
	if err != nil {
		return nil, fmt.Errorf("media: binding RTCP port %d: %w", a.Port+1, err)
	}
	return c, nil
}

// Open binds the next free even port of the range as a Socket, for an Engine.
func (p *PortPool) Open() (*Socket, error) {
	ip, ok := netip.AddrFromSlice(p.ip)
	if !ok {
		return nil, fmt.Errorf("media: bad RTP address %s", p.ip)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	var last error
	for range (p.hi - p.lo + 2) / 2 {
		port := p.advance()
		s, err := openSocket(ip.Unmap(), port)
		if err == nil {
			return s, nil
		}
		if !errors.Is(err, syscall.EADDRINUSE) {
			return nil, fmt.Errorf("media: binding %s:%d: %w", p.ip, port, err)
		}
		last = err
	}
	return nil, fmt.Errorf("%w %s:%d-%d: %w", ErrNoPorts, p.ip, p.lo, p.hi, last)
}

// OpenRTCP binds the RTCP Socket that goes with an RTP Socket from Open (its port + 1).
func (p *PortPool) OpenRTCP(rtp *Socket) (*Socket, error) {
	a := rtp.local.AddrPort()
	s, err := openSocket(a.Addr(), int(a.Port())+1)
	if err != nil {
		return nil, fmt.Errorf("media: binding RTCP port %d: %w", a.Port()+1, err)
	}
	return s, nil
}

// advance returns the next even port of the rotation; p.mu is held.
func (p *PortPool) advance() int {
	port := p.next
	p.next += 2
	if p.next+1 > p.hi+1 || p.next > p.hi {
		p.next = p.lo
	}
	return port
}

// Release closes a socket from Listen; its port becomes free.
func (p *PortPool) Release(c *net.UDPConn) error { return c.Close() }

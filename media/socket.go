package media

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Socket is a non-blocking UDP socket that Go's network poller does not know: an Engine worker reads it
// in batches on its tick (epoll + recvmmsg), so no goroutine waits on it and no packet wakes the
// scheduler. It implements net.PacketConn for writing; ReadFrom is refused (the worker owns reading).
type Socket struct {
	local *net.UDPAddr

	mu     sync.Mutex
	fd     int // -1 once closed
	stream *engineStream
}

// errSocketRead is returned by Socket.ReadFrom: only an Engine worker reads a Socket.
var errSocketRead = errors.New("media: a Socket is read by its Engine worker")

// openSocket binds a non-blocking UDP socket with kernel receive timestamps (SO_TIMESTAMPNS), so that
// packets read on a tick still carry their arrival time.
func openSocket(ip netip.Addr, port int) (*Socket, error) {
	family := unix.AF_INET
	var sa unix.Sockaddr
	if ip.Is4() || ip.Is4In6() {
		sa = &unix.SockaddrInet4{Port: port, Addr: ip.Unmap().As4()}
	} else {
		family = unix.AF_INET6
		sa = &unix.SockaddrInet6{Port: port, Addr: ip.As16()}
	}
	fd, err := unix.Socket(family, unix.SOCK_DGRAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, unix.IPPROTO_UDP)
	if err != nil {
		return nil, fmt.Errorf("media: socket: %w", err)
	}
	if err := unix.Bind(fd, sa); err != nil {
		unix.Close(fd)
		return nil, err
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("media: SO_TIMESTAMPNS: %w", err)
	}
	if port == 0 {
		got, err := unix.Getsockname(fd)
		if err != nil {
			unix.Close(fd)
			return nil, err
		}
		port = sockaddrPort(got)
	}
	return &Socket{fd: fd, local: &net.UDPAddr{IP: ip.AsSlice(), Port: port}}, nil
}

func sockaddrPort(sa unix.Sockaddr) int {
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return a.Port
	case *unix.SockaddrInet6:
		return a.Port
	}
	return 0
}

// ListenSocket binds a Socket on ip:port (port 0 picks a free one), for tests and tools.
func ListenSocket(addr netip.AddrPort) (*Socket, error) {
	return openSocket(addr.Addr(), int(addr.Port()))
}

func (s *Socket) LocalAddr() net.Addr { return s.local }

// Close unregisters the socket from its worker (so the worker never reads a reused descriptor) and
// closes it. It is safe to call more than once.
func (s *Socket) Close() error {
	s.mu.Lock()
	st := s.stream
	s.stream = nil
	s.mu.Unlock()
	if st != nil {
		st.close()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fd < 0 {
		return nil
	}
	err := unix.Close(s.fd)
	s.fd = -1
	return err
}

// ReadFrom is not supported: the Engine reads Sockets.
func (s *Socket) ReadFrom([]byte) (int, net.Addr, error) { return 0, nil, errSocketRead }

// WriteTo sends one datagram. A full send buffer drops it, as the network would.
func (s *Socket) WriteTo(b []byte, addr net.Addr) (int, error) {
	ua, ok := addr.(*net.UDPAddr)
	if !ok {
		return 0, fmt.Errorf("media: cannot send to %T", addr)
	}
	return s.WriteToUDPAddrPort(b, ua.AddrPort())
}

// WriteToUDPAddrPort sends one datagram without allocating (the name matches *net.UDPConn's).
func (s *Socket) WriteToUDPAddrPort(b []byte, to netip.AddrPort) (int, error) {
	var rsa unix.RawSockaddrAny
	n := putSockaddr(&rsa, to, s.local.IP.To4() == nil)
	s.mu.Lock()
	fd := s.fd
	s.mu.Unlock()
	if fd < 0 {
		return 0, net.ErrClosed
	}
	var p unsafe.Pointer
	if len(b) > 0 {
		p = unsafe.Pointer(&b[0])
	}
	_, _, e := unix.Syscall6(unix.SYS_SENDTO, uintptr(fd), uintptr(p), uintptr(len(b)), unix.MSG_DONTWAIT,
		uintptr(unsafe.Pointer(&rsa)), uintptr(n))
	if e != 0 {
		if e == unix.EAGAIN {
			return 0, nil
		}
		return 0, e
	}
	return len(b), nil
}

func (s *Socket) SetDeadline(time.Time) error      { return nil }
func (s *Socket) SetReadDeadline(time.Time) error  { return nil }
func (s *Socket) SetWriteDeadline(time.Time) error { return nil }

// putSockaddr writes to into rsa for a socket of the given family and returns its length.
func putSockaddr(rsa *unix.RawSockaddrAny, to netip.AddrPort, v6 bool) uint32 {
	port := to.Port()
	if !v6 {
		sa := (*unix.RawSockaddrInet4)(unsafe.Pointer(rsa))
		sa.Family = unix.AF_INET
		putPort(&sa.Port, port)
		sa.Addr = to.Addr().Unmap().As4()
		return unix.SizeofSockaddrInet4
	}
	sa := (*unix.RawSockaddrInet6)(unsafe.Pointer(rsa))
	sa.Family = unix.AF_INET6
	putPort(&sa.Port, port)
	sa.Addr = to.Addr().As16()
	return unix.SizeofSockaddrInet6
}

// parseSockaddr reads a received source address without allocating.
func parseSockaddr(rsa *unix.RawSockaddrAny) netip.AddrPort {
	switch rsa.Addr.Family {
	case unix.AF_INET:
		sa := (*unix.RawSockaddrInet4)(unsafe.Pointer(rsa))
		return netip.AddrPortFrom(netip.AddrFrom4(sa.Addr), getPort(&sa.Port))
	case unix.AF_INET6:
		sa := (*unix.RawSockaddrInet6)(unsafe.Pointer(rsa))
		a := netip.AddrFrom16(sa.Addr)
		if a.Is4In6() {
			a = a.Unmap()
		}
		return netip.AddrPortFrom(a, getPort(&sa.Port))
	}
	return netip.AddrPort{}
}

// putPort and getPort store a port in network byte order whatever the host's.
func putPort(p *uint16, port uint16) {
	b := (*[2]byte)(unsafe.Pointer(p))
	b[0], b[1] = byte(port>>8), byte(port)
}

func getPort(p *uint16) uint16 {
	b := (*[2]byte)(unsafe.Pointer(p))
	return uint16(b[0])<<8 | uint16(b[1])
}

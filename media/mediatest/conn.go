package mediatest

import (
	"net"
	"sync"
	"time"
)

// Conn is an in-memory net.PacketConn: writes are recorded (and signalled on Written), reads block until
// Inject or the read deadline.
type Conn struct {
	Written chan []byte // every datagram written, in order (buffered; a full channel drops the signal)

	mu       sync.Mutex
	in       chan []byte
	deadline chan struct{}
	Local    *net.UDPAddr
	From     *net.UDPAddr
}

// NewConn returns a Conn whose Written channel buffers up to n datagrams.
func NewConn(n int) *Conn {
	return &Conn{Written: make(chan []byte, n), in: make(chan []byte, 64), deadline: make(chan struct{}),
		Local: &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000},
		From:  &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40002}}
}

// Inject makes b readable.
func (c *Conn) Inject(b []byte) { c.in <- append([]byte(nil), b...) }

// ReadFrom implements net.PacketConn.
func (c *Conn) ReadFrom(b []byte) (int, net.Addr, error) {
	c.mu.Lock()
	dl := c.deadline
	c.mu.Unlock()
	select {
	case p := <-c.in:
		return copy(b, p), c.From, nil
	case <-dl:
		return 0, nil, timeoutError{}
	}
}

// WriteTo implements net.PacketConn.
func (c *Conn) WriteTo(b []byte, _ net.Addr) (int, error) {
	select {
	case c.Written <- append([]byte(nil), b...):
	default:
	}
	return len(b), nil
}

func (c *Conn) Close() error                     { return nil }
func (c *Conn) LocalAddr() net.Addr              { return c.Local }
func (c *Conn) SetDeadline(t time.Time) error    { return c.SetReadDeadline(t) }
func (c *Conn) SetWriteDeadline(time.Time) error { return nil }

// SetReadDeadline wakes blocked reads for any non-zero time (the tests' clock is not the wall clock, so
// a deadline here only ever means "stop now").
func (c *Conn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t.IsZero() {
		select {
		case <-c.deadline:
			c.deadline = make(chan struct{})
		default:
		}
		return nil
	}
	select {
	case <-c.deadline:
	default:
		close(c.deadline)
	}
	return nil
}

type timeoutError struct{}

func (timeoutError) Error() string   { return "i/o timeout" }
func (timeoutError) Timeout() bool   { return true }
func (timeoutError) Temporary() bool { return true }

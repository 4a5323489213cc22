package media

import (
	"fmt"
	"net"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// A shared RTP port (rtp.shared_port) puts the RTP of every stream of a worker on one UDP socket,
// and their RTCP on the port above: a tick reads it with a few recvmmsg calls of up to rxBatch
// datagrams instead of one call per stream, and every answer names the same port. Packets are
// routed to streams by their source, which is the address and port the offer declared: FreeSWITCH
// and mod_unimrcp send RTP from the port they advertise (symmetric RTP, RFC 4961).
//
// A packet from a source no stream declared goes to the one stream, among those with the same IP
// address that have received nothing yet, whose offer it must be (a NAT that rewrote the port):
// that stream takes the source as its peer, if the packet passes its guard. A source that is
// another call's is never taken: one an open handle declared (its stream is not on the worker yet:
// RTP sent as soon as the answer arrives, issue 10), or one a stream left less than sourceGrace
// ago (a hung-up call's last packets). Such a packet is dropped and counted apart
// (Engine.OutsideCall): it is normal at the edges of calls. One with no candidate or more than one
// is dropped and counted as unrouted (Engine.Unrouted): a sign of misrouting. RTCP goes to the stream
// whose RTP source is one port below its own source, else to the only stream of that IP address.
// A stream whose offer names no usable address (c=0.0.0.0, a host name) receives nothing there.
type sharedPort struct {
	rtp, rtcp *Socket

	// guarded by the worker's mutex
	byAddr map[netip.AddrPort]*engineStream // by the source its RTP is routed by
	byIP   map[netip.Addr][]*engineStream   // every routed stream, by its source's IP address
	// left is when each source of a closed stream stopped being routed, for sourceGrace; swept
	// when it outgrows sweepAt.
	left    map[netip.AddrPort]time.Time
	sweepAt int

	// claims are the sources of the handles open on the port (Listen to Close), which Listen keeps
	// apart; their number is the worker's share, for balancing.
	claimMu  sync.Mutex
	claims   map[netip.AddrPort]int
	handles  int
	unrouted atomic.Uint64
	outside  atomic.Uint64 // a known call's packets before its stream opened or after it closed
}

// sourceGrace is how long a closed stream's source stays its own: its packets still in flight or
// sent after the BYE must not be taken for a NAT'd call's by a stream still waiting.
const sourceGrace = 2 * time.Second

// sharedRcvBuf is the shared RTP socket's receive buffer: a tick's packets of every stream of the
// worker wait in it (1,000 streams, about 1 MB of kernel memory a tick, and ticks can come late).
const sharedRcvBuf = 16 << 20

func openSharedPort(ip netip.Addr, port int) (*sharedPort, error) {
	rtp, err := openSocket(ip, port)
	if err != nil {
		return nil, fmt.Errorf("media: shared RTP port %d: %w", port, err)
	}
	// SO_RCVBUFFORCE passes net.core.rmem_max with CAP_NET_ADMIN; without it the kernel caps
	// SO_RCVBUF at rmem_max (operations: raise it for thousands of streams on a shared port).
	if unix.SetsockoptInt(rtp.fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, sharedRcvBuf) != nil {
		_ = unix.SetsockoptInt(rtp.fd, unix.SOL_SOCKET, unix.SO_RCVBUF, sharedRcvBuf)
	}
	rtcp, err := openSocket(ip, port+1)
	if err != nil {
		_ = rtp.Close()
		return nil, fmt.Errorf("media: shared RTCP port %d: %w", port+1, err)
	}
	return &sharedPort{rtp: rtp, rtcp: rtcp, byAddr: map[netip.AddrPort]*engineStream{},
		byIP: map[netip.Addr][]*engineStream{}, claims: map[netip.AddrPort]int{}}, nil
}

func (p *sharedPort) close() {
	_ = p.rtp.Close()
	_ = p.rtcp.Close()
}

// usableSource is the offer's RTP address as a source to route by, invalid when it names none.
func usableSource(remote net.Addr) netip.AddrPort {
	ua, ok := remote.(*net.UDPAddr)
	if !ok || ua == nil {
		return netip.AddrPort{}
	}
	src := unmap(ua.AddrPort())
	if !src.IsValid() || src.Addr().IsUnspecified() || src.Port() == 0 {
		return netip.AddrPort{}
	}
	return src
}

// claim takes src for a handle unless another handle has it; unclaim gives it back.
func (p *sharedPort) claim(src netip.AddrPort) bool {
	p.claimMu.Lock()
	defer p.claimMu.Unlock()
	if p.claims[src] > 0 {
		return false
	}
	p.claims[src]++
	p.handles++
	return true
}

func (p *sharedPort) unclaim(src netip.AddrPort) {
	p.claimMu.Lock()
	defer p.claimMu.Unlock()
	if p.claims[src]--; p.claims[src] <= 0 {
		delete(p.claims, src)
	}
	p.handles--
}

// claimed says an open handle declared src: its packets are its stream's, even before it opens.
func (p *sharedPort) claimed(src netip.AddrPort) bool {
	p.claimMu.Lock()
	defer p.claimMu.Unlock()
	return p.claims[unmap(src)] > 0
}

func (p *sharedPort) load() int {
	p.claimMu.Lock()
	defer p.claimMu.Unlock()
	return p.handles
}

// index routes src's RTP to st. A later stream with the same source takes it over (Listen keeps
// the sources of open handles apart; a re-offer may still move one onto another's).
func (p *sharedPort) index(st *engineStream, src netip.AddrPort) {
	src = unmap(src)
	if !src.IsValid() || src.Addr().IsUnspecified() || src.Port() == 0 {
		return
	}
	st.src = src
	p.byAddr[src] = st
	p.byIP[src.Addr()] = append(p.byIP[src.Addr()], st)
}

// unindex stops routing to st, closed at now; its sources stay out of reach for sourceGrace.
func (p *sharedPort) unindex(st *engineStream, now time.Time) {
	if !st.src.IsValid() {
		return
	}
	if p.byAddr[st.src] == st {
		delete(p.byAddr, st.src)
	}
	p.leave(st.src, now)
	if st.shared != nil {
		p.leave(st.shared.src, now) // the offer's, when the stream took a NAT'd source
	}
	ip := st.src.Addr()
	l := p.byIP[ip]
	for i, x := range l {
		if x == st {
			l = append(l[:i], l[i+1:]...)
			break
		}
	}
	if len(l) == 0 {
		delete(p.byIP, ip)
	} else {
		p.byIP[ip] = l
	}
}

// route finds the stream of an RTP source; adopt says it is the one stream of that IP address
// still waiting for its first packet, which may take the source as its own.
func (p *sharedPort) route(from netip.AddrPort, at time.Time) (st *engineStream, adopt bool) {
	if st := p.byAddr[from]; st != nil {
		return st, false
	}
	if p.otherCall(from, at) {
		return nil, false // another call's packet, early or late: no stranger's
	}
	for _, x := range p.byIP[from.Addr()] {
		if !x.heard {
			if st != nil {
				return nil, false // two calls from that host wait: whose packet it is cannot be told
			}
			st = x
		}
	}
	return st, st != nil
}

func (p *sharedPort) leave(src netip.AddrPort, now time.Time) {
	if !src.IsValid() {
		return
	}
	if p.left == nil {
		p.left = map[netip.AddrPort]time.Time{}
	}
	p.left[src] = now
	if len(p.left) <= p.sweepAt {
		return
	}
	for a, t := range p.left {
		if now.Sub(t) >= sourceGrace {
			delete(p.left, a)
		}
	}
	p.sweepAt = 2*len(p.left) + 64 // amortized: a sweep per as many closes as entries kept
}

// otherCall says from is a call's own source although no stream routes it now: an open handle
// declared it (its stream is not on the worker yet), or a stream closed less than sourceGrace
// before at was routed by it.
func (p *sharedPort) otherCall(from netip.AddrPort, at time.Time) bool {
	if p.claimed(from) {
		return true
	}
	t, ok := p.left[from]
	return ok && at.Sub(t) < sourceGrace
}

// drop counts an RTP packet no stream takes: a known call's early or late packet, or a stranger's.
func (p *sharedPort) drop(from netip.AddrPort, at time.Time) {
	if p.otherCall(from, at) {
		p.outside.Add(1)
		return
	}
	p.unrouted.Add(1)
}

// rekey routes from's RTP to st from now on, instead of the source its offer declared.
func (p *sharedPort) rekey(st *engineStream, from netip.AddrPort) {
	if p.byAddr[st.src] == st {
		delete(p.byAddr, st.src)
	}
	st.src = from
	p.byAddr[from] = st
}

// routeRTCP finds the stream of an RTCP source: RTP's port + 1 (RFC 3550 §11), or the only
// stream of that host.
func (p *sharedPort) routeRTCP(from netip.AddrPort) *engineStream {
	if st := p.byAddr[netip.AddrPortFrom(from.Addr(), from.Port()-1)]; st != nil {
		return st
	}
	if l := p.byIP[from.Addr()]; len(l) == 1 {
		return l[0]
	}
	return nil
}

// receive hands one datagram of the shared port to its stream; the worker's mutex is held.
func (p *sharedPort) receive(kind int, b []byte, from netip.AddrPort, at time.Time) {
	if kind == sockRTCP {
		st := p.routeRTCP(from)
		if st == nil || st.rx == nil {
			p.unrouted.Add(1)
			return
		}
		if b, ok := st.guard.rtcp(b, from); ok {
			st.rx.ReceiveRTCPAt(b, net.UDPAddrFromAddrPort(from), at)
		}
		return
	}
	st, adopt := p.route(from, at)
	switch {
	case st == nil:
		p.drop(from, at)
	case st.rx == nil:
		// a send-only stream: nothing to receive
	default:
		b, ok := st.guard.pass(b, from, at, adopt)
		if !ok {
			return
		}
		if adopt {
			p.rekey(st, from)
		}
		st.heard = true
		st.rx.ReceiveAt(b, from, at, st)
	}
}

// sharedConn is what Listen returns on an engine with a shared port: a stream's handle on its
// worker's shared socket. Its LocalAddr is the port the answer names; writing sends from the
// shared socket; closing takes the stream off the worker (the socket stays).
type sharedConn struct {
	w   *worker
	src netip.AddrPort // claimed on w's port

	mu     sync.Mutex
	stream *engineStream
	closed bool
}

func (c *sharedConn) LocalAddr() net.Addr { return c.w.shared.rtp.LocalAddr() }

// ReadFrom is not supported: the worker reads the shared socket.
func (c *sharedConn) ReadFrom([]byte) (int, net.Addr, error) { return 0, nil, errSocketRead }

func (c *sharedConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	if c.isClosed() {
		return 0, net.ErrClosed
	}
	return c.w.shared.rtp.WriteTo(b, addr)
}

func (c *sharedConn) isClosed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed
}

// Close takes the stream off its worker; it is safe to call more than once.
func (c *sharedConn) Close() error {
	c.mu.Lock()
	st, was := c.stream, c.closed
	c.stream, c.closed = nil, true
	c.mu.Unlock()
	if st != nil {
		st.close()
	}
	if !was {
		c.w.shared.unclaim(c.src)
	}
	return nil
}

func (c *sharedConn) SetDeadline(time.Time) error      { return nil }
func (c *sharedConn) SetReadDeadline(time.Time) error  { return nil }
func (c *sharedConn) SetWriteDeadline(time.Time) error { return nil }

// listenShared reserves a place for remote's stream on the worker with the fewest handles among
// those where remote is no other handle's source; nil when there is none, or remote is unusable.
func (e *Engine) listenShared(remote net.Addr) *sharedConn {
	src := usableSource(remote)
	if !src.IsValid() {
		return nil
	}
	ws := slices.Clone(e.workers)
	slices.SortStableFunc(ws, func(a, b *worker) int { return a.shared.load() - b.shared.load() })
	for _, w := range ws {
		if w.shared.claim(src) {
			return &sharedConn{w: w, src: src}
		}
	}
	return nil
}

// openShared starts a stream on its handle's worker: RTP and RTCP go out of the shared sockets.
func (e *Engine) openShared(c *sharedConn, cfg StreamConfig) (Stream, error) {
	if c.isClosed() {
		return nil, net.ErrClosed
	}
	w := c.w
	st := &engineStream{sock: w.shared.rtp, shared: c}
	var rtcp *Socket
	if cfg.Receive {
		rtcp = w.shared.rtcp
	}
	if err := e.buildStream(st, rtcp, cfg); err != nil {
		return nil, err
	}
	w.addShared(st, usableSource(cfg.Remote))
	c.mu.Lock()
	closed := c.closed
	if !closed {
		c.stream = st
	}
	c.mu.Unlock()
	if closed { // closed while opening
		st.close()
		return nil, net.ErrClosed
	}
	return st, nil
}

// Unrouted counts datagrams of the shared ports from sources no call has (rtp.shared_port).
func (e *Engine) Unrouted() uint64 {
	return e.sharedCount(func(p *sharedPort) uint64 { return p.unrouted.Load() })
}

// OutsideCall counts RTP of the shared ports from a call's own source that came before its stream
// opened or less than 2 s after it closed, dropped. (A socket of its own would hold the early ones
// until the stream opens; they are silence sent before any request, at the edges of calls.)
func (e *Engine) OutsideCall() uint64 {
	return e.sharedCount(func(p *sharedPort) uint64 { return p.outside.Load() })
}

func (e *Engine) sharedCount(f func(*sharedPort) uint64) uint64 {
	var n uint64
	for _, w := range e.workers {
		if w.shared != nil {
			n += f(w.shared)
		}
	}
	return n
}

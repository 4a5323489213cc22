package load

import (
	"container/heap"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// worker owns a set of streams, each with its own RTP socket on the port its session offered
// (and the RTCP port beside it), as FreeSWITCH's calls have. Every tick it builds each stream's
// packet into one batch and sends the batch with sendmmsg through one raw IP socket, which
// writes each packet's UDP header itself, so that every stream still sends from its own port
// (a server may filter or route RTP by source: mrcpd does both); then it reads the sockets epoll
// reports readable. No stream has a goroutine or a timer of its own. Without the right to open a
// raw socket (CAP_NET_RAW) each packet leaves from its stream's own socket, a system call each.
type worker struct {
	epfd int
	raw  int // IPPROTO_RAW socket, -1 without CAP_NET_RAW
	ip   [4]byte
	imp  Impairment
	rng  *rand.Rand
	stop chan struct{}

	mu      sync.Mutex
	adds    []*Stream
	stopped bool

	// owned by the run goroutine
	streams []*Stream
	byFD    map[int32]*Stream
	evs     []unix.EpollEvent
	tx      txBatch
	rx      rxBatch
	delayed delayQueue
	free    [][]byte
	hdr     [40]byte // headers' scratch
	sending int      // streams that sent on the last tick

	sent, dropped, late, skipped, sendErrors, sendCalls, received, rxDropped atomic.Uint64
	behind                                                                   atomic.Int64 // the most a packet left behind its time
}

func newWorker(ip [4]byte, imp Impairment) (*worker, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	w := &worker{epfd: epfd, raw: rawSocket(), ip: ip, imp: imp, rng: rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64())),
		stop: make(chan struct{}), byFD: map[int32]*Stream{}, evs: make([]unix.EpollEvent, 256)}
	w.rx.init()
	return w, nil
}

// rawSocket opens the socket a worker sends through, or returns -1 where that is not allowed.
func rawSocket() int {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.IPPROTO_RAW) // IP_HDRINCL implied
	if err != nil {
		return -1
	}
	if unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, sockBuf) != nil {
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUF, sockBuf)
	}
	return fd
}

// sockBuf is the raw socket's send buffer: a tick of 1,000 streams' packets with room to spare.
const sockBuf = 4 << 20

func (w *worker) add(s *Stream) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.stopped {
		return false
	}
	w.adds = append(w.adds, s)
	return true
}

// run ticks every ptime from first, and wakes between ticks only for packets held back by
// the jitter impairment.
func (w *worker) run(first time.Time) {
	defer w.shutdown()
	next := first
	t := time.NewTimer(time.Until(next))
	defer t.Stop()
	for {
		wake := next
		if len(w.delayed) > 0 && w.delayed[0].due.Before(wake) {
			wake = w.delayed[0].due
		}
		t.Reset(time.Until(wake))
		select {
		case <-w.stop:
			return
		case <-t.C:
		}
		now := time.Now()
		if now.Before(next) {
			w.sendDelayed(now)
			w.tx.flush(w)
			continue
		}
		w.takeAdds()
		skip := int64(now.Sub(next) / ptime)
		if skip <= maxCatchUp {
			skip = 0
		}
		w.skipped.Add(uint64(skip) * uint64(w.sending))
		next = next.Add(time.Duration(skip) * ptime)
		w.sendDelayed(now)
		w.tick(next, uint32(skip))
		w.receive() // after the tick: it files new streams, and sending comes first
		next = next.Add(ptime)
	}
}

func (w *worker) takeAdds() {
	w.mu.Lock()
	adds := w.adds
	w.adds = nil
	w.mu.Unlock()
	for _, s := range adds {
		ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(s.fd)}
		if err := unix.EpollCtl(w.epfd, unix.EPOLL_CTL_ADD, s.fd, &ev); err != nil {
			w.sendErrors.Add(1) // cannot happen with a fresh socket; counted rather than lost
		}
		w.byFD[int32(s.fd)] = s
		w.streams = append(w.streams, s)
	}
}

// tick sends each stream's packet of the tick due at due, in one batch, and retires the streams
// that closed. After skip ticks not sent, timestamps jump as time did (RFC 3550 §5.1) while
// sequence numbers go on: the server sees a gap in the audio, not a loss.
func (w *worker) tick(due time.Time, skip uint32) {
	w.sending = 0
	for i := 0; i < len(w.streams); {
		s := w.streams[i]
		s.mu.Lock()
		if s.closing {
			s.mu.Unlock()
			w.retire(s)
			last := len(w.streams) - 1
			w.streams[i], w.streams[last] = w.streams[last], nil
			w.streams = w.streams[:last]
			continue
		}
		if s.sending {
			s.ts += skip * s.prog.TSPerPkt
			w.send(s, due)
			w.sending++
		}
		s.mu.Unlock()
		i++
	}
	w.tx.flush(w)
}

// send builds s's packet of this tick into the batch (s.mu held).
func (w *worker) send(s *Stream, due time.Time) {
	p := s.prog
	payload, pt, ts, marker := p.Silence, p.PT, s.ts, !s.started
	if s.playing {
		f := &p.Frames[s.pos]
		payload, marker = f.Payload, marker || f.Marker
		if f.Event {
			if f.Back == 0 {
				s.eventTS = s.ts
			}
			pt, ts = p.TEPT, s.eventTS
		}
		if s.pos == p.End {
			s.inputEnd = time.Now() // before the send: the server cannot answer earlier
		}
		if s.pos++; s.pos == len(p.Frames) {
			s.pos, s.playing = 0, s.loop
		}
	}
	s.started = true
	var h [12]byte
	h[0], h[1] = 0x80, pt&0x7f
	if marker {
		h[1] |= 0x80
	}
	binary.BigEndian.PutUint16(h[2:], s.seq)
	binary.BigEndian.PutUint32(h[4:], ts)
	binary.BigEndian.PutUint32(h[8:], s.ssrc)
	s.seq++
	s.ts += p.TSPerPkt
	if w.imp.Loss > 0 && w.rng.Float64() < w.imp.Loss {
		w.dropped.Add(1)
		return
	}
	if w.imp.Jitter > 0 {
		if d := time.Duration(w.rng.Int64N(int64(w.imp.Jitter))); d > 0 {
			b := append(append(w.buffer(), w.headers(s, h[:], len(payload))...), payload...)
			heap.Push(&w.delayed, delayed{due: due.Add(d), s: s, sa: s.sa, b: b})
			return
		}
	}
	w.tx.add(s.fd, &s.sa, due, w.headers(s, h[:], len(payload)), payload)
}

// headers is what goes before a payload of n bytes: the RTP header h, behind the IPv4 and UDP
// headers a raw socket needs (RFC 791, RFC 768; the kernel fills the IP checksum and identifier;
// a UDP checksum of zero means none). The result is valid until the next call.
func (w *worker) headers(s *Stream, h []byte, n int) []byte {
	if w.raw < 0 {
		return h
	}
	b := w.hdr[:0]
	b = append(b, 0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, unix.IPPROTO_UDP, 0, 0)
	binary.BigEndian.PutUint16(b[2:], uint16(20+8+len(h)+n))
	b = append(append(b, w.ip[:]...), s.sa.Addr[:]...)
	b = binary.BigEndian.AppendUint16(b, uint16(s.Port))
	b = append(b, (*[2]byte)(unsafe.Pointer(&s.sa.Port))[:]...) // already in network byte order
	b = binary.BigEndian.AppendUint16(b, uint16(8+len(h)+n))
	b = append(b, 0, 0)
	return append(b, h...)
}

// sendDelayed adds the held-back packets now due to the batch, unless their stream has closed.
func (w *worker) sendDelayed(now time.Time) {
	for len(w.delayed) > 0 && !w.delayed[0].due.After(now) {
		d := heap.Pop(&w.delayed).(delayed)
		if !d.s.retired {
			w.tx.add(d.s.fd, &d.sa, d.due, d.b, nil)
		}
		w.free = append(w.free, d.b[:0]) // add copied it
	}
}

func (w *worker) buffer() []byte {
	if n := len(w.free); n > 0 {
		b := w.free[n-1]
		w.free = w.free[:n-1]
		return b
	}
	return make([]byte, 0, 256)
}

// retire drops a stream the session closed, and tells it so.
func (w *worker) retire(s *Stream) {
	_ = unix.EpollCtl(w.epfd, unix.EPOLL_CTL_DEL, s.fd, nil)
	delete(w.byFD, int32(s.fd))
	_ = unix.Close(s.fd)
	_ = unix.Close(s.rtcpFD)
	s.retired = true
	close(s.done)
}

func (w *worker) shutdown() {
	w.mu.Lock()
	w.stopped = true
	adds := w.adds
	w.adds = nil
	w.mu.Unlock()
	for _, s := range append(w.streams, adds...) {
		w.retire(s)
	}
	w.streams = nil
	if w.raw >= 0 {
		_ = unix.Close(w.raw)
	}
	_ = unix.Close(w.epfd)
}

// receive reads every readable socket dry, a batch a system call: epoll says which, and the
// kernel stamps each packet's arrival (SO_TIMESTAMPNS), so reading once a tick costs no precision.
func (w *worker) receive() {
	n, err := unix.EpollWait(w.epfd, w.evs, 0)
	if err != nil {
		return
	}
	for _, ev := range w.evs[:n] {
		if s := w.byFD[ev.Fd]; s != nil {
			w.drain(s)
		}
	}
}

func (w *worker) drain(s *Stream) {
	w.rx.overflow = s.overflow
	defer func() {
		w.rxDropped.Add(uint64(w.rx.overflow - s.overflow))
		s.overflow = w.rx.overflow
	}()
	for {
		n, err := w.rx.read(s.fd)
		if err != nil {
			return // EAGAIN: dry (a queued ICMP error is dropped with it; the next tick reads on)
		}
		for i := range n {
			b, at := w.rx.packet(i)
			seq, ts, ok := parseRTP(b)
			if !ok {
				continue
			}
			w.received.Add(1)
			s.mu.Lock()
			s.rx.packet(seq, ts, at)
			s.mu.Unlock()
		}
		if n < rxBatchLen {
			return
		}
	}
}

// parseRTP reads an RTP header (RFC 3550 §5.1). RTCP sent to this port (payload types
// 200-204 read as marker + 72-76) is not RTP.
func parseRTP(b []byte) (seq uint16, ts uint32, ok bool) {
	if len(b) < 12 || b[0]>>6 != 2 || (b[1] >= 200 && b[1] <= 204) {
		return 0, 0, false
	}
	return binary.BigEndian.Uint16(b[2:]), binary.BigEndian.Uint32(b[4:]), true
}

// bindPair binds a stream's RTP socket on an even port with its RTCP port beside it (as FreeSWITCH
// does; the server's RTCP reports go there and are not read).
func bindPair(ip [4]byte) (rtp, rtcp, port int, err error) {
	for range 200 {
		rtp, port, err = bind(ip, 0)
		if err != nil {
			return 0, 0, 0, err
		}
		if port%2 == 0 && port < 65535 {
			if rtcp, _, err = bind(ip, port+1); err == nil {
				return rtp, rtcp, port, nil
			}
		}
		_ = unix.Close(rtp)
	}
	return 0, 0, 0, errors.New("load: no free even RTP port with its RTCP port")
}

// bind opens a blocking socket: without a raw socket, a full send buffer makes the send wait
// rather than drop; reads ask not to wait (MSG_DONTWAIT).
func bind(ip [4]byte, port int) (fd, bound int, err error) {
	fd, err = unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return 0, 0, fmt.Errorf("load: RTP socket: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: ip, Port: port}); err != nil {
		return 0, 0, errors.Join(fmt.Errorf("load: binding an RTP port: %w", err), unix.Close(fd))
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		return 0, 0, errors.Join(fmt.Errorf("load: RTP socket: %w", err), unix.Close(fd))
	}
	return fd, sa.(*unix.SockaddrInet4).Port, nil
}

// delayed is a packet held back by the jitter impairment.
type delayed struct {
	due time.Time
	s   *Stream
	sa  unix.RawSockaddrInet4
	b   []byte
}

type delayQueue []delayed

func (q delayQueue) Len() int           { return len(q) }
func (q delayQueue) Less(i, j int) bool { return q[i].due.Before(q[j].due) }
func (q delayQueue) Swap(i, j int)      { q[i], q[j] = q[j], q[i] }
func (q *delayQueue) Push(x any)        { *q = append(*q, x.(delayed)) }
func (q *delayQueue) Pop() any {
	old := *q
	x := old[len(old)-1]
	old[len(old)-1] = delayed{}
	*q = old[:len(old)-1]
	return x
}

package load

import (
	"container/heap"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// worker owns a set of streams: it sends every one's packet of a tick in one pass, reads the
// sockets epoll reports readable in the same pass, and closes the sockets of the streams that
// ended. No stream has a goroutine or a timer of its own.
type worker struct {
	epfd int
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
	pkt     []byte
	rx      rxBuf
	delayed delayQueue
	free    [][]byte
	sending int // streams that sent on the last tick

	sent, dropped, late, skipped, sendErrors, received atomic.Uint64
}

func newWorker(imp Impairment) (*worker, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	w := &worker{epfd: epfd, imp: imp, rng: rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64())), stop: make(chan struct{}),
		byFD: map[int32]*Stream{}, evs: make([]unix.EpollEvent, 256), pkt: make([]byte, 1500)}
	w.rx.init()
	return w, nil
}

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
		w.sendDelayed(now)
		if now.Before(next) {
			continue
		}
		w.takeAdds()
		w.receive()
		skip := int64(now.Sub(next) / ptime)
		if skip <= maxCatchUp {
			skip = 0
		}
		w.skipped.Add(uint64(skip) * uint64(w.sending))
		next = next.Add(time.Duration(skip) * ptime)
		w.tick(next, uint32(skip), now.Sub(next) > ptime)
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
			s.mu.Lock()
			s.err = err
			s.mu.Unlock()
		}
		w.byFD[int32(s.fd)] = s
		w.streams = append(w.streams, s)
	}
}

// tick sends each stream's packet of the tick due at due and retires the streams that closed.
// After skip ticks not sent, timestamps jump as time did (RFC 3550 §5.1) while sequence numbers
// go on: the server sees a gap in the audio, not a loss.
func (w *worker) tick(due time.Time, skip uint32, late bool) {
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
			w.send(s, due, late)
			w.sending++
		}
		s.mu.Unlock()
		i++
	}
}

// send builds and sends s's packet of this tick (s.mu held).
func (w *worker) send(s *Stream, due time.Time, late bool) {
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
	b := w.pkt[:12]
	b[0], b[1] = 0x80, pt&0x7f
	if marker {
		b[1] |= 0x80
	}
	binary.BigEndian.PutUint16(b[2:], s.seq)
	binary.BigEndian.PutUint32(b[4:], ts)
	binary.BigEndian.PutUint32(b[8:], s.ssrc)
	b = append(b, payload...)
	s.seq++
	s.ts += p.TSPerPkt
	if w.imp.Loss > 0 && w.rng.Float64() < w.imp.Loss {
		w.dropped.Add(1)
		return
	}
	if w.imp.Jitter > 0 {
		if d := time.Duration(w.rng.Int64N(int64(w.imp.Jitter))); d > 0 {
			heap.Push(&w.delayed, delayed{due: due.Add(d), s: s, b: append(w.buffer(), b...)})
			return
		}
	}
	w.write(s, b, late)
}

func (w *worker) write(s *Stream, b []byte, late bool) {
	if err := unix.Sendto(s.fd, b, 0, &s.remote); err != nil {
		w.sendErrors.Add(1)
		return
	}
	w.sent.Add(1)
	if late {
		w.late.Add(1)
	}
}

// sendDelayed sends the held-back packets now due, unless their stream has closed.
func (w *worker) sendDelayed(now time.Time) {
	for len(w.delayed) > 0 && !w.delayed[0].due.After(now) {
		d := heap.Pop(&w.delayed).(delayed)
		if !d.s.retired {
			w.write(d.s, d.b, now.Sub(d.due) > ptime)
		}
		w.free = append(w.free, d.b[:0])
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

// retire closes the sockets of a stream the session closed, and tells it so.
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
		if _, ok := w.byFD[int32(s.fd)]; !ok {
			w.byFD[int32(s.fd)] = s // retire expects it registered
		}
		w.retire(s)
	}
	w.streams = nil
}

// receive reads every readable socket dry: epoll says which, and the kernel stamps each
// packet's arrival (SO_TIMESTAMPNS), so reading once a tick costs no precision.
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
	for {
		b, at, err := w.rx.read(s.fd)
		if errors.Is(err, unix.EAGAIN) {
			return
		}
		if err != nil {
			continue // ICMP errors queued on the socket; the next read goes on
		}
		seq, ts, ok := parseRTP(b)
		if !ok {
			continue
		}
		w.received.Add(1)
		s.mu.Lock()
		s.rx.packet(seq, ts, at)
		s.mu.Unlock()
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

// rxBuf is one recvmsg buffer with room for the arrival timestamp. Its pointers refer to
// itself, so it is allocated once per worker and never copied.
type rxBuf struct {
	msg unix.Msghdr
	iov unix.Iovec
	buf [1500]byte
	oob [64]byte
}

func (r *rxBuf) init() {
	r.iov.Base = &r.buf[0]
	r.iov.SetLen(len(r.buf))
	r.msg.Iov = &r.iov
	r.msg.Iovlen = 1
	r.msg.Control = &r.oob[0]
}

// read is recvmsg without the allocations of unix.Recvmsg (the sender's address is not needed).
func (r *rxBuf) read(fd int) ([]byte, time.Time, error) {
	r.msg.SetControllen(len(r.oob))
	r.msg.Flags = 0
	n, _, errno := unix.Syscall(unix.SYS_RECVMSG, uintptr(fd), uintptr(unsafe.Pointer(&r.msg)), unix.MSG_DONTWAIT)
	if errno != 0 {
		return nil, time.Time{}, errno
	}
	h := (*unix.Cmsghdr)(unsafe.Pointer(&r.oob[0]))
	if int(r.msg.Controllen) >= unix.CmsgSpace(16) && h.Level == unix.SOL_SOCKET && h.Type == unix.SCM_TIMESTAMPNS {
		ts := (*unix.Timespec)(unsafe.Pointer(&r.oob[unix.CmsgLen(0)]))
		return r.buf[:n], time.Unix(ts.Sec, ts.Nsec), nil
	}
	return r.buf[:n], time.Now(), nil
}

// delayed is a packet held back by the jitter impairment.
type delayed struct {
	due time.Time
	s   *Stream
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

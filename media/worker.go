package media

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/mrcpd/mrcpd/asr/clock"
)

// A worker serves many streams on one goroutine. Every 20 ms it asks epoll (level-triggered, never
// blocking) which of its sockets hold packets, drains each with recvmmsg, then runs every stream's
// tick: one frame through the receive stages and the pacer. A packet waits at most one tick in its
// socket, and its kernel arrival timestamp still feeds the jitter buffer; what the scheduler and the
// system calls cost is paid per tick, not per packet.
type worker struct {
	e    *Engine
	epfd int

	mu      sync.Mutex
	streams []*engineStream // by slot; nil slots are free
	free    []int
	live    int
	shared  *sharedPort // rtp.shared_port: this worker's RTP and RTCP sockets, nil without

	// pooled per worker: the batch receive buffers and epoll's answer
	evs   []unix.EpollEvent
	msgs  [rxBatch]mmsghdr
	iovs  [rxBatch]unix.Iovec
	names [rxBatch]unix.RawSockaddrAny
	ctrl  [rxBatch][64]byte
	bufs  [rxBatch][rxBufBytes]byte
}

const (
	// rxBatch datagrams at most per recvmmsg: a shared port holds a tick's packets of every stream
	// of the worker; a stream's own socket one or two, so it asks for streamBatch.
	rxBatch     = 64
	streamBatch = 8
	rxBufBytes  = 12 + 60 + jitterSlotBytes // RTP header with CSRCs and extension room, then the payload
	epollBatch  = 256
)

// mmsghdr is struct mmsghdr of recvmmsg(2).
type mmsghdr struct {
	hdr unix.Msghdr
	n   uint32
	_   [4]byte
}

// Epoll user data: the slot (sharedSlot for the shared port), and which socket of it.
const (
	sockRTP    = 0
	sockRTCP   = 1
	sharedSlot = -1
)

func newWorker(e *Engine) (*worker, error) {
	fd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("media: epoll: %w", err)
	}
	w := &worker{e: e, epfd: fd, evs: make([]unix.EpollEvent, epollBatch)}
	for i := range w.msgs {
		w.iovs[i] = unix.Iovec{Base: &w.bufs[i][0]}
		w.iovs[i].SetLen(rxBufBytes)
		h := &w.msgs[i].hdr
		h.Name = (*byte)(unsafe.Pointer(&w.names[i]))
		h.Iov = &w.iovs[i]
		h.Iovlen = 1
		h.Control = &w.ctrl[i][0]
	}
	return w, nil
}

func (w *worker) closeFD() {
	_ = unix.Close(w.epfd)
	if w.shared != nil {
		w.shared.close()
	}
}

// share gives the worker its shared port's sockets (rtp.shared_port).
func (w *worker) share(p *sharedPort) error {
	if err := w.watch(p.rtp, sharedSlot, sockRTP); err != nil {
		return err
	}
	if err := w.watch(p.rtcp, sharedSlot, sockRTCP); err != nil {
		return err
	}
	w.shared = p
	return nil
}

func (w *worker) load() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.live
}

func (w *worker) run(ctx context.Context) {
	t := w.e.clock.NewTicker(FrameDuration)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C():
			w.poll(now)
		}
	}
}

// slotFor places st in a free slot; w.mu is held.
func (w *worker) slotFor(st *engineStream) {
	slot := len(w.streams)
	if n := len(w.free); n > 0 {
		slot, w.free = w.free[n-1], w.free[:n-1]
	} else {
		w.streams = append(w.streams, nil)
	}
	st.w, st.slot = w, slot
}

// addShared puts a stream of the shared port on the worker, its RTP routed by src (the offer's).
func (w *worker) addShared(st *engineStream, src netip.AddrPort) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.slotFor(st)
	w.shared.index(st, src)
	w.streams[st.slot] = st
	w.live++
	w.startPacing(st)
}

func (w *worker) startPacing(st *engineStream) {
	if st.tx != nil {
		st.tx.start()
		_ = st.tx.PaceAt(w.e.clock.Now())
	}
}

// add registers a stream's sockets and starts its pacer's timeline.
func (w *worker) add(st *engineStream) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.slotFor(st)
	slot := st.slot
	if err := w.watch(st.sock, slot, sockRTP); err != nil {
		w.free = append(w.free, slot)
		return err
	}
	if st.rtcp != nil {
		if err := w.watch(st.rtcp, slot, sockRTCP); err != nil {
			w.unwatch(st.sock)
			w.free = append(w.free, slot)
			return err
		}
	}
	w.streams[slot] = st
	w.live++
	st.sock.mu.Lock()
	st.sock.stream = st
	st.sock.mu.Unlock()
	w.startPacing(st)
	return nil
}

func (w *worker) watch(s *Socket, slot, kind int) error {
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(slot), Pad: int32(kind)}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fd < 0 {
		return net.ErrClosed
	}
	if err := unix.EpollCtl(w.epfd, unix.EPOLL_CTL_ADD, s.fd, &ev); err != nil {
		return fmt.Errorf("media: epoll add: %w", err)
	}
	return nil
}

func (w *worker) unwatch(s *Socket) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fd >= 0 {
		_ = unix.EpollCtl(w.epfd, unix.EPOLL_CTL_DEL, s.fd, nil)
	}
}

// remove takes a stream off the worker; once it returns the worker no longer touches the stream.
func (w *worker) remove(st *engineStream) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if st.closed {
		return
	}
	st.closed = true
	if st.shared != nil {
		w.shared.unindex(st, w.e.clock.Now())
	} else {
		w.unwatch(st.sock)
	}
	if st.rtcp != nil {
		w.unwatch(st.rtcp)
	}
	w.streams[st.slot] = nil
	w.free = append(w.free, st.slot)
	w.live--
	st.taps = nil
}

// poll reads what arrived since the last tick, then ticks every stream.
func (w *worker) poll(now time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	// Kernel timestamps are wall-clock: an arrival time is now minus the packet's age. On another
	// clock (tests drive time) every packet arrives at the tick.
	var wall time.Time
	if _, real := w.e.clock.(clock.Real); real {
		wall = time.Now()
	}
	for {
		n, err := unix.EpollWait(w.epfd, w.evs, 0)
		if err != nil {
			if err == unix.EINTR {
				continue
			}
			w.e.log.Error("media worker: epoll_wait", "err", err)
			break
		}
		for _, ev := range w.evs[:n] {
			if ev.Fd == sharedSlot {
				w.drainShared(int(ev.Pad), now, wall)
			} else if st := w.streams[ev.Fd]; st != nil {
				w.drain(st, int(ev.Pad), now, wall)
			}
		}
		if n < len(w.evs) {
			break
		}
	}
	for _, st := range w.streams {
		if st != nil {
			st.tick(now)
		}
	}
}

// drain reads a socket until it is empty, handing each datagram to the stream's receive stages.
func (w *worker) drain(st *engineStream, kind int, now, wall time.Time) {
	sock := st.sock
	if kind == sockRTCP {
		sock = st.rtcp
	}
	sock.mu.Lock()
	fd := sock.fd
	sock.mu.Unlock()
	if fd < 0 {
		return
	}
	for {
		r, e := w.recv(fd, streamBatch)
		if e != 0 {
			if e != unix.EAGAIN {
				st.log.Debug("rtp receive", "err", e)
			}
			return
		}
		for i := 0; i < r; i++ {
			m := &w.msgs[i]
			b := w.bufs[i][:m.n]
			from := parseSockaddr(&w.names[i])
			at := arrival(&m.hdr, now, wall)
			switch {
			case st.rx == nil:
				// a send-only stream: nothing to receive
			case kind == sockRTCP:
				if b, ok := st.guard.rtcp(b, from); ok {
					st.rx.ReceiveRTCPAt(b, net.UDPAddrFromAddrPort(from), at)
				}
			default:
				if b, ok := st.guard.rtp(b, from, at); ok {
					st.rx.ReceiveAt(b, from, at, st)
				}
			}
		}
		if r < streamBatch {
			return
		}
	}
}

// drainShared reads the shared port's RTP (or RTCP) socket until it is empty, routing each
// datagram to its stream.
func (w *worker) drainShared(kind int, now, wall time.Time) {
	sock := w.shared.rtp
	if kind == sockRTCP {
		sock = w.shared.rtcp
	}
	sock.mu.Lock()
	fd := sock.fd
	sock.mu.Unlock()
	if fd < 0 {
		return
	}
	for {
		r, e := w.recv(fd, rxBatch)
		if e != 0 {
			if e != unix.EAGAIN {
				w.e.log.Debug("shared rtp receive", "err", e)
			}
			return
		}
		for i := 0; i < r; i++ {
			m := &w.msgs[i]
			w.shared.receive(kind, w.bufs[i][:m.n], parseSockaddr(&w.names[i]), arrival(&m.hdr, now, wall))
		}
		if r < rxBatch {
			return
		}
	}
}

// recv reads up to vlen datagrams from fd into the worker's buffers without blocking. ICMP port
// unreachable after an earlier send is reported once (ECONNREFUSED) and the socket still works.
func (w *worker) recv(fd, vlen int) (int, unix.Errno) {
	for {
		for i := range vlen {
			h := &w.msgs[i].hdr
			h.Namelen = unix.SizeofSockaddrAny
			h.Controllen = uint64(len(w.ctrl[i]))
			h.Flags = 0
		}
		r, _, e := unix.Syscall6(unix.SYS_RECVMMSG, uintptr(fd), uintptr(unsafe.Pointer(&w.msgs[0])), uintptr(vlen),
			unix.MSG_DONTWAIT, 0, 0)
		if e == unix.ECONNREFUSED || e == unix.EINTR {
			continue
		}
		return int(r), e
	}
}

// arrival is when a datagram arrived on the caller's clock: its kernel timestamp's age, back from now.
func arrival(h *unix.Msghdr, now, wall time.Time) time.Time {
	if wall.IsZero() || h.Controllen < unix.SizeofCmsghdr+16 {
		return now
	}
	c := (*unix.Cmsghdr)(unsafe.Pointer(h.Control))
	if c.Level != unix.SOL_SOCKET || c.Type != unix.SCM_TIMESTAMPNS {
		return now
	}
	ts := (*unix.Timespec)(unsafe.Pointer(uintptr(unsafe.Pointer(h.Control)) + unix.SizeofCmsghdr))
	age := wall.Sub(time.Unix(ts.Sec, ts.Nsec))
	if age <= 0 {
		return now
	}
	return now.Add(-age)
}

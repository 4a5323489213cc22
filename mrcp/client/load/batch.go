package load

import (
	"encoding/binary"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// sendBatchLen is the most packets one sendmmsg carries: a worker's tick of up to this many
// streams is one system call (the kernel takes at most UIO_MAXIOV, 1,024).
const sendBatchLen = 256

// txBatch is a tick's packets, built back to back in one buffer and sent with sendmmsg. Its
// slices grow to the largest tick and are kept: a steady tick allocates nothing.
type txBatch struct {
	fds   []int // each packet's stream socket, for sending without the raw socket
	buf   []byte
	ends  []int // packet i is buf[ends[i-1]:ends[i]]
	dues  []time.Time
	names []unix.RawSockaddrInet4
	iovs  []unix.Iovec
	msgs  []unix.Mmsghdr
}

// add copies a packet (headers and payload) of the stream socket fd to the batch, for sa, due at due.
func (t *txBatch) add(fd int, sa *unix.RawSockaddrInet4, due time.Time, header, payload []byte) {
	t.fds = append(t.fds, fd)
	t.buf = append(append(t.buf, header...), payload...)
	t.ends = append(t.ends, len(t.buf))
	t.dues = append(t.dues, due)
	t.names = append(t.names, *sa)
}

// flush sends the batch from w's socket and counts it: a packet is late when the system call
// that sent it returned more than a packet time after the packet's due time, the schedule a
// real 20 ms line keeps.
func (t *txBatch) flush(w *worker) {
	n := len(t.ends)
	if n == 0 {
		return
	}
	t.point()
	for off := 0; off < n; {
		fd, end := w.raw, min(n, off+sendBatchLen)
		if fd < 0 {
			fd, end = t.fds[off], off+1
		}
		k, errno := sendmmsg(fd, t.msgs[off:end])
		after := time.Now()
		w.sendCalls.Add(1)
		if errno != 0 {
			// The first packet was refused (no route, message too long): count it and go on with
			// the next. Later ones in a batch that failed midway are sent again by the next call.
			w.sendErrors.Add(1)
			off++
			continue
		}
		w.count(t.dues[off:off+k], after)
		off += k
	}
	t.fds, t.buf, t.ends, t.dues, t.names = t.fds[:0], t.buf[:0], t.ends[:0], t.dues[:0], t.names[:0]
}

// point sets the messages' pointers once the buffer has stopped growing.
func (t *txBatch) point() {
	n := len(t.ends)
	if cap(t.msgs) < n {
		t.iovs = make([]unix.Iovec, n, cap(t.ends))
		t.msgs = make([]unix.Mmsghdr, n, cap(t.ends))
	}
	t.iovs, t.msgs = t.iovs[:n], t.msgs[:n]
	start := 0
	for i, end := range t.ends {
		t.iovs[i].Base = &t.buf[start]
		t.iovs[i].SetLen(end - start)
		h := &t.msgs[i].Hdr
		h.Name = (*byte)(unsafe.Pointer(&t.names[i]))
		h.Namelen = unix.SizeofSockaddrInet4
		h.Iov = &t.iovs[i]
		h.SetIovlen(1)
		start = end
	}
}

func (w *worker) count(dues []time.Time, after time.Time) {
	w.sent.Add(uint64(len(dues)))
	most := time.Duration(0)
	for _, due := range dues {
		d := after.Sub(due)
		if d > ptime {
			w.late.Add(1)
		}
		most = max(most, d)
	}
	if int64(most) > w.behind.Load() {
		w.behind.Store(int64(most)) // the worker is the only writer
	}
}

func sendmmsg(fd int, msgs []unix.Mmsghdr) (int, unix.Errno) {
	n, _, errno := unix.Syscall6(unix.SYS_SENDMMSG, uintptr(fd), uintptr(unsafe.Pointer(&msgs[0])), uintptr(len(msgs)), 0, 0, 0)
	return int(n), errno
}

// rxBatchLen is the most packets one recvmmsg reads.
const rxBatchLen = 64

// rxBatch is recvmmsg's buffers with room for each packet's arrival timestamp and the socket's
// drop count. Its pointers refer to itself, so it is allocated once per worker and
// never copied.
type rxBatch struct {
	msgs     [rxBatchLen]unix.Mmsghdr
	iovs     [rxBatchLen]unix.Iovec
	oob      [rxBatchLen][64]byte
	bufs     [rxBatchLen][1500]byte
	overflow uint32 // SO_RXQ_OVFL of the socket read: packets the kernel dropped on its full buffer
}

func (r *rxBatch) init() {
	for i := range r.msgs {
		r.iovs[i].Base = &r.bufs[i][0]
		r.iovs[i].SetLen(len(r.bufs[i]))
		h := &r.msgs[i].Hdr
		h.Iov = &r.iovs[i]
		h.SetIovlen(1)
		h.Control = &r.oob[i][0]
	}
}

// read is one recvmmsg without waiting.
func (r *rxBatch) read(fd int) (int, error) {
	for i := range r.msgs {
		h := &r.msgs[i].Hdr
		h.SetControllen(len(r.oob[i]))
		h.Flags = 0
	}
	n, _, errno := unix.Syscall6(unix.SYS_RECVMMSG, uintptr(fd), uintptr(unsafe.Pointer(&r.msgs[0])), rxBatchLen,
		unix.MSG_DONTWAIT, 0, 0)
	if errno != 0 {
		return 0, errno
	}
	return int(n), nil
}

// packet is message i of the last read: its bytes and its arrival time.
func (r *rxBatch) packet(i int) ([]byte, time.Time) {
	h := &r.msgs[i].Hdr
	at := time.Time{}
	oob := r.oob[i][:h.Controllen]
	for len(oob) >= unix.SizeofCmsghdr {
		c := (*unix.Cmsghdr)(unsafe.Pointer(&oob[0]))
		if c.Len < unix.SizeofCmsghdr || int(c.Len) > len(oob) {
			break
		}
		data := oob[unix.CmsgLen(0):c.Len]
		switch {
		case c.Level != unix.SOL_SOCKET:
		case c.Type == unix.SCM_TIMESTAMPNS && len(data) >= int(unsafe.Sizeof(unix.Timespec{})):
			ts := (*unix.Timespec)(unsafe.Pointer(&data[0]))
			at = time.Unix(ts.Sec, ts.Nsec)
		case c.Type == unix.SO_RXQ_OVFL && len(data) >= 4:
			r.overflow = *(*uint32)(unsafe.Pointer(&data[0]))
		}
		oob = oob[min(len(oob), unix.CmsgSpace(int(c.Len)-unix.CmsgLen(0))):]
	}
	if at.IsZero() {
		at = time.Now()
	}
	return r.bufs[i][:r.msgs[i].Len], at
}

// rawAddr is sa as the kernel takes it.
func rawAddr(sa *unix.SockaddrInet4) unix.RawSockaddrInet4 {
	raw := unix.RawSockaddrInet4{Family: unix.AF_INET, Addr: sa.Addr}
	binary.BigEndian.PutUint16((*[2]byte)(unsafe.Pointer(&raw.Port))[:], uint16(sa.Port))
	return raw
}

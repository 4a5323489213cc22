package load

import (
	"fmt"
	"net"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// lateAfter is how far behind its schedule a received packet may arrive before it counts as
// late: the schedule starts at the first packet of a SPEAK and follows its RTP timestamps, as a
// receiver's jitter buffer of this depth would play them.
const lateAfter = 60 * time.Millisecond

// Stream is one session's RTP: a socket pair owned by a worker. The session drives it with
// Connect, Play, Silence, Listen and Close; the worker does all the I/O.
type Stream struct {
	w      *worker
	fd     int
	rtcpFD int
	Port   int // RTP port to offer
	done   chan struct{}

	mu       sync.Mutex
	sending  bool
	sa       unix.RawSockaddrInet4 // the server's RTP address
	prog     *Program
	playing  bool
	loop     bool
	pos      int
	inputEnd time.Time
	closing  bool
	rx       rxState

	// worker only
	started  bool
	retired  bool
	overflow uint32 // SO_RXQ_OVFL last read
	ssrc     uint32
	seq      uint16
	ts       uint32
	eventTS  uint32 // of the RFC 4733 event being sent: its packets keep it even across a skip
}

// Connect sets where the stream goes and, when send is set, starts a continuous line of
// silence to it in p's codec (a caller's line does not go quiet between prompts).
func (s *Stream) Connect(remote *net.UDPAddr, p *Program, send bool) error {
	ip := remote.IP.To4()
	if ip == nil {
		return fmt.Errorf("load: server RTP address %v is not IPv4", remote)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sa = rawAddr(&unix.SockaddrInet4{Port: remote.Port, Addr: [4]byte(ip)})
	s.prog, s.sending = p, send
	s.rx.clock = p.Clock
	return nil
}

// Play sends the program's input from the next tick, over and over when loop is set.
func (s *Stream) Play(loop bool) {
	s.mu.Lock()
	s.playing, s.loop, s.pos, s.inputEnd = len(s.prog.Frames) > 0, loop, 0, time.Time{}
	s.mu.Unlock()
}

// Silence returns the line to silence.
func (s *Stream) Silence() {
	s.mu.Lock()
	s.playing = false
	s.mu.Unlock()
}

// InputEnd is when the last packet of the input (its last sound, or its last digit's end)
// left; zero while it has not.
func (s *Stream) InputEnd() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.inputEnd
}

// Listen starts counting what arrives from since (a SPEAK request's time) afresh.
func (s *Stream) Listen(since time.Time) {
	s.mu.Lock()
	s.rx = rxState{listening: true, since: since, clock: s.rx.clock}
	s.mu.Unlock()
}

// Received is what arrived since Listen.
func (s *Stream) Received() RxStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rx.stats()
}

// Close hands the sockets back to the worker to close, and waits until it has.
func (s *Stream) Close() {
	s.mu.Lock()
	s.closing = true
	s.mu.Unlock()
	<-s.done
}

// RxStats is what a stream received during one SPEAK.
type RxStats struct {
	Packets uint64    `json:"packets"`
	Missing uint64    `json:"missing"` // sequence numbers never seen
	Late    uint64    `json:"late"`    // more than 60 ms behind the schedule set by the first packet
	First   time.Time `json:"-"`       // arrival of the first packet
}

type rxState struct {
	listening bool
	since     time.Time
	clock     int
	n         uint64
	first     time.Time
	highest   uint16 // highest sequence number seen
	span      int64  // sequence numbers from the first to the highest
	baseTS    uint32
	late      uint64
}

func (r *rxState) packet(seq uint16, ts uint32, at time.Time) {
	if !r.listening || at.Before(r.since) {
		return
	}
	if r.n == 0 {
		r.first, r.highest, r.baseTS = at, seq, ts
	} else if d := int16(seq - r.highest); d > 0 {
		r.span += int64(d)
		r.highest = seq
	}
	r.n++
	if r.clock > 0 {
		due := r.first.Add(time.Duration(int32(ts-r.baseTS)) * time.Second / time.Duration(r.clock))
		if at.Sub(due) > lateAfter {
			r.late++
		}
	}
}

func (r *rxState) stats() RxStats {
	st := RxStats{Packets: r.n, Late: r.late, First: r.first}
	if r.n > 0 && uint64(r.span+1) > r.n {
		st.Missing = uint64(r.span+1) - r.n
	}
	return st
}

package media

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/pion/rtp"

	"github.com/mrcpd/mrcpd/asr/clock"
	"github.com/mrcpd/mrcpd/media/audio"
)

// SenderConfig configures a Sender.
type SenderConfig struct {
	Format         Format
	TelephoneEvent *Format       // negotiated telephone-event, for SendDTMF; nil disables it
	Ptime          time.Duration // packet duration; 0 means 20 ms
	InputRate      int           // rate of PCM given to Write; 0 means the codec's rate
	Clock          clock.Clock
	Logger         *slog.Logger
}

type endMark struct {
	pos int64
	ch  chan struct{}
}

type dtmfJob struct {
	event   uint8
	samples int // total duration in RTP timestamp units
	ts      uint32
	dur     int
	ends    int // end packets sent (RFC 4733 §2.5.1.4 sends three)
	started bool
	cancel  bool
	done    chan struct{}
}

// Sender is the send pipeline: Write (PCM at InputRate) -> resample -> queue -> encode -> RTP -> pacer.
// The pacer sends one packet per ptime against the injected clock's elapsed time, so it cannot drift;
// timestamps advance with time (also across silences and utterances) and sequence numbers with packets,
// and the first packet of each talkspurt carries the marker bit (RFC 3551 §4.1).
type Sender struct {
	conn     net.PacketConn
	clock    clock.Clock
	log      *slog.Logger
	enc      Encoder
	format   Format
	te       *Format
	rate     int // codec PCM rate
	frameN   int // PCM samples per packet
	tsPerPkt uint32
	ptime    time.Duration
	ssrc     uint32

	mu       sync.Mutex
	remote   net.Addr
	remoteAP netip.AddrPort
	rs       *audio.Resampler
	queue    []int16
	head     int
	written  int64 // samples ever queued
	consumed int64 // samples ever sent or flushed
	ends     []endMark
	paused   bool
	running  bool
	dtmf     *dtmfJob
	dtmfWait []*dtmfJob

	// pacer state, Run goroutine only
	seq       uint16
	ts        uint32
	talk      bool
	frame     []int16
	payload   []byte
	pkt       []byte
	hdr       rtp.Header
	sent      uint64
	paceStart time.Time
	ticks     int64
}

// NewSender prepares a sender to remote. It starts nothing: Run does.
func NewSender(conn net.PacketConn, remote net.Addr, cfg SenderConfig) (*Sender, error) {
	c, err := LookupCodec(cfg.Format)
	if err != nil {
		return nil, err
	}
	enc, err := c.NewEncoder(cfg.Format)
	if err != nil {
		return nil, err
	}
	if cfg.Ptime <= 0 {
		cfg.Ptime = 20 * time.Millisecond
	}
	if cfg.InputRate <= 0 {
		cfg.InputRate = c.SampleRate()
	}
	s := &Sender{conn: conn, clock: clock.Or(cfg.Clock), log: cfg.Logger, enc: enc, format: cfg.Format,
		te: cfg.TelephoneEvent, rate: c.SampleRate(), ptime: cfg.Ptime, ssrc: rand.Uint32(),
		seq: uint16(rand.Uint32()), ts: rand.Uint32()}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.frameN = int(int64(s.rate) * int64(cfg.Ptime) / int64(time.Second))
	s.tsPerPkt = uint32(int64(cfg.Format.ClockRate) * int64(cfg.Ptime) / int64(time.Second))
	s.rs = audio.NewResampler(cfg.InputRate, s.rate)
	s.frame = make([]int16, s.frameN)
	s.payload = make([]byte, 0, 4*s.frameN+64)
	s.pkt = make([]byte, 12+cap(s.payload))
	// s.queue grows with the first utterance (to about a second, more for a synthesizer far ahead of
	// real time): a stream that never speaks holds none.
	s.setRemote(remote)
	return s, nil
}

func (s *Sender) String() string {
	return fmt.Sprintf("%s -> Encode(%s) -> RTP(%s, %s) -> Pacer", s.rs,
		s.format.Name, s.format, s.ptime)
}

// SetRemote changes where packets go (symmetric RTP latching).
func (s *Sender) SetRemote(addr net.Addr) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.setRemote(addr)
}

func (s *Sender) setRemote(addr net.Addr) {
	s.remote, s.remoteAP = addr, netip.AddrPort{}
	if ua, ok := addr.(*net.UDPAddr); ok {
		s.remoteAP = ua.AddrPort()
	}
}

// SSRC is the stream's synchronisation source.
func (s *Sender) SSRC() uint32 { return s.ssrc }

// Write queues PCM at InputRate. It never blocks on the network: the pacer drains the queue in real time.
func (s *Sender) Write(pcm []int16) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.head > 0 && s.head >= len(s.queue)/2 {
		n := copy(s.queue, s.queue[s.head:])
		s.queue, s.head = s.queue[:n], 0
	}
	n := len(s.queue)
	s.queue = s.rs.Process(s.queue, pcm)
	s.written += int64(len(s.queue) - n)
	return nil
}

// End marks the end of the utterance written so far; the channel is closed once its last packet has been
// sent (at once if nothing is pending), or when the sender stops or is flushed.
func (s *Sender) End() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch := make(chan struct{})
	if s.written == s.consumed {
		close(ch)
		return ch
	}
	s.ends = append(s.ends, endMark{pos: s.written, ch: ch})
	return ch
}

// Flush drops queued audio (STOP, barge-in); pending End channels are closed.
func (s *Sender) Flush() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.queue, s.head = s.queue[:0], 0
	s.consumed = s.written
	s.rs.Reset()
	s.closeEnds()
}

// Pause stops sending (timestamps keep advancing); Resume continues with a new talkspurt.
func (s *Sender) Pause() {
	s.mu.Lock()
	s.paused = true
	s.mu.Unlock()
}

// Resume undoes Pause.
func (s *Sender) Resume() {
	s.mu.Lock()
	s.paused = false
	s.mu.Unlock()
}

// Queued is how much audio waits to be sent.
func (s *Sender) Queued() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return time.Duration(len(s.queue)-s.head) * time.Second / time.Duration(s.rate)
}

func (s *Sender) closeEnds() {
	for _, e := range s.ends {
		close(e.ch)
	}
	s.ends = s.ends[:0]
}

// maxCatchUp bounds how many packets one late tick may send: enough to absorb scheduling hiccups, never
// a burst after a long stall (the timeline skips instead).
const maxCatchUp = 3

// Run is the pacer. It returns when ctx is done; pending End channels are then closed and SendDTMF calls
// return. An Engine paces its streams' senders on its workers' tick instead.
func (s *Sender) Run(ctx context.Context) error {
	s.start()
	defer s.stop()
	// The timeline starts before the ticker exists, so no tick can precede it.
	if err := s.PaceAt(s.clock.Now()); err != nil {
		return err
	}
	t := s.clock.NewTicker(s.ptime)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case now := <-t.C():
			if err := s.PaceAt(now); err != nil {
				return err
			}
		}
	}
}

// start marks the pacer running (SendDTMF waits for it); stop releases every waiter.
func (s *Sender) start() {
	s.mu.Lock()
	s.running = true
	s.mu.Unlock()
}

func (s *Sender) stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.running = false
	s.closeEnds()
	if s.dtmf != nil {
		close(s.dtmf.done)
		s.dtmf = nil
	}
	for _, j := range s.dtmfWait {
		close(j.done)
	}
	s.dtmfWait = nil
}

// PaceAt sends the packets due by now: the first call sets the start of the timeline, each later one sends
// one packet per ptime elapsed since then. Run calls it on every tick; callers that own the timing loop
// (and tests) may call it instead of Run, never concurrently with it.
func (s *Sender) PaceAt(now time.Time) error {
	if s.paceStart.IsZero() {
		s.paceStart = now
		return nil
	}
	due := int64(now.Sub(s.paceStart) / s.ptime)
	if behind := due - s.ticks; behind > maxCatchUp {
		skip := behind - 1
		s.mu.Lock()
		s.ts += uint32(skip) * s.tsPerPkt
		s.talk = false
		s.mu.Unlock()
		s.ticks += skip
	}
	for s.ticks < due {
		if err := s.step(); err != nil {
			return err
		}
		s.ticks++
	}
	return nil
}

// Sent is the number of packets sent.
func (s *Sender) Sent() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sent
}

// step sends what one packet time holds: a DTMF event packet, audio, or nothing (paused, or the
// synthesizer is behind: a gap, never a burst later).
func (s *Sender) step() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	defer func() { s.ts += s.tsPerPkt }()
	if s.dtmf == nil && len(s.dtmfWait) > 0 {
		s.dtmf, s.dtmfWait = s.dtmfWait[0], s.dtmfWait[1:]
	}
	if s.dtmf != nil {
		return s.stepDTMF()
	}
	avail := len(s.queue) - s.head
	if s.paused || avail == 0 {
		s.talk = false
		return nil
	}
	n := min(avail, s.frameN)
	if n < s.frameN && !s.endPending() {
		s.talk = false // wait for the synthesizer rather than pad mid-utterance
		return nil
	}
	copy(s.frame, s.queue[s.head:s.head+n])
	clear(s.frame[n:])
	s.head += n
	s.consumed += int64(n)
	if s.head == len(s.queue) {
		s.queue, s.head = s.queue[:0], 0
	}
	var err error
	s.payload, err = s.enc.Encode(s.payload[:0], s.frame)
	if err != nil {
		return fmt.Errorf("media: encoding %s: %w", s.format.Name, err)
	}
	err = s.send(s.format.PT, !s.talk, s.ts, s.payload)
	s.talk = true
	for len(s.ends) > 0 && s.ends[0].pos <= s.consumed {
		close(s.ends[0].ch)
		s.ends = s.ends[1:]
	}
	return err
}

func (s *Sender) endPending() bool {
	return len(s.ends) > 0 && s.ends[0].pos <= s.written
}

func (s *Sender) send(pt uint8, marker bool, ts uint32, payload []byte) error {
	s.hdr = rtp.Header{Version: 2, Marker: marker, PayloadType: pt, SequenceNumber: s.seq, Timestamp: ts,
		SSRC: s.ssrc, CSRC: s.hdr.CSRC[:0]}
	n, err := s.hdr.MarshalTo(s.pkt)
	if err != nil {
		return fmt.Errorf("media: marshalling RTP: %w", err)
	}
	n += copy(s.pkt[n:], payload)
	s.seq++
	s.sent++
	if udp, ok := s.conn.(addrPortWriter); ok && s.remoteAP.IsValid() {
		_, err = udp.WriteToUDPAddrPort(s.pkt[:n], s.remoteAP)
	} else {
		_, err = s.conn.WriteTo(s.pkt[:n], s.remote)
	}
	if err != nil {
		// A peer that went away shows up as ICMP errors on the next write; the session decides what a
		// media failure means, so report it without stopping the pacer.
		s.log.Debug("rtp send failed", "err", err)
	}
	return nil
}

// addrPortWriter sends without allocating a net.Addr (*net.UDPConn, *Socket).
type addrPortWriter interface {
	WriteToUDPAddrPort(b []byte, addr netip.AddrPort) (int, error)
}

package media

import (
	"fmt"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"
)

// JitterConfig bounds the adaptive playout delay. Zero fields take the defaults (50 ms initial, 20 ms
// minimum, 600 ms maximum: UniMRCP's defaults are 50 ms initial and 600 ms maximum).
type JitterConfig struct {
	Initial, Min, Max time.Duration
}

func (c JitterConfig) withDefaults() JitterConfig {
	if c.Initial <= 0 {
		c.Initial = 50 * time.Millisecond
	}
	if c.Min <= 0 {
		c.Min = 20 * time.Millisecond
	}
	if c.Max <= 0 {
		c.Max = 600 * time.Millisecond
	}
	c.Min = min(c.Min, c.Max)
	c.Initial = min(max(c.Initial, c.Min), c.Max)
	return c
}

// JitterStats is a snapshot of a buffer's counters (safe to read from any goroutine).
type JitterStats struct {
	Received, Lost, Late, Reordered, Duplicated, Malformed uint64
	Dropped                                                uint64        // packets discarded to shrink the delay (clock skew, spikes that passed)
	Underruns                                              uint64        // ticks with nothing to play
	Resets                                                 uint64        // new SSRC, timeline jump or talkspurt realignment
	Foreign                                                uint64        // datagrams from another source than the peer's (engine streams)
	Unauthenticated                                        uint64        // SRTP/SRTCP datagrams that failed authentication (engine streams)
	Jitter                                                 time.Duration // RFC 3550 §A.8 interarrival jitter
	Delay                                                  time.Duration // current target playout delay
}

type jitterCounters struct {
	received, lost, late, reordered, duplicated, malformed, dropped, underruns, resets atomic.Uint64
	jitterNs, delayNs                                                                  atomic.Int64
}

// PopKind says what Pop produced.
type PopKind int

const (
	PopNone   PopKind = iota // nothing to play yet (buffering or underrun): the caller conceals or plays silence
	PopPacket                // a packet, in sequence
	PopLost                  // the next packet is missing and later ones are here: conceal one packet's worth
)

const (
	jitterSlotBytes = 2048 // L16/48000 at 20 ms is 1920 bytes
	adaptWindow     = 50   // packets between delay adaptations (1 s at 20 ms)
	absurdJump      = 30   // seconds of RTP timestamp jump within a few sequence numbers
)

type jitterSlot struct {
	ext     int64
	ts      uint32
	pt      uint8
	marker  bool
	filled  bool // holds a packet not yet played
	played  bool // ext was played (or skipped): a second copy is a duplicate
	skip    bool // not audio (telephone-event): consumes a sequence number, plays nothing
	n       int
	payload []byte // allocated when the slot is first used, the size of the stream's packets
}

// JitterBuffer is an adaptive playout buffer for one RTP stream: preallocated slots indexed by extended
// sequence number, one goroutine pushing and popping, counters readable from anywhere. Time enters only
// through PushAt's receivedAt and Pop's now, so tests control it.
type JitterBuffer struct {
	st jitterCounters

	cfg       JitterConfig
	clockRate int
	slots     []jitterSlot // a ring that grows on demand up to maxSlots
	mask      int64
	maxSlots  int

	started, playing bool
	ssrc             uint32
	maxExt, next     int64
	count            int // filled slots at or after next
	startAt          time.Time
	lastTS           uint32
	lastExt          int64
	pktSamples       int // RTP timestamp units per packet, learnt from the stream
	minPktSamples    int // the shortest seen: a sender that skips packets jumps its timestamps
	newPktSamples    int // a duration seen once: adopted when the next packet confirms it
	absurd           int

	target      time.Duration
	lateFloor   time.Duration
	jitter      float64 // RFC 3550 J in timestamp units
	lastArrival int64
	lastJitTS   uint32
	haveTransit bool
	epoch       time.Time
	winPops     int
	winMin      int
	winMax      int
	winLate     bool
}

// NewJitterBuffer returns a buffer for a stream with the given RTP clock rate.
func NewJitterBuffer(cfg JitterConfig, clockRate int) *JitterBuffer {
	cfg = cfg.withDefaults()
	n := 64
	for n*10 < int(cfg.Max/time.Millisecond)*2 && n < 512 {
		n *= 2
	}
	// The ring starts small (160 ms of 20 ms packets) and doubles when a packet lands beyond it: an
	// idle or well-behaved stream holds a few slots, a jittery one up to the bound its Max needs.
	j := &JitterBuffer{cfg: cfg, clockRate: clockRate, slots: make([]jitterSlot, initialSlots),
		mask: initialSlots - 1, maxSlots: n, target: cfg.Initial, pktSamples: clockRate / 50}
	j.st.delayNs.Store(int64(cfg.Initial))
	return j
}

func (j *JitterBuffer) String() string { return fmt.Sprintf("Jitter(%s)", j.cfg.Initial) }

// Stats returns the counters.
func (j *JitterBuffer) Stats() JitterStats {
	return JitterStats{
		Received: j.st.received.Load(), Lost: j.st.lost.Load(), Late: j.st.late.Load(),
		Reordered: j.st.reordered.Load(), Duplicated: j.st.duplicated.Load(), Malformed: j.st.malformed.Load(),
		Dropped: j.st.dropped.Load(), Underruns: j.st.underruns.Load(), Resets: j.st.resets.Load(),
		Jitter: time.Duration(j.st.jitterNs.Load()), Delay: time.Duration(j.st.delayNs.Load()),
	}
}

// CountMalformed records a packet the caller rejected before pushing it.
func (j *JitterBuffer) CountMalformed() { j.st.malformed.Add(1) }

// Peek returns the payload of the next packet to play, if it is here. After PopLost that is the packet
// following the lost one, which carries the lost one's in-band FEC (Opus).
func (j *JitterBuffer) Peek() (payload []byte, pt uint8, ok bool) {
	s := &j.slots[j.next&j.mask]
	if s.filled && s.ext == j.next && !s.skip {
		return s.payload[:s.n], s.pt, true
	}
	return nil, 0, false
}

// Playing reports whether playout has started (a stream is present and its initial delay has passed).
func (j *JitterBuffer) Playing() bool { return j.playing }

// PacketDuration is the learnt duration of one packet.
func (j *JitterBuffer) PacketDuration() time.Duration {
	return time.Duration(j.pktSamples) * time.Second / time.Duration(j.clockRate)
}

// PushAt stores a copy of an audio packet received at receivedAt. It returns an error wrapping
// ErrMalformedPacket for a packet it refuses (counted as malformed).
func (j *JitterBuffer) PushAt(p *rtp.Packet, receivedAt time.Time) error {
	return j.push(p, receivedAt, false)
}

// SkipAt records a packet of the same stream that carries no audio (telephone-event), so that its
// sequence number is not mistaken for a loss.
func (j *JitterBuffer) SkipAt(p *rtp.Packet, receivedAt time.Time) error {
	return j.push(p, receivedAt, true)
}

func (j *JitterBuffer) push(p *rtp.Packet, at time.Time, skip bool) error {
	if len(p.Payload) > jitterSlotBytes {
		j.st.malformed.Add(1)
		return fmt.Errorf("%w: payload of %d bytes", ErrMalformedPacket, len(p.Payload))
	}
	j.st.received.Add(1)
	if !j.started || p.SSRC != j.ssrc {
		j.reset(p, at)
	}
	ext := j.maxExt + int64(int16(p.SequenceNumber-uint16(j.maxExt)))
	if !skip {
		if d := ext - j.lastExt; d > -int64(j.maxSlots) && d < int64(j.maxSlots) && !p.Marker {
			jump := int64(int32(p.Timestamp - j.lastTS))
			if jump > absurdJump*int64(j.clockRate) || -jump > absurdJump*int64(j.clockRate) {
				j.absurd++
				if j.absurd < 3 {
					j.st.received.Add(^uint64(0))
					j.st.malformed.Add(1)
					return fmt.Errorf("%w: timestamp jump of %d", ErrMalformedPacket, jump)
				}
				// Three in a row agree: the sender really moved its timeline.
				j.reset(p, at)
				ext = j.maxExt
			}
		}
		j.absurd = 0
	}
	if ext < j.next {
		s := &j.slots[ext&j.mask]
		if s.ext == ext && (s.played || s.filled) {
			j.st.duplicated.Add(1)
		} else {
			j.st.late.Add(1)
			j.winLate = true
			j.lateFloor = min(j.lateFloor+j.PacketDuration(), j.cfg.Max)
		}
		return nil
	}
	// A new talkspurt after silence suppression (RFC 3551 §4.1 marker bit) realigns below.
	talkspurt := p.Marker && !skip && j.count == 0 && ext > j.next && j.playing
	if ext-j.next < int64(j.maxSlots) && !talkspurt {
		j.bound(ext)
	}
	for ext-j.next >= int64(len(j.slots)) && len(j.slots) < j.maxSlots {
		j.grow()
	}
	if ext-j.next >= int64(len(j.slots)) || talkspurt {
		// A jump beyond the buffer, or a new talkspurt: realign the playout point on this packet and
		// buffer it afresh.
		j.realign(ext, at)
	}
	s := &j.slots[ext&j.mask]
	if s.ext == ext && s.filled {
		j.st.duplicated.Add(1)
		return nil
	}
	if ext > j.maxExt {
		j.maxExt = ext
	} else if ext < j.maxExt {
		j.st.reordered.Add(1)
	}
	s.ext, s.ts, s.pt, s.marker, s.filled, s.played, s.skip = ext, p.Timestamp, p.PayloadType, p.Marker, true, false, skip
	if cap(s.payload) < len(p.Payload) {
		s.payload = make([]byte, len(p.Payload))
	}
	s.n = copy(s.payload[:cap(s.payload)], p.Payload)
	j.count++
	if !skip {
		j.learn(ext, p.Timestamp, at)
	}
	return nil
}

// learn updates the packet duration and the RFC 3550 §A.8 interarrival jitter.
func (j *JitterBuffer) learn(ext int64, ts uint32, at time.Time) {
	if d := ext - j.lastExt; d == 1 {
		if n := int(int32(ts - j.lastTS)); n > 0 && n <= j.clockRate/5 {
			// A new duration must show twice in a row: a single timestamp jump (a sender that
			// skipped packets, silence suppression) taken for the packet duration made an idle
			// tick count one packet as ten, and concealment fill a whole jump for one loss.
			if n == j.newPktSamples {
				j.pktSamples = n
			}
			j.newPktSamples = n
			if j.minPktSamples == 0 || n < j.minPktSamples {
				j.minPktSamples = n
			}
		}
	}
	if ext >= j.lastExt {
		j.lastExt, j.lastTS = ext, ts
	}
	// D(i-1,i) of RFC 3550 §6.4.1 from differences, so that timestamp wrap-around cannot bite.
	arrival := at.Sub(j.epoch).Nanoseconds() * int64(j.clockRate) / int64(time.Second)
	if j.haveTransit {
		d := (arrival - j.lastArrival) - int64(int32(ts-j.lastJitTS))
		if d < 0 {
			d = -d
		}
		j.jitter += (float64(d) - j.jitter) / 16
		j.st.jitterNs.Store(int64(j.jitter * float64(time.Second) / float64(j.clockRate)))
	}
	j.lastArrival, j.lastJitTS, j.haveTransit = arrival, ts, true
}

// bound keeps the backlog, once packet ext is in, within what the maximum delay needs (Max in
// packets, plus two as the adaptation window allows) by shedding the oldest packets at once, counted
// as dropped (a missing one as lost, as Pop would). Playout that falls behind the sender (a worker
// whose ticks come late on a loaded machine, a sender that stalls and then bursts, a fast clock)
// would otherwise build a backlog that the window sheds at one packet a second, and every ring grew
// to its 128 slots and stayed there (42-54 MB at 2,000 sessions, docs/performance.md). Audio older
// than Max behind the newest packet is past its playout anyway.
//
// The limit counts packets of the shortest duration the stream has shown: the last one learnt may
// be a timestamp jump (a sender that skipped packets, silence suppression), which would shrink it.
func (j *JitterBuffer) bound(ext int64) {
	pd := j.PacketDuration()
	if j.minPktSamples > 0 {
		pd = time.Duration(j.minPktSamples) * time.Second / time.Duration(j.clockRate)
	}
	limit := int64((j.cfg.Max+pd-1)/pd) + 2
	for ext-j.next+1 > limit {
		s := &j.slots[j.next&j.mask]
		switch {
		case s.filled && s.ext == j.next:
			s.filled, s.played = false, true
			j.count--
			if !s.skip {
				j.st.dropped.Add(1)
			}
		default:
			s.played = false
			j.st.lost.Add(1)
		}
		j.next++
	}
}

// initialSlots is the ring's starting size (a power of two).
const initialSlots = 8

// grow doubles the ring, moving each slot that holds or remembers a packet to its place in the new
// one (extended sequence numbers distinct modulo the old size stay distinct modulo the new).
func (j *JitterBuffer) grow() {
	slots := make([]jitterSlot, 2*len(j.slots))
	mask := int64(len(slots) - 1)
	for _, s := range j.slots {
		if s.filled || s.played {
			slots[s.ext&mask] = s
		}
	}
	j.slots, j.mask = slots, mask
}

func (j *JitterBuffer) reset(p *rtp.Packet, at time.Time) {
	if j.started {
		j.st.resets.Add(1)
	}
	for i := range j.slots {
		j.slots[i].filled, j.slots[i].played = false, false
	}
	j.started, j.ssrc, j.count, j.minPktSamples = true, p.SSRC, 0, 0
	j.maxExt = int64(p.SequenceNumber) + 1<<32 // keep extended numbers positive across backwards wraps
	j.lastExt, j.lastTS = j.maxExt, p.Timestamp
	j.haveTransit, j.epoch, j.absurd = false, at, 0
	j.next, j.playing, j.startAt = j.maxExt, false, at.Add(j.target)
}

func (j *JitterBuffer) realign(ext int64, at time.Time) {
	j.st.resets.Add(1)
	for i := range j.slots {
		// What was waiting will never play: count it as shed, or a realigning stream loses packets
		// that no counter shows (at 2,000 sessions on a loaded machine, half of them, unseen).
		if s := &j.slots[i]; s.filled && !s.skip && s.ext >= j.next {
			j.st.dropped.Add(1)
		}
		j.slots[i].filled = false
	}
	j.count = 0
	j.adapt()
	j.next, j.maxExt, j.playing, j.startAt = ext, ext, false, at.Add(j.target)
	j.lastExt = ext
}

// Popped is one result of Pop. Payload is valid until the next Pop.
type Popped struct {
	Kind      PopKind
	PT        uint8
	Timestamp uint32
	Payload   []byte
}

// Pop returns what to play now.
func (j *JitterBuffer) Pop(now time.Time) Popped {
	if !j.started {
		return Popped{}
	}
	if !j.playing {
		if now.Before(j.startAt) {
			return Popped{}
		}
		j.playing = true
	}
	for {
		s := &j.slots[j.next&j.mask]
		if s.filled && s.ext == j.next {
			s.filled, s.played = false, true
			j.count--
			j.next++
			if s.skip {
				continue
			}
			j.window()
			return Popped{Kind: PopPacket, PT: s.pt, Timestamp: s.ts, Payload: s.payload[:s.n]}
		}
		if j.count > 0 && j.next < j.maxExt {
			s.played = false
			j.st.lost.Add(1)
			j.next++
			j.window()
			return Popped{Kind: PopLost}
		}
		j.st.underruns.Add(1)
		j.winMin = 0
		return Popped{}
	}
}

// window tracks the smallest backlog over adaptWindow packets; a backlog that never drops below the
// target plus two packets means delay to shed (the sender's clock runs fast, or a spike has passed), so one
// packet is dropped. Shortfalls need no action: an underrun holds the playout point, which adds delay.
func (j *JitterBuffer) window() {
	backlog := int(j.maxExt - j.next + 1)
	if j.winPops == 0 || backlog < j.winMin {
		j.winMin = backlog
	}
	if j.winPops == 0 || backlog > j.winMax {
		j.winMax = backlog
	}
	j.winPops++
	if j.winPops < adaptWindow {
		return
	}
	j.adapt()
	pd := j.PacketDuration()
	if time.Duration(j.winMin)*pd > j.target+2*pd {
		s := &j.slots[j.next&j.mask]
		if s.filled && s.ext == j.next {
			s.filled, s.played = false, true
			j.count--
			j.next++
			j.st.dropped.Add(1)
		}
	}
	j.fit(max(j.winMax, int(j.maxExt-j.next+1)))
	j.winPops, j.winLate = 0, false
}

// fit halves the ring, down to initialSlots, while a whole window's largest backlog fills at most a
// third of it (a third, not a half: a backlog that hovers near the half would shrink and grow the ring
// every second): a burst (a sender or a network that fell behind and caught up) grows the ring, and
// without this every stream that ever saw one would hold the grown ring, and a payload buffer per slot,
// for the rest of the call (43 MB of jitter slots at 2,000 sessions, docs/performance.md).
func (j *JitterBuffer) fit(backlog int) {
	n := len(j.slots)
	for n > initialSlots && 3*backlog <= n {
		n /= 2
	}
	if n == len(j.slots) {
		return
	}
	// Every filled slot lies in [next, maxExt], fewer than n apart, so they stay distinct; of the played
	// ones that meet (kept for duplicate detection) the most recent wins.
	slots := make([]jitterSlot, n)
	mask := int64(n - 1)
	for _, s := range j.slots {
		d := &slots[s.ext&mask]
		if (s.filled || s.played) && !((d.filled || d.played) && d.ext > s.ext) {
			*d = s
		}
	}
	j.slots, j.mask = slots, mask
}

// adapt sets the target delay from the measured jitter and recent late packets, within [Min, Max].
func (j *JitterBuffer) adapt() {
	if !j.winLate {
		j.lateFloor = j.lateFloor * 9 / 10
	}
	jit := time.Duration(j.jitter * float64(time.Second) / float64(j.clockRate))
	t := max(3*jit+j.PacketDuration(), j.lateFloor)
	j.target = min(max(t, j.cfg.Min), j.cfg.Max)
	j.st.delayNs.Store(int64(j.target))
}

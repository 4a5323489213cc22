package media

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"

	"github.com/mrcpd/mrcpd/asr/clock"
	"github.com/mrcpd/mrcpd/media/audio"
)

// Sink receives the output of a Receiver, from the receiver's goroutine only.
type Sink interface {
	Audio(pcm []int16) // one frame of FrameDuration at OutputRate; valid only during the call
	DTMF(ev DTMFEvent)
}

// FrameDuration is the length of each frame a Receiver delivers.
const FrameDuration = 20 * time.Millisecond

// ReceiverConfig configures a Receiver.
type ReceiverConfig struct {
	Formats    []Format // negotiated audio formats (one codec, or several of one rate) and telephone-event
	OutputRate int      // PCM rate delivered to the Sink; 0 means the codec's rate
	Jitter     JitterConfig
	InbandDTMF bool // detect DTMF tones in the audio as well as RFC 4733 events
	Clock      clock.Clock
	Logger     *slog.Logger
	// Symmetric latches the peer's address from received RTP (RFC 4961 style symmetric RTP, for callers
	// behind NAT): OnLatch is called, from the receiver goroutine, whenever the source changes.
	Symmetric bool
	OnLatch   func(addr net.Addr)
	// RTCP, when set, is the RTCP socket (RTP port + 1): receiver reports are sent once the peer's RTCP
	// has been heard (RFC 3550 §6.4).
	RTCP net.PacketConn
}

type rxFormat struct {
	ok   bool
	te   bool
	dec  Decoder
	name string
}

// Receiver is the receive pipeline of one RTP stream:
// RTP parse -> jitter buffer -> PLC -> decode -> resample -> DTMF detection -> Sink, one frame per 20 ms.
type Receiver struct {
	lastPacket atomic.Int64 // unix ns
	rtcpStats  rtcpState

	conn  net.PacketConn
	cfg   ReceiverConfig
	clock clock.Clock
	log   *slog.Logger
	// pt maps a payload type to its negotiated format (index+1 in fmts, 0: not negotiated): a byte
	// per type rather than a [128]rxFormat, which was 5 KB on every stream, idle ones included.
	pt     [128]uint8
	fmts   []rxFormat
	audio  Format
	codec  Codec
	rate   int // decoded PCM rate
	tsMul  int // PCM samples per RTP timestamp unit ×1000 (G.722: 2000)
	jb     *JitterBuffer
	events eventDetector
	// dsp is the decoding side (PLC, resampler, in-band DTMF and their buffers), built when a
	// tick first delivers audio and dropped by an idle tick: a stream nobody listens to keeps only
	// its jitter buffer, counters and RFC 4733 detector.
	dsp *rxDSP

	pkt     rtp.Packet
	frameN  int // samples per output frame
	ahead   int // samples at the codec's rate an idle tick took beyond its frame
	latched netip.AddrPort

	// rfc4733 is set by the first DTMF event packet: from then on the peer signals digits as
	// events, and in-band detection stops for the stream's life, as UniMRCP's detector does
	// (mpf_dtmf_detector.c: "Out-of-band digit arrived, turning in-band DTMF detector off"). A peer
	// that also leaves the tones in the audio is heard once, and the Goertzel bank costs nothing.
	rfc4733 bool
}

func (r *Receiver) setFormat(pt uint8, f rxFormat) {
	if r.pt[pt] == 0 {
		r.fmts = append(r.fmts, rxFormat{})
		r.pt[pt] = uint8(len(r.fmts))
	}
	r.fmts[r.pt[pt]-1] = f
}

// format is payload type pt's format; its ok is false for a type the offer did not negotiate.
func (r *Receiver) format(pt uint8) rxFormat {
	if pt > 127 || r.pt[pt] == 0 {
		return rxFormat{}
	}
	return r.fmts[r.pt[pt]-1]
}

// NewReceiver builds the pipeline for the negotiated formats. It starts nothing: Run does.
func NewReceiver(conn net.PacketConn, cfg ReceiverConfig) (*Receiver, error) {
	r := &Receiver{conn: conn, cfg: cfg, clock: clock.Or(cfg.Clock), log: cfg.Logger}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	haveTE := false
	for _, f := range cfg.Formats {
		if f.PT > 127 {
			return nil, fmt.Errorf("%w: payload type %d", ErrUnsupportedFormat, f.PT)
		}
		if f.IsTelephoneEvent() {
			r.setFormat(f.PT, rxFormat{ok: true, te: true, name: "telephone-event"})
			haveTE = true
			continue
		}
		c, err := LookupCodec(f)
		if err != nil {
			return nil, err
		}
		if r.codec != nil {
			if c.SampleRate() != r.rate || f.ClockRate != r.audio.ClockRate {
				return nil, fmt.Errorf("%w: %s alongside %s (one rate per stream)", ErrUnsupportedFormat, f, r.audio)
			}
		} else {
			r.codec, r.audio, r.rate = c, f, c.SampleRate()
		}
		dec, err := c.NewDecoder(f)
		if err != nil {
			return nil, err
		}
		r.setFormat(f.PT, rxFormat{ok: true, dec: dec, name: f.Name})
	}
	if r.codec == nil {
		return nil, fmt.Errorf("%w: no audio format among %v", ErrUnsupportedFormat, cfg.Formats)
	}
	if r.cfg.OutputRate <= 0 {
		r.cfg.OutputRate = r.rate
	}
	r.tsMul = r.rate * 1000 / r.audio.ClockRate
	r.jb = NewJitterBuffer(cfg.Jitter, r.audio.ClockRate)
	r.events.clockRate = r.audio.ClockRate
	if !haveTE {
		r.events.clockRate = 8000
	}
	r.frameN = r.cfg.OutputRate * int(FrameDuration/time.Millisecond) / 1000
	return r, nil
}

// rxDSP is a Receiver's decoding state.
type rxDSP struct {
	plc    *PLC
	rs     *audio.Resampler
	inband *inbandDetector
	pcm    []int16 // decoded scratch
	out    []int16 // resampled, pending delivery
}

func (r *Receiver) newDSP() *rxDSP {
	// The buffers start at one frame and grow with what the stream's packets and the resampler
	// need (a 60 ms packet, a rate's rounding): sized for the worst case up front they were 6 KB of
	// every listening stream.
	d := &rxDSP{plc: NewPLC(r.rate, r.format(r.audio.PT).dec), rs: audio.NewResampler(r.rate, r.cfg.OutputRate),
		pcm: make([]int16, 0, r.rate/50), out: make([]int16, 0, r.frameN)}
	if r.cfg.InbandDTMF && !r.rfc4733 {
		d.inband = newInbandDetector(r.rate)
	}
	return d
}

// String prints the pipeline on one line.
func (r *Receiver) String() string {
	var b strings.Builder
	_, conceals := r.format(r.audio.PT).dec.(Concealer)
	fmt.Fprintf(&b, "RTP(%s) -> %s -> %s -> Decode(%s)", r.audio, r.jb, plcName(conceals), r.audio.Name)
	if r.rate != r.cfg.OutputRate {
		fmt.Fprintf(&b, " -> %s", audio.NewResampler(r.rate, r.cfg.OutputRate))
	}
	src := []string{r.events.String()}
	if r.cfg.InbandDTMF {
		src = append(src, "inband")
	}
	fmt.Fprintf(&b, " -> DTMF(%s)", strings.Join(src, "+"))
	return b.String()
}

// Stats returns the stream counters (safe from any goroutine).
func (r *Receiver) Stats() JitterStats { return r.jb.Stats() }

// LastPacket is when the last valid RTP packet arrived (zero if none), for media timeouts.
func (r *Receiver) LastPacket() time.Time {
	ns := r.lastPacket.Load()
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns)
}

type rxPacket struct {
	buf  []byte
	from netip.AddrPort
	at   time.Time
}

// Run receives until ctx is done or the socket fails, delivering a frame to sink every 20 ms. It does
// not close the socket.
func (r *Receiver) Run(ctx context.Context, sink Sink) error {
	ctx, cancel := context.WithCancel(ctx)
	_ = r.conn.SetReadDeadline(time.Time{})
	const nbuf = 32
	in := make(chan rxPacket, nbuf)
	free := make(chan []byte, nbuf)
	for i := 0; i < nbuf; i++ {
		free <- make([]byte, 1600+jitterSlotBytes)
	}
	var wg sync.WaitGroup
	readErr := make(chan error, 1)
	wg.Add(1)
	go func() {
		defer wg.Done()
		readErr <- r.readLoop(ctx, in, free)
	}()
	var rtcpIn chan rtcpPacket
	if r.cfg.RTCP != nil {
		rtcpIn = make(chan rtcpPacket, 4)
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.rtcpReadLoop(ctx, rtcpIn)
		}()
	}
	defer func() {
		cancel()
		// Wake the readers blocked in ReadFrom; the caller still owns the sockets.
		_ = r.conn.SetReadDeadline(time.Unix(1, 0))
		if r.cfg.RTCP != nil {
			_ = r.cfg.RTCP.SetReadDeadline(time.Unix(1, 0))
		}
		wg.Wait()
	}()
	tick := r.clock.NewTicker(FrameDuration)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-readErr:
			if ctx.Err() != nil {
				return nil
			}
			return err
		case p := <-in:
			r.receive(p.buf, p.from, p.at, sink)
			free <- p.buf[:cap(p.buf)]
		case p := <-rtcpIn:
			r.handleRTCP(p)
		case now := <-tick.C():
			r.tick(now, sink)
		}
	}
}

func (r *Receiver) readLoop(ctx context.Context, in chan<- rxPacket, free chan []byte) error {
	udp, _ := r.conn.(*net.UDPConn)
	for {
		var buf []byte
		select {
		case buf = <-free:
		case <-ctx.Done():
			return nil
		}
		var n int
		var from netip.AddrPort
		var err error
		if udp != nil {
			n, from, err = udp.ReadFromUDPAddrPort(buf)
		} else {
			var a net.Addr
			n, a, err = r.conn.ReadFrom(buf)
			if ua, ok := a.(*net.UDPAddr); ok {
				from = ua.AddrPort()
			}
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				free <- buf
				continue
			}
			return fmt.Errorf("media: reading RTP: %w", err)
		}
		select {
		case in <- rxPacket{buf: buf[:n], from: from, at: r.clock.Now()}:
		case <-ctx.Done():
			return nil
		}
	}
}

// ReceiveAt feeds one datagram received at a given time, for callers that own the socket loop (and for
// tests, which drive time). It must not be called concurrently with Run or TickAt.
func (r *Receiver) ReceiveAt(b []byte, from netip.AddrPort, at time.Time, sink Sink) {
	r.receive(b, from, at, sink)
}

// TickAt delivers one frame as Run does every 20 ms; same rules as ReceiveAt.
func (r *Receiver) TickAt(now time.Time, sink Sink) { r.tick(now, sink) }

// receive validates one datagram and routes it: telephone-events to the detector, audio to the buffer.
// Malformed packets are counted and dropped; nothing here can stall the stream.
func (r *Receiver) receive(b []byte, from netip.AddrPort, at time.Time, sink Sink) {
	if len(b) < 12 || b[0]>>6 != 2 {
		r.jb.CountMalformed()
		return
	}
	if pt := b[1] & 0x7f; pt >= 72 && pt <= 76 {
		r.jb.CountMalformed() // RTCP on the RTP port (RFC 5761 range) without rtcp-mux: not ours
		return
	}
	if err := r.pkt.Unmarshal(b); err != nil {
		r.jb.CountMalformed()
		return
	}
	f := r.format(r.pkt.PayloadType)
	if !f.ok || len(r.pkt.Payload) == 0 {
		r.jb.CountMalformed()
		return
	}
	r.lastPacket.Store(at.UnixNano())
	r.rtcpStats.seen(&r.pkt)
	if r.cfg.Symmetric && from.IsValid() && from != r.latched {
		r.latched = from
		if r.cfg.OnLatch != nil {
			r.cfg.OnLatch(net.UDPAddrFromAddrPort(from))
		}
	}
	if f.te {
		if err := r.jb.SkipAt(&r.pkt, at); err != nil {
			return
		}
		ev, ok, err := r.events.packet(r.pkt.Timestamp, r.pkt.Payload, at)
		if err != nil {
			r.jb.CountMalformed()
			return
		}
		if !r.rfc4733 && r.pkt.Payload[0] <= maxDTMFEvent {
			r.rfc4733 = true
			if r.dsp != nil {
				r.dsp.inband = nil
			}
			r.log.Debug("RFC 4733 digit arrived: in-band DTMF detection off for the stream")
		}
		if ok {
			sink.DTMF(ev)
		}
		return
	}
	_ = r.jb.PushAt(&r.pkt, at) // refusals are counted by the buffer
}

// tick delivers one frame: pull packets (or concealment) until a frame's worth is resampled.
func (r *Receiver) tick(now time.Time, sink Sink) {
	if ev, ok := r.events.tick(now); ok {
		sink.DTMF(ev)
	}
	d := r.dsp
	if d == nil {
		d = r.newDSP()
		r.dsp, r.ahead = d, 0
	}
	for len(d.out) < r.frameN {
		d.pcm = d.pcm[:0]
		p := r.jb.Pop(now)
		pktN := int(r.jb.pktSamples) * r.tsMul / 1000
		switch p.Kind {
		case PopPacket:
			var err error
			d.pcm, err = r.format(p.PT).dec.Decode(d.pcm, p.Payload)
			if err != nil || len(d.pcm) == 0 {
				d.pcm = d.plc.Conceal(d.pcm[:0], pktN, nil)
			} else {
				d.plc.Good(d.pcm)
			}
		case PopLost:
			// The next packet helps only if the PLC's decoder can read it (a PT switch could intervene).
			next, pt, ok := r.jb.Peek()
			if !ok || pt != r.audio.PT {
				next = nil
			}
			d.pcm = d.plc.Conceal(d.pcm, pktN, next)
		default:
			// Buffering or underrun: conceal what remains of the frame (PLC fades to silence in 60 ms).
			need := (r.frameN - len(d.out)) * r.rate / r.cfg.OutputRate
			if need <= 0 {
				need = 1
			}
			if r.jb.Playing() {
				d.pcm = d.plc.Conceal(d.pcm, need, nil)
			} else {
				for i := 0; i < need; i++ {
					d.pcm = append(d.pcm, 0)
				}
				d.plc.push(d.pcm)
			}
		}
		if d.inband != nil {
			if ev, ok := d.inband.process(d.pcm); ok {
				sink.DTMF(ev)
			}
		}
		d.out = d.rs.Process(d.out, d.pcm)
	}
	sink.Audio(d.out[:r.frameN])
	n := copy(d.out, d.out[r.frameN:])
	d.out = d.out[:n]
	r.maybeSendRR(now)
}

// IdleAt is TickAt for a stream nobody listens to: packets leave the jitter buffer at the pace a
// tick plays them, so its counters, the RTCP reports and RFC 4733 digits stay right, but nothing
// is decoded and the decoding state is dropped (the next TickAt starts it afresh, as after a
// silence). In-band DTMF needs the audio, so it is heard only while something listens.
func (r *Receiver) IdleAt(now time.Time, sink Sink) {
	if ev, ok := r.events.tick(now); ok {
		sink.DTMF(ev)
	}
	r.dsp = nil
	need := r.frameN*r.rate/r.cfg.OutputRate - r.ahead
	for need > 0 {
		n := need
		switch r.jb.Pop(now).Kind {
		case PopPacket, PopLost:
			if pktN := int(r.jb.pktSamples) * r.tsMul / 1000; pktN > 0 {
				n = pktN
			}
		}
		need -= n
	}
	r.ahead = -need
	r.maybeSendRR(now)
}

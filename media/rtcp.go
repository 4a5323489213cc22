package media

import (
	"context"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"net"
	"time"

	"github.com/pion/rtp"
)

// rtcpState keeps what an RFC 3550 receiver report needs (§6.4.1, §A.1, §A.3). It is touched only by the
// receiver goroutine.
type rtcpState struct {
	init          bool
	ssrc          uint32
	ourSSRC       uint32
	baseSeq       uint32
	maxSeq        uint16
	cycles        uint32
	received      uint32
	expectedPrior uint32
	receivedPrior uint32
	lsr           uint32
	lsrAt         time.Time
	peer          net.Addr
	lastRR        time.Time
	buf           []byte
}

// rrInterval is the report interval; RFC 3550 §6.2 scales it with the session size, which is two here.
const rrInterval = 5 * time.Second

func (s *rtcpState) seen(p *rtp.Packet) {
	seq := p.SequenceNumber
	if !s.init || p.SSRC != s.ssrc {
		*s = rtcpState{init: true, ssrc: p.SSRC, ourSSRC: s.ourSSRC, baseSeq: uint32(seq), maxSeq: seq,
			peer: s.peer, lastRR: s.lastRR, buf: s.buf}
	}
	s.received++
	if d := seq - s.maxSeq; d > 0 && d < 0x8000 {
		if seq < s.maxSeq {
			s.cycles += 1 << 16
		}
		s.maxSeq = seq
	}
}

type rtcpPacket struct {
	b    []byte
	from net.Addr
	at   time.Time
}

func (r *Receiver) rtcpReadLoop(ctx context.Context, out chan<- rtcpPacket) {
	buf := make([]byte, 1500)
	for {
		n, from, err := r.cfg.RTCP.ReadFrom(buf)
		if err != nil {
			var ne net.Error
			if ctx.Err() == nil && errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return
		}
		p := rtcpPacket{b: append([]byte(nil), buf[:n]...), from: from, at: r.clock.Now()}
		select {
		case out <- p:
		case <-ctx.Done():
			return
		}
	}
}

// ReceiveRTCPAt feeds one RTCP datagram, like ReceiveAt for RTP (same rules).
func (r *Receiver) ReceiveRTCPAt(b []byte, from net.Addr, at time.Time) {
	r.handleRTCP(rtcpPacket{b: b, from: from, at: at})
}

// handleRTCP takes the last sender report's NTP time (for LSR/DLSR) and the peer's RTCP address from a
// compound packet; malformed ones are ignored.
func (r *Receiver) handleRTCP(p rtcpPacket) {
	b := p.b
	for len(b) >= 8 && b[0]>>6 == 2 {
		n := (int(binary.BigEndian.Uint16(b[2:])) + 1) * 4
		if n > len(b) {
			return
		}
		if b[1] == 200 && n >= 28 { // SR, RFC 3550 §6.4.1
			r.rtcpStats.lsr = binary.BigEndian.Uint32(b[10:14])
			r.rtcpStats.lsrAt = p.at
		}
		r.rtcpStats.peer = p.from
		b = b[n:]
	}
}

func (r *Receiver) maybeSendRR(now time.Time) {
	s := &r.rtcpStats
	if r.cfg.RTCP == nil || s.peer == nil || !s.init || now.Sub(s.lastRR) < rrInterval {
		return
	}
	s.lastRR = now
	if s.ourSSRC == 0 {
		s.ourSSRC = rand.Uint32() | 1
	}
	s.buf = s.appendRR(s.buf[:0], now, r.jb.jitter)
	_, _ = r.cfg.RTCP.WriteTo(s.buf, s.peer) // best effort: a lost report is replaced by the next
}

// appendRR builds a compound RR + SDES(CNAME) packet (RFC 3550 §6.4.2, §6.5).
func (s *rtcpState) appendRR(b []byte, now time.Time, jitter float64) []byte {
	ext := s.cycles + uint32(s.maxSeq)
	expected := ext - s.baseSeq + 1
	lost := int64(expected) - int64(s.received)
	lost = min(max(lost, -0x800000), 0x7fffff)
	expInt := expected - s.expectedPrior
	recInt := s.received - s.receivedPrior
	s.expectedPrior, s.receivedPrior = expected, s.received
	var fraction uint8
	if lostInt := int64(expInt) - int64(recInt); expInt > 0 && lostInt > 0 {
		fraction = uint8(lostInt << 8 / int64(expInt))
	}
	var dlsr uint32
	if s.lsr != 0 {
		dlsr = uint32(now.Sub(s.lsrAt) * 65536 / time.Second)
	}
	b = append(b, 0x81, 201, 0, 7)
	b = binary.BigEndian.AppendUint32(b, s.ourSSRC)
	b = binary.BigEndian.AppendUint32(b, s.ssrc)
	b = binary.BigEndian.AppendUint32(b, uint32(fraction)<<24|uint32(lost)&0xffffff)
	b = binary.BigEndian.AppendUint32(b, ext)
	b = binary.BigEndian.AppendUint32(b, uint32(jitter))
	b = binary.BigEndian.AppendUint32(b, s.lsr)
	b = binary.BigEndian.AppendUint32(b, dlsr)
	const cname = "mrcpd"
	chunk := 4 + 2 + len(cname) + 1
	pad := (4 - chunk%4) % 4
	words := (4 + chunk + pad) / 4
	b = append(b, 0x81, 202, 0, byte(words-1))
	b = binary.BigEndian.AppendUint32(b, s.ourSSRC)
	b = append(b, 1, byte(len(cname)))
	b = append(b, cname...)
	b = append(b, 0)
	for i := 0; i < pad; i++ {
		b = append(b, 0)
	}
	return b
}

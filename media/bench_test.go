package media_test

import (
	"encoding/binary"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/mrcpd/mrcpd/media"
	"github.com/mrcpd/mrcpd/media/mediatest"
)

type discardSink struct{ n int }

func (d *discardSink) Audio(pcm []int16)    { d.n += len(pcm) }
func (d *discardSink) DTMF(media.DTMFEvent) {}

// BenchmarkReceivePCMU is the receive path for one 20 ms G.711 packet in steady state: parse, jitter
// buffer, concealment stage, decode, resample 8->16 kHz, in-band DTMF detection.
func BenchmarkReceivePCMU(b *testing.B) {
	benchReceive(b, media.Format{PT: 0, Name: "PCMU", ClockRate: 8000, Channels: 1}, 8000)
}

// benchReceive measures the steady-state receive path of one 20 ms packet of format f, carrying a
// tone encoded from audioRate PCM, delivered at 16 kHz with in-band DTMF detection on. The first
// 200 packets fill the jitter buffer and are not timed.
func benchReceive(b *testing.B, f media.Format, audioRate int) {
	r, err := media.NewReceiver(mediatest.NewConn(1), media.ReceiverConfig{Formats: []media.Format{f},
		OutputRate: 16000, InbandDTMF: true})
	if err != nil {
		b.Fatal(err)
	}
	c, _ := media.LookupCodec(f)
	e, _ := c.NewEncoder(f)
	payload, _ := e.Encode(nil, mediatest.Tone(audioRate, 0.02, 0.3, 440))
	st := mediatest.Stream{PT: f.PT, SSRC: 1, Seq: 1, TS: 1}
	pkt := st.Next(payload, 160)
	sink := &discardSink{}
	from := netip.MustParseAddrPort("127.0.0.1:4000")
	now := time.Unix(1000, 0)
	seq, ts := uint16(1), uint32(1)
	step := func() {
		binary.BigEndian.PutUint16(pkt[2:], seq)
		binary.BigEndian.PutUint32(pkt[4:], ts)
		seq++
		ts += 160
		r.ReceiveAt(pkt, from, now, sink)
		r.TickAt(now, sink)
		now = now.Add(20 * time.Millisecond)
	}
	for i := 0; i < 200; i++ {
		step()
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		step()
	}
}

// BenchmarkSendPCMU is the send path per 20 ms packet: Write 16 kHz PCM, resample to 8 kHz, encode,
// packetise, pace, hand to the socket.
func BenchmarkSendPCMU(b *testing.B) {
	f := media.Format{PT: 0, Name: "PCMU", ClockRate: 8000, Channels: 1}
	conn := &nullConn{Conn: mediatest.NewConn(0)}
	s, err := media.NewSender(conn, conn.From, media.SenderConfig{Format: f, InputRate: 16000})
	if err != nil {
		b.Fatal(err)
	}
	pcm := mediatest.Tone(16000, 0.02, 0.3, 440)
	now := time.Unix(1000, 0)
	_ = s.PaceAt(now)
	step := func() {
		_ = s.Write(pcm)
		now = now.Add(20 * time.Millisecond)
		_ = s.PaceAt(now)
	}
	for i := 0; i < 200; i++ {
		step()
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		step()
	}
}

type nullConn struct{ *mediatest.Conn }

func (nullConn) WriteTo(b []byte, _ net.Addr) (int, error) {
	return len(b), nil
}

// BenchmarkReceiveG722 is the receive path for a 20 ms G.722 packet delivered at 16 kHz.
func BenchmarkReceiveG722(b *testing.B) {
	benchReceive(b, media.Format{PT: 9, Name: "G722", ClockRate: 8000, Channels: 1}, 16000)
}

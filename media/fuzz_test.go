package media_test

import (
	"bytes"
	"net"
	"testing"
	"time"

	"github.com/mrcpd/mrcpd/media"
	"github.com/mrcpd/mrcpd/media/mediatest"
)

// FuzzReceivePacket feeds arbitrary datagrams (split at 0xFF 0xFE into several) to a receiver that has
// PCMU, PCMA and telephone-event negotiated, interleaved with ticks: nothing may panic or stall, and
// every frame delivered must have the right length. Seeds live in testdata/fuzz/FuzzReceivePacket.
func FuzzReceivePacket(f *testing.F) {
	st := mediatest.Stream{PT: 0, SSRC: 1, Seq: 65534, TS: 0xfffffe00, Marker: true}
	f.Add(st.Next(make([]byte, 160), 160))
	f.Add(st.Event(101, 1000, media.TelephoneEvent{Event: 11, End: true, Duration: 800}.Append(nil), true))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := media.NewReceiver(mediatest.NewConn(1), media.ReceiverConfig{
			Formats: []media.Format{pcmu, {PT: 8, Name: "PCMA", ClockRate: 8000}, te}, OutputRate: 16000, InbandDTMF: true})
		if err != nil {
			t.Fatal(err)
		}
		sink := &frameCheck{t: t, want: 320}
		now := time.Unix(100, 0)
		for _, pkt := range splitDatagrams(data) {
			r.ReceiveAt(pkt, from, now, sink)
			now = now.Add(20 * time.Millisecond)
			r.TickAt(now, sink)
		}
		for i := 0; i < 5; i++ {
			now = now.Add(20 * time.Millisecond)
			r.TickAt(now, sink)
		}
	})
}

// FuzzTelephoneEvent checks that RFC 4733 payloads that parse serialise back to the same four bytes.
func FuzzTelephoneEvent(f *testing.F) {
	f.Add([]byte{1, 0x8a, 0x03, 0x20})
	f.Add([]byte{16, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := media.ParseTelephoneEvent(b)
		if err != nil {
			if len(b) >= 4 {
				t.Fatalf("rejected %x: %v", b, err)
			}
			return
		}
		got := e.Append(nil)
		want := append([]byte(nil), b[:4]...)
		want[1] &^= 0x40 // the reserved bit is not kept
		if string(got) != string(want) {
			t.Fatalf("round trip %x -> %+v -> %x", b[:4], e, got)
		}
	})
}

func splitDatagrams(b []byte) [][]byte {
	var out [][]byte
	for len(b) > 0 {
		i := 0
		for i+1 < len(b) && !(b[i] == 0xff && b[i+1] == 0xfe) {
			i++
		}
		if i+1 >= len(b) {
			out = append(out, b)
			break
		}
		out = append(out, b[:i])
		b = b[i+2:]
	}
	return out
}

type frameCheck struct {
	t    *testing.T
	want int
}

func (f *frameCheck) Audio(pcm []int16) {
	if len(pcm) != f.want {
		f.t.Fatalf("frame of %d samples, want %d", len(pcm), f.want)
	}
}

func (f *frameCheck) DTMF(ev media.DTMFEvent) {
	if _, err := media.DigitEvent(ev.Digit); err != nil {
		f.t.Fatalf("DTMF %+v", ev)
	}
}

// FuzzRTCP feeds arbitrary datagrams (split at 0xFF 0xFE) to a receiver's RTCP input, as the
// engine does once the guard passed them, and through SRTCP opening: nothing may panic, and the
// receiver reports that follow stay well formed (RR then SDES, lengths that add up, RFC 3550 §6.4.2).
// Seeds live in testdata/fuzz/FuzzRTCP.
func FuzzRTCP(f *testing.F) {
	f.Add([]byte{0x80, 200, 0, 6, 0, 0, 0x12, 0x34, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 160})
	f.Add([]byte{0x81, 201, 0, 1, 0, 0, 0, 1, 0x81, 203, 0, 1, 0, 0, 0, 1})
	keys := bytes.Repeat([]byte{5}, 30)
	f.Fuzz(func(t *testing.T, data []byte) {
		rtcp := mediatest.NewConn(16)
		r, err := media.NewReceiver(mediatest.NewConn(1), media.ReceiverConfig{Formats: []media.Format{pcmu, te}, RTCP: rtcp})
		if err != nil {
			t.Fatal(err)
		}
		s, err := media.NewSRTP("AES_CM_128_HMAC_SHA1_80", keys, keys)
		if err != nil {
			t.Fatal(err)
		}
		sink := &frameCheck{t: t, want: 160}
		st := mediatest.Stream{PT: 0, SSRC: 9}
		now := time.Unix(100, 0)
		for _, pkt := range splitDatagrams(data) {
			r.ReceiveAt(st.Next(make([]byte, 160), 160), from, now, sink)
			_, _ = s.OpenRTCP(nil, pkt)
			r.ReceiveRTCPAt(pkt, net.UDPAddrFromAddrPort(from), now)
			now = now.Add(6 * time.Second) // past the report interval: every tick may report
			r.TickAt(now, sink)
		}
		for {
			select {
			case rr := <-rtcp.Written:
				checkReport(t, rr)
			default:
				return
			}
		}
	})
}

// checkReport: a compound RR + SDES whose length fields cover it exactly.
func checkReport(t *testing.T, b []byte) {
	if len(b) < 8 || b[1] != 201 {
		t.Fatalf("report % x does not start with an RR", b)
	}
	for len(b) > 0 {
		if len(b) < 4 || b[0]>>6 != 2 || (int(b[2])<<8|int(b[3])+1)*4 > len(b) {
			t.Fatalf("malformed compound packet % x", b)
		}
		b = b[(int(b[2])<<8|int(b[3])+1)*4:]
	}
}

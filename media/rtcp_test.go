package media_test

import (
	"encoding/binary"
	"net"
	"testing"
	"time"

	"github.com/mrcpd/mrcpd/media"
	"github.com/mrcpd/mrcpd/media/mediatest"
)

// TestRTCPReceiverReport: once the peer's RTCP is heard, receiver reports (RFC 3550 §6.4.2) go back to
// its RTCP address with loss, the extended highest sequence number across a wrap, the §A.8 jitter and
// LSR/DLSR from the last sender report.
func TestRTCPReceiverReport(t *testing.T) {
	rtcp := mediatest.NewConn(16)
	r := newReceiver(t, media.ReceiverConfig{RTCP: rtcp})
	rec := &mediatest.Recorder{}
	st := mediatest.Stream{PT: 0, SSRC: 0xabcd, Seq: 65500, TS: 1}
	now := time.Unix(100, 0)
	peer := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 7001}
	sr := []byte{0x80, 200, 0, 6, 0, 0, 0xab, 0xcd, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88,
		0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3}
	sent := 0
	for i := 0; i < 300; i++ { // 6 s, every 10th packet lost
		now = now.Add(20 * time.Millisecond)
		p := st.Next(make([]byte, 160), 160)
		if i%10 != 5 {
			r.ReceiveAt(p, from, now, rec)
			sent++
		}
		if i == 100 {
			r.ReceiveRTCPAt(sr, peer, now)
		}
		r.TickAt(now, rec)
	}
	var rr []byte
	select {
	case rr = <-rtcp.Written:
	default:
		t.Fatal("no receiver report sent")
	}
	if len(rr) < 32 || rr[0] != 0x81 || rr[1] != 201 {
		t.Fatalf("not an RR with one block: % x", rr)
	}
	if ssrc := binary.BigEndian.Uint32(rr[8:]); ssrc != 0xabcd {
		t.Errorf("report block SSRC %#x", ssrc)
	}
	lost := binary.BigEndian.Uint32(rr[12:]) & 0xffffff
	ext := binary.BigEndian.Uint32(rr[16:])
	lsr := binary.BigEndian.Uint32(rr[24:])
	if ext>>16 != 1 {
		t.Errorf("extended highest seq %#x does not count the wrap", ext)
	}
	if lost == 0 || lost > 30 {
		t.Errorf("cumulative lost %d", lost)
	}
	if lsr != 0x33445566 {
		t.Errorf("LSR %#x, want the middle of the SR's NTP time", lsr)
	}
	if string(rr[32:34]) != "\x81\xca" {
		t.Errorf("no SDES after the RR: % x", rr[32:])
	}
}

package client

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/pion/rtp"
)

// TestSendingIsContinuous: after the input, the line carries silence packets every 20 ms with
// consecutive sequence numbers and timestamps, as a phone line does (endpointers need it).
func TestSendingIsContinuous(t *testing.T) {
	rx, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer rx.Close()
	tx, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Close()
	s := &Session{RTP: tx, RemoteRTP: rx.LocalAddr().(*net.UDPAddr), Codec: offeredFormats[0]}
	snd, err := s.startSending(context.Background(), 8000)
	if err != nil {
		t.Fatal(err)
	}
	defer snd.stop()
	speech := make([]int16, 8000*3/10)
	for i := range speech {
		speech[i] = int16(1000 * (i % 16))
	}
	if err := snd.feed(context.Background(), RecognizeRequest{Audio: speech}, 8000); err != nil {
		t.Fatal(err)
	}
	var prev *rtp.Packet
	buf := make([]byte, 1500)
	for n := 0; n < 40; n++ { // 800 ms: the speech and then silence
		if err := rx.SetReadDeadline(time.Now().Add(2 * time.Second)); err != nil {
			t.Fatal(err)
		}
		k, err := rx.Read(buf)
		if err != nil {
			t.Fatalf("packet %d: %v", n, err)
		}
		var p rtp.Packet
		if err := p.Unmarshal(buf[:k]); err != nil {
			t.Fatal(err)
		}
		if len(p.Payload) != 160 || p.PayloadType != 0 {
			t.Fatalf("packet %d: PT %d, %d bytes", n, p.PayloadType, len(p.Payload))
		}
		// The stream must not stop after the speech (the server's endpointer needs the silence):
		// every packet follows the last one. A pacer stalled by the scheduler skips the timestamp
		// ahead by whole packets rather than bursting, so allow steps of up to 200 ms.
		if prev != nil {
			step := p.Timestamp - prev.Timestamp
			if p.SequenceNumber != prev.SequenceNumber+1 || step == 0 || step%160 != 0 || step > 160*10 {
				t.Fatalf("packet %d: seq %d ts %d after seq %d ts %d", n, p.SequenceNumber, p.Timestamp, prev.SequenceNumber, prev.Timestamp)
			}
		}
		prev = &p
	}
}

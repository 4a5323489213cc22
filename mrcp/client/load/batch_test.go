package load

import (
	"net"
	"testing"
	"time"
)

// A tick sends every stream's packet with one sendmmsg (up to sendBatchLen a call), each to its
// own server socket and all from the port the streams offered; one late tick counts every
// packet late, measured from its due time.
func TestTickIsOneSystemCall(t *testing.T) {
	const n = sendBatchLen + 44
	e, w := manualEngine(t)
	p, err := buildProgram(Input{Digits: "1"}, pcmu, &te)
	if err != nil {
		t.Fatal(err)
	}
	srvs := make([]*net.UDPConn, n)
	for i := range srvs {
		srvs[i] = listen(t)
		s, err := e.NewStream()
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Connect(srvs[i].LocalAddr().(*net.UDPAddr), p, i < n-1); err != nil { // the last one only listens
			t.Fatal(err)
		}
	}
	w.takeAdds()
	w.tick(time.Now().Add(time.Minute), 0) // due in a minute: on time however slow the machine
	tx, _ := e.Stats()
	if tx.Packets != n-1 || tx.Calls != 2 || tx.Late != 0 || tx.Errors != 0 {
		t.Fatalf("one tick of %d sending streams: %+v, want 2 system calls", n-1, tx)
	}
	for i, c := range srvs[:n-1] {
		b := make([]byte, 1500)
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		k, from, err := c.ReadFromUDP(b)
		if err != nil {
			t.Fatalf("server socket %d: %v", i, err)
		}
		if from.Port != w.port || k != 12+len(p.Silence) || b[1] != 0x80 {
			t.Fatalf("server socket %d: %d bytes from %v (offered port %d), byte 1 %#x", i, k, from, w.port, b[1])
		}
	}
	w.tick(time.Now().Add(-3*ptime), 0)
	if tx, _ := e.Stats(); tx.Packets != 2*(n-1) || tx.Late != n-1 || tx.MaxBehindMS < 60 {
		t.Errorf("a tick sent 60 ms behind: %+v, want %d late", tx, n-1)
	}
}

// Packets that arrive on a worker's shared port go to the stream of the server address that
// sent them; others are read and counted but belong to no stream.
func TestReceiveBySender(t *testing.T) {
	e, w := manualEngine(t)
	srvs := []*net.UDPConn{listen(t), listen(t), listen(t)}
	streams := make([]*Stream, 2)
	for i := range streams {
		s, err := e.NewStream()
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Connect(srvs[i].LocalAddr().(*net.UDPAddr), &Program{Clock: 8000}, false); err != nil {
			t.Fatal(err)
		}
		s.Listen(time.Now())
		streams[i] = s
	}
	w.takeAdds()
	w.tick(time.Now(), 0) // files the streams by server address
	to := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: w.port}
	for i, c := range srvs {
		for seq := range 3 * (i + 1) {
			b := make([]byte, 12+160)
			b[0], b[2], b[3], b[5] = 0x80, 0, byte(seq), byte(seq) // timestamp 256 a packet
			if _, err := c.WriteTo(b, to); err != nil {
				t.Fatal(err)
			}
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for _, rx := e.Stats(); rx.Packets < 18 && time.Now().Before(deadline); _, rx = e.Stats() {
		w.receive()
		time.Sleep(time.Millisecond)
	}
	for i, s := range streams {
		if st := s.Received(); st.Packets != uint64(3*(i+1)) || st.Missing != 0 {
			t.Errorf("stream %d: %+v, want %d packets", i, st, 3*(i+1))
		}
	}
	if _, rx := e.Stats(); rx.Packets != 18 || rx.Dropped != 0 {
		t.Errorf("read %+v, want 18 packets", rx)
	}
}

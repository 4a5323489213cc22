package load

import (
	"net"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// A tick sends every stream's packet with one sendmmsg through the raw socket (up to
// sendBatchLen a call), each to its own server socket and from the port its stream offered;
// without a raw socket (no CAP_NET_RAW) a packet a call. One late tick counts every packet
// late, measured from its due time.
func TestTickIsOneSystemCall(t *testing.T) {
	t.Run("raw", func(t *testing.T) { testTick(t, true) })
	t.Run("stream sockets", func(t *testing.T) { testTick(t, false) })
}

func testTick(t *testing.T, raw bool) {
	const n = sendBatchLen + 44
	e, w := manualEngine(t)
	if !raw && w.raw >= 0 {
		unix.Close(w.raw)
		w.raw = -1
	}
	p, err := buildProgram(Input{Digits: "1"}, pcmu, &te)
	if err != nil {
		t.Fatal(err)
	}
	srvs, ports := make([]*net.UDPConn, n), make([]int, n)
	for i := range srvs {
		srvs[i] = listen(t)
		s, err := e.NewStream()
		if err != nil {
			t.Fatal(err)
		}
		ports[i] = s.Port
		if err := s.Connect(srvs[i].LocalAddr().(*net.UDPAddr), p, i < n-1); err != nil { // the last one only listens
			t.Fatal(err)
		}
	}
	w.takeAdds()
	w.tick(time.Now().Add(time.Minute), 0) // due in a minute: on time however slow the machine
	calls := uint64(2)
	if w.raw < 0 {
		calls = n - 1 // no raw socket (CAP_NET_RAW): a system call a packet
	}
	tx, _ := e.Stats()
	if tx.Packets != n-1 || tx.Calls != calls || tx.Late != 0 || tx.Errors != 0 {
		t.Fatalf("one tick of %d sending streams: %+v, want %d system calls", n-1, tx, calls)
	}
	for i, c := range srvs[:n-1] {
		b := make([]byte, 1500)
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		for {
			k, from, err := c.ReadFromUDP(b)
			if err != nil {
				t.Fatalf("server socket %d: no packet from port %d: %v", i, ports[i], err)
			}
			if from.Port != ports[i] {
				continue // another test's traffic to a port this one now holds
			}
			if !from.IP.Equal(net.IPv4(127, 0, 0, 1)) || k != 12+len(p.Silence) || b[1] != 0x80 {
				t.Fatalf("server socket %d: %d bytes from %v, byte 1 %#x", i, k, from, b[1])
			}
			break
		}
	}
	w.tick(time.Now().Add(-3*ptime), 0)
	if tx, _ := e.Stats(); tx.Packets != 2*(n-1) || tx.Late != n-1 || tx.MaxBehindMS < 60 {
		t.Errorf("a tick sent 60 ms behind: %+v, want %d late", tx, n-1)
	}
}

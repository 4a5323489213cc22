package media_test

import (
	"math/rand/v2"
	"net"
	"testing"

	"github.com/mrcpd/mrcpd/media"
)

func TestPortPoolExhaustion(t *testing.T) {
	lo := freeBlock(t, 6)
	pool := media.NewPortPool("127.0.0.1", lo, lo+5) // three even ports, each with its RTCP port above
	var conns []*net.UDPConn
	for i := 0; i < 3; i++ {
		c, err := pool.Listen()
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	if _, err := pool.Listen(); err == nil {
		t.Fatal("a fourth socket from a three-port range")
	}
	_ = pool.Release(conns[1])
	c, err := pool.Listen()
	if err != nil {
		t.Fatalf("released port not reused: %v", err)
	}
	conns[1] = c
	rtcp, err := pool.ListenRTCP(conns[0])
	if err != nil {
		t.Fatal(err)
	}
	if rtcp.LocalAddr().(*net.UDPAddr).Port != conns[0].LocalAddr().(*net.UDPAddr).Port+1 {
		t.Error("RTCP is not RTP+1")
	}
	_ = rtcp.Close()
	for _, c := range conns {
		_ = c.Close()
	}
}

// freeBlock finds n consecutive UDP ports, starting on an even one, that are free on 127.0.0.1 now:
// a fixed range collides with whatever else runs on the machine (other test packages run in
// parallel and bind ports of their own).
func freeBlock(t *testing.T, n int) int {
	t.Helper()
	for range 200 {
		lo := 20000 + 2*rand.IntN(10000)
		var held []*net.UDPConn
		for p := lo; p < lo+n; p++ {
			c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: p})
			if err != nil {
				break
			}
			held = append(held, c)
		}
		for _, c := range held {
			_ = c.Close()
		}
		if len(held) == n {
			return lo
		}
	}
	t.Fatal("no free block of UDP ports")
	return 0
}

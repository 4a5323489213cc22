package load

import (
	"fmt"
	"net"
	"runtime"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// BenchmarkWorkerSend is the client's cost of sending one tick of every stream of a worker:
// streams G.711 streams, each to its own server socket on loopback (drained between ticks,
// untimed). cpu-ns/packet is the sending thread's CPU time (user and system, the kernel's
// loopback delivery included) per packet, which a busy machine inflates less than wall time.
func BenchmarkWorkerSend(b *testing.B) {
	for _, n := range []int{50, 500} {
		b.Run(fmt.Sprintf("streams=%d", n), func(b *testing.B) { benchSend(b, n) })
	}
}

func benchSend(b *testing.B, n int) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	e, w := manualEngine(b)
	p, err := buildProgram(Input{Digits: "4071"}, pcmu, &te)
	if err != nil {
		b.Fatal(err)
	}
	sinks := make([]int, n)
	for i := range n {
		c := listen(b)
		f, err := c.File()
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { f.Close() })
		sinks[i] = int(f.Fd())
		s, err := e.NewStream()
		if err != nil {
			b.Fatal(err)
		}
		if err := s.Connect(c.LocalAddr().(*net.UDPAddr), p, true); err != nil {
			b.Fatal(err)
		}
		s.Play(true)
	}
	w.takeAdds()
	buf := make([]byte, 1500)
	drain := func() {
		for _, fd := range sinks {
			for {
				_, _, errno := unix.Syscall6(unix.SYS_RECVFROM, uintptr(fd), uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)),
					unix.MSG_DONTWAIT, 0, 0) // unix.Recvfrom allocates the sender's address
				if errno != 0 {
					break
				}
			}
		}
	}
	for range len(p.Frames) { // the batch's buffers grow to the largest tick once
		w.tick(time.Now(), 0)
		drain()
	}
	var cpu time.Duration
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		t0 := threadCPU()
		w.tick(time.Now(), 0)
		cpu += threadCPU() - t0
		b.StopTimer()
		drain()
		b.StartTimer()
	}
	b.StopTimer()
	if tx, _ := e.Stats(); tx.Packets != uint64((b.N+len(p.Frames))*n) || tx.Errors != 0 {
		b.Fatalf("%+v after %d ticks of %d streams", tx, b.N, n)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/packet")
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N*n), "cpu-ns/packet")
}

// threadCPU is the calling thread's user and system time.
func threadCPU() time.Duration {
	var ru unix.Rusage
	_ = unix.Getrusage(unix.RUSAGE_THREAD, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

package media

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/netip"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/mrcpd/mrcpd/asr/clock"
)

// stepClock is a clock the benchmark moves by hand; the worker under test is polled directly.
type stepClock struct{ now time.Time }

func (c *stepClock) Now() time.Time                              { return c.now }
func (c *stepClock) After(time.Duration) <-chan time.Time        { panic("stepClock has no timers") }
func (c *stepClock) NewTicker(time.Duration) clock.Ticker        { panic("stepClock has no tickers") }
func (c *stepClock) AfterFunc(time.Duration, func()) clock.Timer { panic("stepClock has no timers") }
func (c *stepClock) advance(d time.Duration) time.Time           { c.now = c.now.Add(d); return c.now }
func (discardWriter) WriteFrame([]int16)                         {}
func (w *countingEvents) MediaEvent(Event)                       { w.n++ }

type discardWriter struct{}
type countingEvents struct{ n int }

// BenchmarkWorkerTick is what one worker spends per received G.711 packet in steady state, amortised
// over its streams: one tick's epoll_wait, a recvmmsg per socket holding packets, and each stream's
// stages (RTP parse, jitter buffer, PLC, decode, in-band and RFC 4733 DTMF) into a tap with a VAD and
// a writer, as a RECOGNIZE has. Sending the packets (another process's work in production) is not
// timed. ns/packet is the figure; allocs/op are per tick of all streams.
//
// The shared variants put every stream on the worker's shared port (rtp.shared_port): one socket
// read in batches of up to 64, each packet routed by its source (one client socket per stream).
func BenchmarkWorkerTick(b *testing.B) {
	for _, n := range []int{1, 50, 250} {
		b.Run(fmt.Sprintf("streams=%d", n), func(b *testing.B) { benchWorker(b, n, "", false, true) })
	}
	// The same with SRTP (rtp.srtp): the guard authenticates and decrypts each packet.
	b.Run("streams=250,srtp", func(b *testing.B) { benchWorker(b, 250, "AES_CM_128_HMAC_SHA1_80", false, true) })
	for _, n := range []int{50, 250} {
		b.Run(fmt.Sprintf("streams=%d,shared", n), func(b *testing.B) { benchWorker(b, n, "", true, true) })
	}
	b.Run("streams=250,shared,srtp", func(b *testing.B) { benchWorker(b, 250, "AES_CM_128_HMAC_SHA1_80", true, true) })
	// A FreeSWITCH peer that negotiated telephone-event: its first RFC 4733 digit turns in-band
	// detection off for the stream (as UniMRCP does), so the Goertzel bank no longer runs; here
	// rtp.inband_dtmf off puts the streams in that state from the start.
	b.Run("streams=250,rfc4733", func(b *testing.B) { benchWorker(b, 250, "", false, false) })
	b.Run("streams=250,shared,rfc4733", func(b *testing.B) { benchWorker(b, 250, "", true, false) })
}

// benchShare gives w a shared port on a free even port.
func benchShare(b *testing.B, w *worker) netip.AddrPort {
	for range 50 {
		c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			b.Fatal(err)
		}
		port := c.LocalAddr().(*net.UDPAddr).Port &^ 1
		c.Close()
		p, err := openSharedPort(netip.MustParseAddr("127.0.0.1"), port)
		if err != nil {
			continue
		}
		if err := w.share(p); err != nil {
			b.Fatal(err)
		}
		return p.rtp.local.AddrPort()
	}
	b.Fatal("no free shared port")
	return netip.AddrPort{}
}

func benchWorker(b *testing.B, n int, suite string, shared, inband bool) {
	clock := &stepClock{now: time.Unix(1000, 0)}
	e := &Engine{cfg: EngineConfig{InbandDTMF: inband}, pool: NewPortPool("127.0.0.1", 0, 0), clock: clock,
		log: slog.New(slog.DiscardHandler)}
	w, err := newWorker(e)
	if err != nil {
		b.Fatal(err)
	}
	defer w.closeFD()
	client, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		b.Fatal(err)
	}
	defer client.Close()
	if err := client.SetWriteBuffer(4 << 20); err != nil {
		b.Fatal(err)
	}
	pcmu := Format{PT: 0, Name: "PCMU", ClockRate: 8000, Channels: 1}
	te := Format{PT: 101, Name: "telephone-event", ClockRate: 8000, Channels: 1}
	addrs := make([]netip.AddrPort, n)
	var keys *SRTPKeys
	var sealer *SRTP
	if suite != "" { // every stream has the same keys: one sealed packet serves them all
		key := bytes.Repeat([]byte{7}, 30)
		keys = &SRTPKeys{Suite: suite, Remote: key, Local: key}
		if sealer, err = NewSRTP(suite, key, key); err != nil {
			b.Fatal(err)
		}
	}
	// Without a shared port the client sends to every stream's port; with one, every stream's own
	// client sends to the shared port.
	clients := make([]*net.UDPConn, n)
	var sharedAddr netip.AddrPort
	if shared {
		sharedAddr = benchShare(b, w)
	}
	for i := range n {
		clients[i] = client
		cfg := StreamConfig{Receive: true, Format: pcmu, TelephoneEvent: &te, InputRate: 8000,
			Events: &countingEvents{}, SRTP: keys}
		var st *engineStream
		if shared {
			c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			clients[i], addrs[i] = c, sharedAddr
			cfg.Remote = c.LocalAddr()
			st = &engineStream{sock: w.shared.rtp, shared: &sharedConn{w: w}}
			if err := e.buildStream(st, w.shared.rtcp, cfg); err != nil {
				b.Fatal(err)
			}
			w.addShared(st, c.LocalAddr().(*net.UDPAddr).AddrPort())
		} else {
			sock, err := ListenSocket(netip.MustParseAddrPort("127.0.0.1:0"))
			if err != nil {
				b.Fatal(err)
			}
			defer sock.Close()
			if st, err = e.newStream(sock, cfg); err != nil {
				b.Fatal(err)
			}
			if err := w.add(st); err != nil {
				b.Fatal(err)
			}
			addrs[i] = sock.local.AddrPort()
		}
		st.AddTap(&Tap{Writer: discardWriter{}, VAD: NewDetector(8000, 0.5)})
	}
	// A 440 Hz tone at -10 dBFS: the in-band detector and the VAD have something to look at.
	tone := make([]int16, 160)
	for i := range tone {
		tone[i] = int16(10000 * math.Sin(2*math.Pi*440*float64(i)/8000))
	}
	pkt := []byte{0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x12, 0x34}
	pkt, _ = ulawCodec{}.Encode(pkt, tone)
	seq, ts := uint16(1), uint32(1)
	var sealed []byte
	step := func() {
		binary.BigEndian.PutUint16(pkt[2:], seq)
		binary.BigEndian.PutUint32(pkt[4:], ts)
		seq++
		ts += 160
		out := pkt
		if sealer != nil {
			sealed, _ = sealer.Seal(sealed[:0], pkt)
			out = sealed
		}
		for i, a := range addrs {
			if _, err := clients[i].WriteToUDPAddrPort(out, a); err != nil {
				b.Fatal(err)
			}
		}
	}
	for range 20 { // fill the jitter buffers
		step()
		w.poll(clock.advance(FrameDuration))
	}
	b.ReportAllocs()
	b.ResetTimer()
	var cpu time.Duration
	for range b.N {
		b.StopTimer()
		step()
		now := clock.advance(FrameDuration)
		b.StartTimer()
		before := processCPU()
		w.poll(now)
		cpu += processCPU() - before
	}
	b.StopTimer()
	// Wall time counts whatever else the machine runs; CPU time is this process's own.
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/packet")
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N*n), "cpu-ns/packet")
	var rx uint64
	for _, st := range w.streams {
		rx += st.Stats().Received
	}
	if rx < uint64(n*b.N) { // the loopback must not have dropped any
		b.Fatalf("received %d of %d packets", rx, n*(b.N+20))
	}
}

// processCPU is the process's user and system CPU time so far.
func processCPU() time.Duration {
	var ru unix.Rusage
	_ = unix.Getrusage(unix.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

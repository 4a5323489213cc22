package media_test

import (
	"net"
	"net/netip"
	"runtime"
	"testing"
	"time"

	"github.com/pion/rtp"

	"github.com/mrcpd/mrcpd/asr/clock"
	"github.com/mrcpd/mrcpd/media"
)

type frameWriter chan []int16

func (w frameWriter) WriteFrame(pcm []int16) {
	select {
	case w <- append([]int16(nil), pcm...):
	default:
	}
}

type eventChan chan media.Event

func (c eventChan) MediaEvent(ev media.Event) {
	select {
	case c <- ev:
	default:
	}
}

func newTestEngine(t *testing.T, clk clock.Clock, workers int) *media.Engine {
	t.Helper()
	e, err := media.NewEngine(media.NewPortPool("127.0.0.1", 0, 0), media.EngineConfig{Workers: workers, Clock: clk,
		InbandDTMF: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

// peer is the caller's side of a stream: a plain UDP socket.
func peer(t *testing.T) *net.UDPConn {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func openStream(t *testing.T, e *media.Engine, remote net.Addr, events media.EventSink) (media.Stream, *net.UDPAddr) {
	t.Helper()
	sock, err := media.ListenSocket(netip.MustParseAddrPort("127.0.0.1:0"))
	if err != nil {
		t.Fatal(err)
	}
	st, err := e.Open(sock, media.StreamConfig{Receive: true, Send: true, Remote: remote, Format: pcmu,
		TelephoneEvent: &te, InputRate: 8000, OutputRate: 8000, Events: events})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st, sock.LocalAddr().(*net.UDPAddr)
}

// Streams are served by the workers: opening a hundred starts no goroutine.
func TestEngineGoroutinesGrowWithWorkersNotStreams(t *testing.T) {
	before := runtime.NumGoroutine()
	e := newTestEngine(t, clock.NewFake(), 2)
	withWorkers := runtime.NumGoroutine()
	if withWorkers-before > 2 {
		t.Fatalf("2 workers started %d goroutines", withWorkers-before)
	}
	p := peer(t)
	for range 100 {
		openStream(t, e, p.LocalAddr(), nil)
	}
	// Other tests' goroutines may still be ending, never starting: the count may only fall.
	if n := runtime.NumGoroutine(); n > withWorkers {
		t.Fatalf("100 streams: %d goroutines, want %d (the workers')", n, withWorkers)
	}
}

// One stream through a worker on the fake clock: frames reach the tap every tick, a telephone-event
// becomes a digit event, the tap's VAD reports speech, and written audio is paced out as RTP.
func TestEngineStream(t *testing.T) {
	clk := clock.NewFake()
	e := newTestEngine(t, clk, 1)
	p := peer(t)
	events := make(eventChan, 16)
	st, addr := openStream(t, e, p.LocalAddr(), events)
	if got := st.String(); got == "" {
		t.Fatal("stream prints nothing")
	}
	frames := make(frameWriter, 64)
	speech := make(eventChan, 4)
	tap := &media.Tap{Writer: frames, VAD: media.NewDetector(8000, 0.5), Events: speech}
	st.AddTap(tap)

	tick := func() { clk.Advance(media.FrameDuration) }
	// Loopback delivery may lag a send (softirq under load): wait for an event while time goes on.
	await := func(c eventChan, what string) media.Event {
		t.Helper()
		for range 500 {
			select {
			case ev := <-c:
				return ev
			case <-time.After(time.Millisecond):
				tick()
			}
		}
		t.Fatalf("no %s", what)
		return media.Event{}
	}
	// RFC 4733 digit 7: start, then three end packets (RFC 4733 §2.5.1.4).
	send := func(pt uint8, seq uint16, ts uint32, payload []byte) {
		b, _ := (&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: pt, SequenceNumber: seq, Timestamp: ts,
			SSRC: 7}, Payload: payload}).Marshal()
		if _, err := p.WriteTo(b, addr); err != nil {
			t.Fatal(err)
		}
	}
	seq := uint16(1)
	for i := range 3 {
		send(te.PT, seq, 1000, media.TelephoneEvent{Event: 7, Duration: uint16(160 * (i + 1))}.Append(nil))
		seq++
		tick()
	}
	for range 3 {
		send(te.PT, seq, 1000, media.TelephoneEvent{Event: 7, End: true, Duration: 640}.Append(nil))
		seq++
	}
	if ev := await(events, "digit event"); ev.Kind != media.EventDigit || ev.Digit != '7' {
		t.Fatalf("event %+v, want digit 7", ev)
	}
	select {
	case f := <-frames:
		if len(f) != 160 {
			t.Fatalf("frame of %d samples, want 160", len(f))
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no frame")
	}

	// After the VAD learnt the line's silence, loud PCMU (0x80 is near full scale) for 200 ms: it
	// hears speech.
	for range 10 {
		tick()
	}
	loud := make([]byte, 160)
	for i := range loud {
		loud[i] = 0x80 | byte(i%2)
	}
	for i := range 10 {
		send(pcmu.PT, seq, uint32(2000+160*i), loud)
		seq++
		tick()
	}
	if ev := await(speech, "speech start"); ev.Kind != media.EventSpeechStart {
		t.Fatalf("tap event %+v, want speech start", ev)
	}
	st.RemoveTap(tap)
	for len(frames) > 0 {
		<-frames
	}
	tick()
	tick()
	if len(frames) != 0 {
		t.Fatal("a removed tap still gets frames")
	}

	// 100 ms of audio out: five packets, paced one per tick, then End closes.
	out := st.Output()
	if err := out.Write(make([]int16, 800)); err != nil {
		t.Fatal(err)
	}
	end := out.End()
	buf := make([]byte, 1500)
	for i := range 5 {
		tick()
		p.SetReadDeadline(time.Now().Add(5 * time.Second)) // sent during the tick: no lag to wait out
		n, _, err := p.ReadFrom(buf)
		var pkt rtp.Packet
		if err != nil || pkt.Unmarshal(buf[:n]) != nil || pkt.PayloadType != pcmu.PT || len(pkt.Payload) != 160 {
			t.Fatalf("packet %d: %v", i, err)
		}
	}
	tick()
	select {
	case <-end:
	case <-time.After(5 * time.Second):
		t.Fatal("End never closed")
	}
	if s := st.Stats(); s.Received == 0 || s.Malformed != 0 {
		t.Fatalf("stats %+v", s)
	}
	if st.LastPacket().IsZero() {
		t.Fatal("LastPacket is zero")
	}
}

// Closing a stream takes it off its worker at once; its port is free again.
func TestEngineStreamClose(t *testing.T) {
	clk := clock.NewFake()
	e := newTestEngine(t, clk, 1)
	p := peer(t)
	st, addr := openStream(t, e, p.LocalAddr(), nil)
	frames := make(frameWriter, 8)
	st.AddTap(&media.Tap{Writer: frames})
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	clk.Advance(media.FrameDuration)
	clk.Advance(media.FrameDuration)
	if len(frames) != 0 {
		t.Fatal("a closed stream still delivers frames")
	}
	c, err := net.ListenUDP("udp", addr)
	if err != nil {
		t.Fatalf("port not released: %v", err)
	}
	c.Close()
}

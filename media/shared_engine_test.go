package media_test

import (
	"bytes"
	"errors"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/pion/rtp"

	"github.com/mrcpd/mrcpd/asr/clock"
	"github.com/mrcpd/mrcpd/media"
)

// newSharedEngine starts an engine on a shared port of its own: an even port the kernel found
// free, tried again when another test took it meanwhile.
func newSharedEngine(t *testing.T, clk clock.Clock, workers int) *media.Engine {
	t.Helper()
	for range 50 {
		c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		port := c.LocalAddr().(*net.UDPAddr).Port &^ 1
		c.Close()
		if port+2*workers > 65535 {
			continue
		}
		e, err := media.NewEngine(media.NewPortPool("127.0.0.1", 0, 0), media.EngineConfig{Workers: workers,
			Clock: clk, SharedPort: port})
		if errors.Is(err, syscall.EADDRINUSE) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { e.Close() })
		return e
	}
	t.Fatal("no free shared port")
	return nil
}

func peerOn(t *testing.T, ip string) *net.UDPConn {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.ParseIP(ip)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// sendDigit sends RFC 4733 digit d from p to addr: a start and three ends.
func sendDigit(t *testing.T, p *net.UDPConn, addr net.Addr, d uint8) {
	sendSealedDigit(t, p, addr, d, nil)
}

// sendSealedDigit is sendDigit as SRTP when s is set.
func sendSealedDigit(t *testing.T, p *net.UDPConn, addr net.Addr, d uint8, s *media.SRTP) {
	t.Helper()
	for i, ev := range []media.TelephoneEvent{{Event: d, Duration: 160}, {Event: d, End: true, Duration: 640},
		{Event: d, End: true, Duration: 640}, {Event: d, End: true, Duration: 640}} {
		b, _ := (&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: te.PT, SequenceNumber: uint16(i + 1),
			Timestamp: 1000 * uint32(d+1), SSRC: uint32(d) + 1, Marker: i == 0}, Payload: ev.Append(nil)}).Marshal()
		if s != nil {
			var err error
			if b, err = s.Seal(nil, b); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := p.WriteTo(b, addr); err != nil {
			t.Fatal(err)
		}
	}
}

// awaitDigit ticks the engine's clock until events has a digit, which must be want.
func awaitDigit(t *testing.T, clk *clock.Fake, events eventChan, want rune) {
	t.Helper()
	for range 500 {
		select {
		case ev := <-events:
			if ev.Kind != media.EventDigit || ev.Digit != want {
				t.Fatalf("event %+v, want digit %c", ev, want)
			}
			return
		case <-time.After(time.Millisecond):
			clk.Advance(media.FrameDuration)
		}
	}
	t.Fatalf("no digit %c", want)
}

// TestEngineSharedPort: streams of three callers on one shared port (rtp.shared_port) each get
// their own RFC 4733 digits, routed by the source their offer declared; a caller behind a NAT that
// rewrote its port is taken by the one stream of its host still waiting; a stranger's packets are
// counted as unrouted; a stream's audio goes out of the shared port; a closed stream's caller is
// routed nowhere while the others go on.
func TestEngineSharedPort(t *testing.T) {
	clk := clock.NewFake()
	e := newSharedEngine(t, clk, 1)
	pa, pb := peerOn(t, "127.0.0.2"), peerOn(t, "127.0.0.3")
	natDeclared, natActual := peerOn(t, "127.0.0.4"), peerOn(t, "127.0.0.4")
	stranger := peerOn(t, "127.0.0.5")
	type call struct {
		st     media.Stream
		events eventChan
		local  net.Addr
	}
	open := func(remote net.Addr) call {
		conn, err := e.Listen(remote)
		if err != nil {
			t.Fatal(err)
		}
		events := make(eventChan, 8)
		st, err := e.Open(conn, media.StreamConfig{Receive: true, Send: true, Remote: remote, Format: pcmu,
			TelephoneEvent: &te, InputRate: 8000, OutputRate: 8000, Events: events})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		return call{st, events, conn.LocalAddr()}
	}
	a, b, c := open(pa.LocalAddr()), open(pb.LocalAddr()), open(natDeclared.LocalAddr())
	if a.local.String() != b.local.String() || a.local.String() != c.local.String() {
		t.Fatalf("streams on %v, %v, %v: want one shared port", a.local, b.local, c.local)
	}
	await := func(c call, want rune) {
		t.Helper()
		awaitDigit(t, clk, c.events, want)
	}
	sendDigit(t, pa, a.local, 1)
	sendDigit(t, pb, b.local, 2)
	sendDigit(t, natActual, c.local, 3)
	await(a, '1')
	await(b, '2')
	await(c, '3')
	for _, x := range []call{a, b, c} {
		if len(x.events) != 0 {
			t.Fatalf("a stream got another caller's digit: %+v", <-x.events)
		}
	}

	before := e.Unrouted()
	sendDigit(t, stranger, a.local, 4)
	for i := 0; e.Unrouted() < before+4 && i < 500; i++ {
		time.Sleep(time.Millisecond)
		clk.Advance(media.FrameDuration)
	}
	if n := e.Unrouted() - before; n != 4 {
		t.Fatalf("stranger's 4 packets: %d unrouted", n)
	}

	// Audio out of stream b leaves from the shared port.
	if err := b.st.Output().Write(make([]int16, 160)); err != nil {
		t.Fatal(err)
	}
	clk.Advance(media.FrameDuration)
	buf := make([]byte, 1500)
	pb.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, from, err := pb.ReadFrom(buf)
	var pkt rtp.Packet
	if err != nil || pkt.Unmarshal(buf[:n]) != nil || pkt.PayloadType != pcmu.PT {
		t.Fatalf("no RTP from stream b: %v", err)
	}
	if from.String() != b.local.String() {
		t.Fatalf("stream b sends from %v, want the shared port %v", from, b.local)
	}

	// b's caller sends a sender report to the shared RTCP port; b's receiver reports go back to it
	// from there.
	rtcpPort := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: b.local.(*net.UDPAddr).Port + 1}
	sr := []byte{0x80, 200, 0, 6, 0, 0, 0, 3, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 160}
	if _, err := pb.WriteTo(sr, rtcpPort); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		clk.Advance(media.FrameDuration)
		pb.SetReadDeadline(time.Now().Add(time.Millisecond))
		n, from, err := pb.ReadFrom(buf)
		if err == nil && n >= 8 && buf[1] == 201 {
			if from.String() != rtcpPort.String() {
				t.Fatalf("receiver report from %v, want the shared RTCP port %v", from, rtcpPort)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no receiver report for stream b")
		}
	}

	// Once a closes, its caller's packets are nobody's (counted as a call's late packets, not as
	// a stranger's); b is still served.
	a.st.Close()
	before, strangers := e.OutsideCall(), e.Unrouted()
	sendDigit(t, pa, a.local, 5)
	sendDigit(t, pb, b.local, 6)
	await(b, '6')
	for i := 0; e.OutsideCall() < before+4 && i < 500; i++ {
		time.Sleep(time.Millisecond)
		clk.Advance(media.FrameDuration)
	}
	if n, u := e.OutsideCall()-before, e.Unrouted()-strangers; n != 4 || u != 0 {
		t.Fatalf("a closed stream's caller: %d outside its call and %d unrouted, want 4 and 0", n, u)
	}
}

// With two workers, Listen spreads streams over both shared ports (the SDP answers name them),
// keeps one source per port, and gives a port of the pool of its own to a stream whose source
// every shared port already has (a client sending several calls from one port) or whose offer
// names no usable address.
func TestEngineSharedPortListen(t *testing.T) {
	e := newSharedEngine(t, clock.NewFake(), 2)
	listen := func(remote net.Addr) net.Addr {
		t.Helper()
		c, err := e.Listen(remote)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c.LocalAddr()
	}
	ports := map[string]int{}
	for i := range 4 {
		ports[listen(&net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 4000 + 2*i}).String()]++
	}
	if len(ports) != 2 {
		t.Fatalf("4 handles on %v, want 2 each on 2 ports", ports)
	}
	for p, n := range ports {
		if n != 2 {
			t.Fatalf("port %s has %d handles, want 2", p, n)
		}
	}
	same := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5000}
	first, second, third := listen(same), listen(same), listen(same)
	if ports[first.String()] == 0 || ports[second.String()] == 0 || first.String() == second.String() {
		t.Fatalf("one source's first two streams on %v and %v, want both shared ports %v", first, second, ports)
	}
	for _, a := range []net.Addr{third, listen(nil), listen(&net.UDPAddr{IP: net.IPv4zero, Port: 4000})} {
		if ports[a.String()] != 0 {
			t.Fatalf("a stream on shared port %v, want a port of its own", a)
		}
	}
	// A closed handle's source is free again on its port.
	c, err := e.Listen(&net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 6000})
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	if a := listen(&net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 6000}); ports[a.String()] == 0 {
		t.Fatalf("after Close, the source's stream is on %v, not a shared port", a)
	}
}

// TestEngineSharedPortSRTP: SRTP streams on a shared port. Packets from another port of the
// caller's host that fail authentication do not take the waiting stream (a forger on a NAT'd
// host), and are counted; the caller's sealed digits, from a port its offer did not declare, do.
func TestEngineSharedPortSRTP(t *testing.T) {
	clk := clock.NewFake()
	e := newSharedEngine(t, clk, 1)
	declared, forger, caller := peerOn(t, "127.0.0.6"), peerOn(t, "127.0.0.6"), peerOn(t, "127.0.0.6")
	key := bytes.Repeat([]byte{9}, 30)
	keys := &media.SRTPKeys{Suite: "AES_CM_128_HMAC_SHA1_80", Remote: key, Local: key}
	sealer, err := media.NewSRTP(keys.Suite, key, key)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := e.Listen(declared.LocalAddr())
	if err != nil {
		t.Fatal(err)
	}
	events := make(eventChan, 8)
	st, err := e.Open(conn, media.StreamConfig{Receive: true, Send: true, Remote: declared.LocalAddr(), Format: pcmu,
		TelephoneEvent: &te, InputRate: 8000, OutputRate: 8000, Events: events, SRTP: keys})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	sendDigit(t, forger, conn.LocalAddr(), 8) // plain RTP where SRTP was negotiated
	for i := 0; st.Stats().Unauthenticated < 4 && i < 500; i++ {
		time.Sleep(time.Millisecond)
		clk.Advance(media.FrameDuration)
	}
	if s := st.Stats(); s.Unauthenticated != 4 || s.Received != 0 {
		t.Fatalf("forged packets: stats %+v, want 4 unauthenticated", s)
	}
	sendSealedDigit(t, caller, conn.LocalAddr(), 3, sealer)
	for range 500 {
		select {
		case ev := <-events:
			if ev.Digit != '3' {
				t.Fatalf("event %+v, want digit 3", ev)
			}
			return
		case <-time.After(time.Millisecond):
			clk.Advance(media.FrameDuration)
		}
	}
	t.Fatalf("no digit from the sealed caller; stats %+v", st.Stats())
}

// TestEngineSharedPortOtherCalls (issue 10): on one host, the RTP of a call whose stream is not
// open yet (sent as soon as the answer arrived), and of a call that hung up, do not take the
// stream still waiting for its first packet: they are dropped and counted apart (OutsideCall), and every call then
// gets its own digits. Taking them rekeyed the waiting stream to another call's source, and its
// own caller went unrouted.
func TestEngineSharedPortOtherCalls(t *testing.T) {
	clk := clock.NewFake()
	e := newSharedEngine(t, clk, 1)
	pa, pb, pc := peerOn(t, "127.0.0.2"), peerOn(t, "127.0.0.2"), peerOn(t, "127.0.0.2")
	cfg := func(remote net.Addr, events eventChan) media.StreamConfig {
		return media.StreamConfig{Receive: true, Remote: remote, Format: pcmu, TelephoneEvent: &te,
			InputRate: 8000, OutputRate: 8000, Events: events}
	}
	listen := func(remote net.Addr) net.PacketConn {
		t.Helper()
		conn, err := e.Listen(remote)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		return conn
	}
	open := func(conn net.PacketConn, remote net.Addr) (media.Stream, eventChan) {
		t.Helper()
		events := make(eventChan, 8)
		st, err := e.Open(conn, cfg(remote, events))
		if err != nil {
			t.Fatal(err)
		}
		return st, events
	}
	unrouted := func(p *net.UDPConn, to net.Addr, d uint8) {
		t.Helper()
		before, strangers := e.OutsideCall(), e.Unrouted()
		sendDigit(t, p, to, d)
		for i := 0; e.OutsideCall() < before+4 && i < 500; i++ {
			time.Sleep(time.Millisecond)
			clk.Advance(media.FrameDuration)
		}
		if n, u := e.OutsideCall()-before, e.Unrouted()-strangers; n != 4 || u != 0 {
			t.Fatalf("digit %d from %v: %d of 4 packets dropped as outside their call, %d unrouted; want 4 and 0",
				d, p.LocalAddr(), n, u)
		}
	}
	await := func(events eventChan, want rune) {
		t.Helper()
		awaitDigit(t, clk, events, want)
	}

	ca := listen(pa.LocalAddr())
	_, aEvents := open(ca, pa.LocalAddr()) // waits for its first packet
	cb := listen(pb.LocalAddr())
	unrouted(pb, cb.LocalAddr(), 7) // b's caller before b's stream is open
	b, bEvents := open(cb, pb.LocalAddr())
	sendDigit(t, pb, cb.LocalAddr(), 8)
	await(bEvents, '8')
	sendDigit(t, pa, ca.LocalAddr(), 1)
	await(aEvents, '1')
	if len(aEvents) != 0 || len(bEvents) != 0 {
		t.Fatal("a stream got another call's digit")
	}

	// b hangs up; c waits; b's caller's last packets are no NAT'd caller's for c.
	b.Close()
	cc := listen(pc.LocalAddr())
	_, cEvents := open(cc, pc.LocalAddr())
	unrouted(pb, cc.LocalAddr(), 9)
	sendDigit(t, pc, cc.LocalAddr(), 3)
	await(cEvents, '3')
	sendDigit(t, pa, ca.LocalAddr(), 4)
	await(aEvents, '4')
}

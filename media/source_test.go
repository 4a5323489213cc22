package media_test

import (
	"bytes"
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/mrcpd/mrcpd/media"
	"github.com/mrcpd/mrcpd/media/mediatest"
)

var attacker = netip.MustParseAddrPort("127.0.0.1:40100")

// datagram is one received packet: who sent it, the bytes.
type datagram struct {
	from netip.AddrPort
	b    []byte
}

// digitsPacket is the RFC 4733 packets of one key press: six updates and three end packets.
func digitsPacket(s *mediatest.Stream, digit rune, ts uint32) [][]byte {
	ev, _ := media.DigitEvent(digit)
	var out [][]byte
	for i := 1; i <= 6; i++ {
		out = append(out, s.Event(101, ts, media.TelephoneEvent{Event: ev, Volume: 10, Duration: uint16(160 * i)}.Append(nil), i == 1))
	}
	for range 3 {
		out = append(out, s.Event(101, ts, media.TelephoneEvent{Event: ev, End: true, Volume: 10, Duration: 1120}.Append(nil), false))
	}
	return out
}

// receive runs datagrams, one per 20 ms, through the filter (when set) and a receiver with PCMU
// and telephone-event, and returns the digits heard.
func receive(t *testing.T, f *media.SourceFilter, in []datagram) string {
	t.Helper()
	r, err := media.NewReceiver(mediatest.NewConn(1), media.ReceiverConfig{Formats: []media.Format{pcmu, te}, OutputRate: 8000})
	if err != nil {
		t.Fatal(err)
	}
	sink := &digitSink{}
	now := time.Unix(100, 0)
	for _, d := range in {
		if f == nil || f.Accept(d.b, d.from, now) {
			r.ReceiveAt(d.b, d.from, now, sink)
		}
		now = now.Add(20 * time.Millisecond)
		r.TickAt(now, sink)
	}
	for range 50 {
		now = now.Add(20 * time.Millisecond)
		r.TickAt(now, sink)
	}
	return sink.digits.String()
}

type digitSink struct{ digits strings.Builder }

func (s *digitSink) Audio([]int16) {}
func (s *digitSink) DTMF(ev media.DTMFEvent) {
	s.digits.WriteRune(ev.Digit)
}

// callerAndForger: the caller keys 4711 while another port sends telephone-events for 9 with the
// caller's SSRC, sequence numbers and timestamps, each forged packet just ahead of the real one.
func callerAndForger() []datagram {
	caller := &mediatest.Stream{PT: 0, SSRC: 1, Seq: 100, TS: 1000}
	forger := &mediatest.Stream{PT: 0, SSRC: 1, Seq: 100, TS: 1000} // the caller's SSRC and sequence
	var in []datagram
	for range 25 { // the call's audio starts before anyone forges (a latching filter takes the first source)
		in = append(in, datagram{from, caller.Next(bytes.Repeat([]byte{0xff}, 160), 160)})
	}
	ts := caller.TS
	forger.Seq = caller.Seq
	for _, d := range "4711" {
		real, forged := digitsPacket(caller, d, ts), digitsPacket(forger, '9', ts)
		for i := range real {
			in = append(in, datagram{attacker, forged[i]}, datagram{from, real[i]})
		}
		for range 10 { // a gap of audio between key presses
			in = append(in, datagram{from, caller.Next(bytes.Repeat([]byte{0xff}, 160), 160)})
		}
		ts = caller.TS
		forger.Seq = caller.Seq
	}
	return in
}

// TestSourceFilterForgedEvents: forged telephone-events from another port do not change the
// digits (they did: 4711 was heard as 9999); without the filter the receiver hears them.
func TestSourceFilterForgedEvents(t *testing.T) {
	in := callerAndForger()
	if got := receive(t, nil, in); got == "4711" {
		t.Fatal("the receiver alone ignored the forged events: this test shows nothing")
	}
	for _, latching := range []bool{false, true} {
		f := media.NewSourceFilter(from, latching, []uint8{0, 101})
		if got := receive(t, f, in); got != "4711" {
			t.Errorf("latching %v: digits %q, want 4711", latching, got)
		}
		if f.Dropped() != 4*9 {
			t.Errorf("latching %v: %d dropped, want the 36 forged packets", latching, f.Dropped())
		}
	}
}

// TestSourceFilterFlood: random bytes from another address produce no digits and are counted;
// when latching, garbage is not valid RTP and never takes the latch.
func TestSourceFilterFlood(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var in []datagram
	for range 2000 {
		b := make([]byte, 4+rng.IntN(200))
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		in = append(in, datagram{attacker, b})
	}
	for _, latching := range []bool{false, true} {
		f := media.NewSourceFilter(from, latching, []uint8{0, 101})
		if got := receive(t, f, in); got != "" {
			t.Errorf("latching %v: a flood made digits %q", latching, got)
		}
		if latching && f.Source().IsValid() && f.Source() == attacker && f.Dropped() == 0 {
			t.Errorf("latching: the flood latched")
		}
		if !latching && f.Dropped() != uint64(len(in)) {
			t.Errorf("%d dropped of %d", f.Dropped(), len(in))
		}
	}
}

// TestSourceFilterLatch: with latching, the first valid RTP source is kept while it talks (a
// third party's stream cannot pull the latch, and with it synthesized audio, away: "RTP
// bleed"); after RelatchAfter of silence a new source may take over.
func TestSourceFilterLatch(t *testing.T) {
	f := media.NewSourceFilter(netip.MustParseAddrPort("192.0.2.1:4000"), true, []uint8{0})
	caller := &mediatest.Stream{PT: 0, SSRC: 1}
	third := &mediatest.Stream{PT: 0, SSRC: 2}
	now := time.Unix(100, 0)
	if !f.Accept(caller.Next(make([]byte, 160), 160), from, now) || f.Source() != from {
		t.Fatalf("first packet not latched: %v", f.Source())
	}
	for i := range 50 { // 1 s of a third party's stream interleaved with the caller's
		now = now.Add(20 * time.Millisecond)
		if f.Accept(third.Next(make([]byte, 160), 160), attacker, now) {
			t.Fatalf("third party's packet %d accepted mid-stream", i)
		}
		if !f.Accept(caller.Next(make([]byte, 160), 160), from, now) {
			t.Fatal("caller's packet refused")
		}
	}
	if f.Source() != from || f.Dropped() != 50 {
		t.Fatalf("source %v, dropped %d", f.Source(), f.Dropped())
	}
	now = now.Add(media.RelatchAfter - time.Millisecond)
	if f.Accept(third.Next(make([]byte, 160), 160), attacker, now) {
		t.Fatal("relatched before the caller was silent for RelatchAfter")
	}
	now = now.Add(time.Millisecond)
	if f.Accept([]byte("not rtp at all, long enough"), attacker, now) {
		t.Fatal("garbage relatched")
	}
	if !f.Accept(third.Next(make([]byte, 160), 160), attacker, now) || f.Source() != attacker {
		t.Fatal("a valid stream after the caller's silence did not relatch")
	}
}

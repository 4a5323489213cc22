package load

import (
	"encoding/binary"
	"math"
	"net"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/mrcpd/mrcpd/media"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var (
	pcmu = media.Format{PT: 0, Name: "PCMU", ClockRate: 8000, Channels: 1}
	te   = media.Format{PT: 101, Name: "telephone-event", ClockRate: 8000, Channels: 1, Fmtp: "0-15"}
)

// RFC 4733 digits: per digit five growing updates (the fifth the first end), two more end
// copies with the same duration, all stamped with the event's start, then 100 ms of silence.
func TestProgramDigits(t *testing.T) {
	p, err := buildProgram(Input{Digits: "4#"}, pcmu, &te)
	if err != nil {
		t.Fatal(err)
	}
	per := digitPackets + endCopies - 1 + gapPackets
	if len(p.Frames) != 2*per || p.TEPT != 101 || p.TSPerPkt != 160 {
		t.Fatalf("%d frames, te %d, %d per packet", len(p.Frames), p.TEPT, p.TSPerPkt)
	}
	if p.End != per+digitPackets-1 {
		t.Errorf("End %d, want the first end packet of the last digit (%d)", p.End, per+digitPackets-1)
	}
	for i, f := range p.Frames[per : 2*per] {
		if i >= digitPackets+endCopies-1 {
			if f.Event || string(f.Payload) != string(p.Silence) {
				t.Errorf("frame %d of the gap is not silence", i)
			}
			continue
		}
		ev, err := media.ParseTelephoneEvent(f.Payload)
		if err != nil {
			t.Fatal(err)
		}
		wantDur := uint16(160 * min(i+1, digitPackets))
		if !f.Event || ev.Event != 11 || ev.Duration != wantDur || ev.End != (i >= digitPackets-1) ||
			f.Marker != (i == 0) || int(f.Back) != i {
			t.Errorf("frame %d: %+v %+v", i, f, ev)
		}
	}
	if _, err := buildProgram(Input{Digits: "1"}, pcmu, nil); err == nil {
		t.Error("digits without a negotiated telephone-event were accepted")
	}
	if _, err := buildProgram(Input{Digits: "x"}, pcmu, &te); err == nil {
		t.Error("a digit that is no DTMF key was accepted")
	}
}

// Audio is resampled to the codec's rate and cut in 20 ms frames; the input ends with its last
// sound, not its trailing silence.
func TestProgramAudio(t *testing.T) {
	pcm := make([]int16, 16000/10*3) // 300 ms at 16 kHz: 100 ms of tone, then silence
	for i := range 1600 {
		pcm[i] = int16(8000 * math.Sin(2*math.Pi*440*float64(i)/16000))
	}
	p, err := buildProgram(Input{PCM: pcm, Rate: 16000}, pcmu, &te)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Frames) != 15 || len(p.Frames[0].Payload) != 160 || !p.Frames[0].Marker || p.Frames[1].Marker {
		t.Fatalf("%d frames of %d bytes", len(p.Frames), len(p.Frames[0].Payload))
	}
	// The resampler's filter rings a little past the tone, never a whole frame.
	if p.End < 4 || p.End > 5 {
		t.Errorf("End %d, want the fifth or sixth frame", p.End)
	}
	dec, _ := media.LookupCodec(pcmu)
	d, _ := dec.NewDecoder(pcmu)
	silence, _ := d.Decode(nil, p.Silence)
	if len(silence) != 160 || meanSquare(silence) != 0 {
		t.Errorf("silence decodes to %d samples at %v", len(silence), meanSquare(silence))
	}
}

// listen is a server's RTP socket.
func listen(t testing.TB) *net.UDPConn {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

type rtpPacket struct {
	marker  bool
	pt      uint8
	seq     uint16
	ts      uint32
	ssrc    uint32
	payload []byte
}

func readRTP(t *testing.T, c *net.UDPConn) rtpPacket {
	t.Helper()
	b := make([]byte, 1500)
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	n, _, err := c.ReadFrom(b)
	if err != nil {
		t.Fatal(err)
	}
	return rtpPacket{marker: b[1]&0x80 != 0, pt: b[1] & 0x7f, seq: binary.BigEndian.Uint16(b[2:]),
		ts: binary.BigEndian.Uint32(b[4:]), ssrc: binary.BigEndian.Uint32(b[8:]), payload: b[12:n]}
}

// A stream sends a continuous line: silence, then the digits when played, with consecutive
// sequence numbers, a timestamp that advances 160 a packet (events keep their start's), one
// SSRC, and the marker on the stream's first packet and each event's first.
func TestStreamSendsTheProgram(t *testing.T) {
	srv := listen(t)
	e, err := NewEngine(2, "127.0.0.1", Impairment{})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	s, err := e.NewStream()
	if err != nil {
		t.Fatal(err)
	}
	if s.Port%2 != 0 {
		t.Errorf("RTP port %d is odd", s.Port)
	}
	p, err := buildProgram(Input{Digits: "7"}, pcmu, &te)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Connect(srv.LocalAddr().(*net.UDPAddr), p, true); err != nil {
		t.Fatal(err)
	}
	first := readRTP(t, srv)
	if !first.marker || first.pt != 0 || string(first.payload) != string(p.Silence) {
		t.Fatalf("first packet %+v", first)
	}
	s.Play(false)
	prev := first
	var eventTS uint32
	events := 0
	for events < digitPackets+endCopies-1 {
		pk := readRTP(t, srv)
		if pk.seq != prev.seq+1 || pk.ssrc != first.ssrc {
			t.Fatalf("seq %d after %d, ssrc %x (first %x)", pk.seq, prev.seq, pk.ssrc, first.ssrc)
		}
		switch {
		case pk.pt == 101 && events == 0:
			eventTS = pk.ts
			if !pk.marker || pk.ts != prev.ts+160 {
				t.Fatalf("first event packet %+v after ts %d", pk, prev.ts)
			}
			events++
		case pk.pt == 101:
			if pk.marker || pk.ts != eventTS {
				t.Fatalf("event packet %d: %+v, want ts %d", events, pk, eventTS)
			}
			events++
		case events > 0:
			t.Fatalf("audio inside the event: %+v", pk)
		case pk.ts != prev.ts+160:
			t.Fatalf("ts %d after %d", pk.ts, prev.ts)
		}
		prev = pk
	}
	if pk := readRTP(t, srv); pk.pt != 0 || pk.ts != eventTS+uint32(digitPackets+endCopies-1)*160 {
		t.Fatalf("after the event: %+v, event ts %d", pk, eventTS)
	}
	if s.InputEnd().IsZero() {
		t.Error("no end of input recorded")
	}
	s.Close()
	if tx, _ := e.Stats(); tx.Packets < 9 || tx.Errors != 0 {
		t.Errorf("stats %+v", tx)
	}
}

// With loss 1 nothing leaves, and every packet is counted as dropped on purpose; jitter
// delays packets but loses none.
func TestImpairment(t *testing.T) {
	p, err := buildProgram(Input{Digits: "1"}, pcmu, &te)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("loss", func(t *testing.T) {
		srv := listen(t)
		e, err := NewEngine(1, "127.0.0.1", Impairment{Loss: 1})
		if err != nil {
			t.Fatal(err)
		}
		defer e.Close()
		s, _ := e.NewStream()
		_ = s.Connect(srv.LocalAddr().(*net.UDPAddr), p, true)
		for {
			if tx, _ := e.Stats(); tx.Dropped >= 5 {
				break
			}
			time.Sleep(ptime)
		}
		s.Close()
		if tx, _ := e.Stats(); tx.Packets != 0 {
			t.Errorf("%+v: packets sent with loss 1", tx)
		}
	})
	t.Run("jitter", func(t *testing.T) {
		srv := listen(t)
		e, err := NewEngine(1, "127.0.0.1", Impairment{Jitter: 50 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		defer e.Close()
		s, _ := e.NewStream()
		_ = s.Connect(srv.LocalAddr().(*net.UDPAddr), p, true)
		seen := map[uint16]bool{}
		var lo, hi uint16
		for i := range 30 {
			pk := readRTP(t, srv)
			seen[pk.seq] = true
			if i == 0 || int16(pk.seq-lo) < 0 {
				lo = pk.seq
			}
			if i == 0 || int16(pk.seq-hi) > 0 {
				hi = pk.seq
			}
		}
		s.Close()
		// At most the last 50 ms (three packets) may still be held back.
		if missing := int(hi-lo) + 1 - len(seen); missing > 3 {
			t.Errorf("%d of the sequence numbers %d..%d missing", missing, lo, hi)
		}
	})
}

// rxState counts what a SPEAK's stream received: gaps in sequence numbers (across the 16-bit
// wrap) are missing, packets more than 60 ms behind the first packet's schedule are late, and
// what arrived before the SPEAK is not counted.
func TestRxState(t *testing.T) {
	t0 := time.Unix(1000, 0)
	r := rxState{listening: true, since: t0, clock: 8000}
	r.packet(1, 0, t0.Add(-time.Millisecond)) // before the SPEAK
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	r.packet(65534, 1000, at(10))
	r.packet(65535, 1160, at(30))
	r.packet(0, 1320, at(50))
	r.packet(1, 1480, at(70))
	r.packet(2, 1640, at(140))   // due at 90: 50 ms behind, not late
	r.packet(3, 1800, at(171))   // due at 110: 61 ms behind, late
	r.packet(65535, 1160, at(5)) // an old duplicate changes nothing but the count
	st := r.stats()
	if st.Packets != 7 || st.Missing != 0 || st.Late != 1 || !st.First.Equal(at(10)) {
		t.Errorf("%+v", st)
	}
	r.packet(6, 2280, at(190))
	if st := r.stats(); st.Missing != 1 {
		t.Errorf("after a gap of two with a duplicate counted: %+v", st)
	}
}

// A stream reads what the server sends it, and the worker hands each packet's kernel arrival
// time to the stream's counters.
func TestStreamReceives(t *testing.T) {
	srv := listen(t)
	e, err := NewEngine(1, "127.0.0.1", Impairment{})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	s, err := e.NewStream()
	if err != nil {
		t.Fatal(err)
	}
	_ = s.Connect(srv.LocalAddr().(*net.UDPAddr), &Program{Clock: 8000}, false)
	since := time.Now()
	s.Listen(since)
	to := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: s.Port}
	for i := range 5 {
		b := make([]byte, 12+160)
		b[0], b[1] = 0x80, 0
		binary.BigEndian.PutUint16(b[2:], uint16(i*2)) // every other one: 4 missing
		binary.BigEndian.PutUint32(b[4:], uint32(i*320))
		if _, err := srv.WriteTo(b, to); err != nil {
			t.Fatal(err)
		}
	}
	rtcp := []byte{0x80, 201, 0, 1, 0, 0, 0, 1} // an RTCP RR is not RTP
	_, _ = srv.WriteTo(rtcp, to)
	for s.Received().Packets < 5 {
		time.Sleep(ptime)
	}
	st := s.Received()
	s.Close()
	if st.Packets != 5 || st.Missing != 4 || st.First.Before(since) {
		t.Errorf("%+v (listening since %v)", st, since)
	}
	if _, rx := e.Stats(); rx.Packets != 5 || rx.Dropped != 0 {
		t.Errorf("worker counted %d packets", rx)
	}
}

// When the worker stalls and skips ticks, the timestamp jumps as time did but an RFC 4733
// event's packets keep their start's: a receiver sees one key press, not two.
func TestSkipKeepsTheEvent(t *testing.T) {
	srv := listen(t)
	e, w := manualEngine(t)
	s, err := e.NewStream()
	if err != nil {
		t.Fatal(err)
	}
	w.takeAdds()
	p, _ := buildProgram(Input{Digits: "5"}, pcmu, &te)
	if err := s.Connect(srv.LocalAddr().(*net.UDPAddr), p, true); err != nil {
		t.Fatal(err)
	}
	s.Play(false)
	now := time.Now()
	for i := range digitPackets + endCopies {
		skip := uint32(0)
		if i == 2 {
			skip = 7
		}
		w.tick(now, skip)
	}
	start := readRTP(t, srv)
	for i := 1; i < digitPackets+endCopies-1; i++ {
		if pk := readRTP(t, srv); pk.pt != 101 || pk.ts != start.ts || pk.seq != start.seq+uint16(i) {
			t.Fatalf("event packet %d: %+v, want ts %d", i, pk, start.ts)
		}
	}
	after := readRTP(t, srv)
	if want := start.ts + uint32(digitPackets+endCopies-1+7)*160; after.pt != 0 || after.ts != want {
		t.Errorf("after the event: %+v, want ts %d", after, want)
	}
}

// manualEngine is an engine of one worker that the test ticks by hand: no goroutine.
func manualEngine(t testing.TB) (*Engine, *worker) {
	t.Helper()
	w, err := newWorker([4]byte{127, 0, 0, 1}, Impairment{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.shutdown)
	return &Engine{ip: [4]byte{127, 0, 0, 1}, workers: []*worker{w}}, w
}

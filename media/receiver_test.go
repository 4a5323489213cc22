package media_test

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/mrcpd/mrcpd/media"
	"github.com/mrcpd/mrcpd/media/mediatest"
)

var (
	pcmu = media.Format{PT: 0, Name: "PCMU", ClockRate: 8000, Channels: 1}
	te   = media.Format{PT: 101, Name: "telephone-event", ClockRate: 8000, Channels: 1}
	from = netip.MustParseAddrPort("127.0.0.1:40002")
)

func newReceiver(t testing.TB, cfg media.ReceiverConfig) *media.Receiver {
	t.Helper()
	if cfg.Formats == nil {
		cfg.Formats = []media.Format{pcmu, te}
	}
	r, err := media.NewReceiver(mediatest.NewConn(1), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestReceiverString(t *testing.T) {
	r := newReceiver(t, media.ReceiverConfig{OutputRate: 16000, InbandDTMF: true})
	want := "RTP(PCMU/8000) -> Jitter(50ms) -> PLC(G.711-I) -> Decode(PCMU) -> Resample(8k->16k) -> DTMF(rfc4733+inband)"
	if got := r.String(); got != want {
		t.Errorf("String()\n got %s\nwant %s", got, want)
	}
}

func TestReceiverMalformed(t *testing.T) {
	good := func(seq uint16, ts uint32) []byte {
		st := mediatest.Stream{PT: 0, SSRC: 5, Seq: seq, TS: ts}
		return st.Next(make([]byte, 160), 160)
	}
	cases := []struct {
		name string
		pkt  func() []byte
	}{
		{"empty", func() []byte { return nil }},
		{"truncated header", func() []byte { return good(1, 160)[:7] }},
		{"version 1", func() []byte { b := good(1, 160); b[0] = 1<<6 | b[0]&0x3f; return b }},
		{"version 0 (STUN-like)", func() []byte { b := good(1, 160); b[0] &= 0x3f; return b }},
		{"csrc count beyond packet", func() []byte { b := good(1, 160)[:20]; b[0] |= 15; return b }},
		{"extension beyond packet", func() []byte {
			b := good(1, 160)[:16]
			b[0] |= 0x10
			b[14], b[15] = 0xff, 0xff
			return b
		}},
		{"padding longer than packet", func() []byte { b := good(1, 160); b[0] |= 0x20; b[len(b)-1] = 255; return b }},
		{"padding zero", func() []byte { b := good(1, 160); b[0] |= 0x20; b[len(b)-1] = 0; return b }},
		{"payload type not negotiated", func() []byte { b := good(1, 160); b[1] = 8; return b }},
		{"rtcp on rtp port", func() []byte { b := good(1, 160); b[1] = 200; return b }},
		{"no payload", func() []byte { return good(1, 160)[:12] }},
		{"short telephone-event", func() []byte {
			st := mediatest.Stream{SSRC: 5, Seq: 1}
			return st.Event(101, 0, []byte{1, 2}, true)
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := newReceiver(t, media.ReceiverConfig{})
			rec := &mediatest.Recorder{}
			now := time.Unix(100, 0)
			r.ReceiveAt(c.pkt(), from, now, rec)
			if got := r.Stats().Malformed; got != 1 {
				t.Errorf("malformed %d, want 1", got)
			}
			// The stream carries on: good packets after it play.
			for i := 0; i < 20; i++ {
				now = now.Add(20 * time.Millisecond)
				r.ReceiveAt(good(uint16(10+i), uint32(160*(10+i))), from, now, rec)
				r.TickAt(now, rec)
			}
			if got := r.Stats().Received; got < 20 {
				t.Errorf("received %d good packets after the bad one, want 20", got)
			}
		})
	}
}

func TestReceiverAbsurdTimestampJump(t *testing.T) {
	r := newReceiver(t, media.ReceiverConfig{})
	rec := &mediatest.Recorder{}
	st := mediatest.Stream{PT: 0, SSRC: 5, Seq: 1, TS: 1000}
	now := time.Unix(100, 0)
	for i := 0; i < 10; i++ {
		now = now.Add(20 * time.Millisecond)
		r.ReceiveAt(st.Next(make([]byte, 160), 160), from, now, rec)
	}
	st.TS += 8000 * 3600 // an hour forward without a marker, one packet later
	r.ReceiveAt(st.Next(make([]byte, 160), 160), from, now, rec)
	st.TS -= 8000*3600 - 160
	r.ReceiveAt(st.Next(make([]byte, 160), 160), from, now, rec)
	if s := r.Stats(); s.Malformed != 1 || s.Received != 11 {
		t.Errorf("stats %+v, want one malformed and 11 received", s)
	}
}

// TestReceiverRFC4733 covers RFC 4733 §2.5: updates and triple end packets of one event give one
// digit; a lost end is reported when the next event starts or after a timeout; long events continue
// across timestamp segments.
func TestReceiverRFC4733(t *testing.T) {
	type ev struct {
		ts  uint32
		e   media.TelephoneEvent
		gap time.Duration
	}
	seq := func(digit uint8, ts uint32, durs []uint16, ends int) []ev {
		var out []ev
		for _, d := range durs {
			out = append(out, ev{ts: ts, e: media.TelephoneEvent{Event: digit, Duration: d}, gap: 50 * time.Millisecond})
		}
		for i := 0; i < ends; i++ {
			out = append(out, ev{ts: ts, e: media.TelephoneEvent{Event: digit, End: true, Duration: durs[len(durs)-1] + 400}})
		}
		return out
	}
	cat := func(xs ...[]ev) []ev {
		var out []ev
		for _, x := range xs {
			out = append(out, x...)
		}
		return out
	}
	cases := []struct {
		name string
		evs  []ev
		want string
	}{
		{"one digit, triple end", seq(1, 1000, []uint16{400, 800, 1200}, 3), "1"},
		{"two digits", cat(seq(1, 1000, []uint16{400, 800}, 3), seq(2, 9000, []uint16{400, 800}, 3)), "12"},
		{"same digit twice", cat(seq(5, 1000, []uint16{400}, 3), seq(5, 5000, []uint16{400}, 3)), "55"},
		{"end lost, next digit starts", cat(seq(3, 1000, []uint16{400, 800}, 0), seq(4, 9000, []uint16{400}, 3)), "34"},
		{"end lost, stream goes quiet", seq(7, 1000, []uint16{400, 800}, 0), "7"},
		{"only end packets", seq(9, 1000, []uint16{1200}, 3)[1:], "9"},
		{"reordered old end after next digit", cat(seq(1, 1000, []uint16{400}, 2), seq(2, 9000, []uint16{400}, 3),
			seq(1, 1000, []uint16{400}, 1)[1:]), "12"},
		{"long event across segments", cat(
			[]ev{{ts: 1000, e: media.TelephoneEvent{Event: 0, Duration: 0xffff}, gap: 50 * time.Millisecond}},
			seq(0, 1000+0xffff, []uint16{800, 1600}, 3)), "0"},
		{"flash (event 16) ignored", seq(16, 1000, []uint16{400}, 3), ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := newReceiver(t, media.ReceiverConfig{})
			rec := &mediatest.Recorder{}
			st := mediatest.Stream{SSRC: 9, Seq: 100}
			now := time.Unix(100, 0)
			for i, e := range c.evs {
				r.ReceiveAt(st.Event(101, e.ts, e.e.Append(nil), i == 0), from, now, rec)
				now = now.Add(e.gap)
				r.TickAt(now, rec)
			}
			for i := 0; i < 30; i++ { // let timeouts run out
				now = now.Add(20 * time.Millisecond)
				r.TickAt(now, rec)
			}
			if got := rec.DigitString(); got != c.want {
				t.Errorf("digits %q, want %q (%+v)", got, c.want, rec.Digits)
			}
		})
	}
}

func TestReceiverSymmetricLatch(t *testing.T) {
	var latched []net.Addr
	r := newReceiver(t, media.ReceiverConfig{Symmetric: true, OnLatch: func(a net.Addr) { latched = append(latched, a) }})
	rec := &mediatest.Recorder{}
	st := mediatest.Stream{PT: 0, SSRC: 5, Seq: 1, TS: 1000}
	now := time.Unix(100, 0)
	a1, a2 := netip.MustParseAddrPort("127.0.0.1:5000"), netip.MustParseAddrPort("127.0.0.2:6000")
	r.ReceiveAt(st.Next(make([]byte, 160), 160), a1, now, rec)
	r.ReceiveAt(st.Next(make([]byte, 160), 160), a1, now, rec)
	bad := st.Next(make([]byte, 160), 160)
	bad[1] = 99 // not negotiated: must not move the latch
	r.ReceiveAt(bad, a2, now, rec)
	r.ReceiveAt(st.Next(make([]byte, 160), 160), a2, now, rec)
	if len(latched) != 2 || latched[0].String() != a1.String() || latched[1].String() != a2.String() {
		t.Errorf("latched %v, want [%v %v]", latched, a1, a2)
	}
}

// TestReceiverEventsSilenceInband: a peer that sends RFC 4733 events and leaves the tones in the audio
// gets each digit once.
func TestReceiverEventsSilenceInband(t *testing.T) {
	r := newReceiver(t, media.ReceiverConfig{InbandDTMF: true})
	rec := &mediatest.Recorder{}
	c, _ := media.LookupCodec(pcmu)
	enc, _ := c.NewEncoder(pcmu)
	tones := mediatest.DTMF(8000, "8", 0.1, 0.2, 0.2)
	st := mediatest.Stream{PT: 0, SSRC: 4, Seq: 1, TS: 1}
	now := time.Unix(100, 0)
	for i := 0; i+160 <= len(tones); i += 160 {
		p, _ := enc.Encode(nil, tones[i:i+160])
		ts := st.TS
		r.ReceiveAt(st.Next(p, 160), from, now, rec)
		if i == 0 || i == 640 {
			r.ReceiveAt(st.Event(101, 1, media.TelephoneEvent{Event: 8, End: i == 640, Duration: uint16(ts + 160)}.Append(nil), i == 0), from, now, rec)
		}
		now = now.Add(20 * time.Millisecond)
		r.TickAt(now, rec)
	}
	for i := 0; i < 20; i++ {
		now = now.Add(20 * time.Millisecond)
		r.TickAt(now, rec)
	}
	if got := rec.DigitString(); got != "8" {
		t.Errorf("digits %q, want one 8 (%+v)", got, rec.Digits)
	}
}

// TestReceiverPayloadTypeSwitch: a stream may switch between negotiated codecs of one rate mid-call.
func TestReceiverPayloadTypeSwitch(t *testing.T) {
	pcma := media.Format{PT: 8, Name: "PCMA", ClockRate: 8000, Channels: 1}
	r := newReceiver(t, media.ReceiverConfig{Formats: []media.Format{pcmu, pcma, te}})
	rec := &mediatest.Recorder{}
	cu, _ := media.LookupCodec(pcmu)
	ca, _ := media.LookupCodec(pcma)
	eu, _ := cu.NewEncoder(pcmu)
	ea, _ := ca.NewEncoder(pcma)
	in := mediatest.Tone(8000, 1, 0.3, 500)
	st := mediatest.Stream{SSRC: 4, Seq: 1, TS: 1}
	now := time.Unix(100, 0)
	for i := 0; i+160 <= len(in); i += 160 {
		var p []byte
		if st.PT = 0; (i/160/10)%2 == 1 {
			st.PT = 8
			p, _ = ea.Encode(nil, in[i:i+160])
		} else {
			p, _ = eu.Encode(nil, in[i:i+160])
		}
		r.ReceiveAt(st.Next(p, 160), from, now, rec)
		now = now.Add(20 * time.Millisecond)
		r.TickAt(now, rec)
	}
	got, _ := mediatest.Align(in[:4000], rec.PCM, 1000)
	if snr := mediatest.SNR(in[:len(in)-1600], got); snr < 30 || r.Stats().Malformed != 0 {
		t.Errorf("SNR %.1f dB across PT switches, stats %+v", snr, r.Stats())
	}
}

// TestReceiverIdle: a stream nobody listens to (IdleAt) keeps the jitter buffer's counters and
// RFC 4733 digits exactly as a listened one (TickAt), across loss and 30 ms packets, but decodes
// nothing: no frame, and no in-band digit (which needs the audio).
func TestReceiverIdle(t *testing.T) {
	cfg := media.ReceiverConfig{InbandDTMF: true, OutputRate: 8000}
	idle, ticked := newReceiver(t, cfg), newReceiver(t, cfg)
	idleRec, tickRec := &mediatest.Recorder{}, &mediatest.Recorder{}
	c, _ := media.LookupCodec(pcmu)
	enc, _ := c.NewEncoder(pcmu)
	tone := tonePair(770, 1336, 0.3, 0.2, 0.2) // in-band 5
	st := mediatest.Stream{PT: 0, SSRC: 3, Seq: 1, TS: 1}
	now := time.Unix(100, 0)
	for ms := 0; ms < 6000; ms += 10 { // 30 ms packets, 20 ms ticks
		now := now.Add(time.Duration(ms) * time.Millisecond)
		if i := ms / 30; ms%30 == 0 {
			pcm := make([]int16, 240)
			if i >= 20 && i < 30 {
				copy(pcm, tone[(i-20)*240:])
			}
			p, _ := enc.Encode(nil, pcm)
			b := st.Next(p, 240)
			switch {
			case i%17 == 5: // lost
			case i == 60: // an RFC 4733 digit, start and three ends
				for j, ev := range []media.TelephoneEvent{{Event: 7, Duration: 400}, {Event: 7, End: true, Duration: 800},
					{Event: 7, End: true, Duration: 800}, {Event: 7, End: true, Duration: 800}} {
					e := st.Event(101, 50000, ev.Append(nil), j == 0)
					idle.ReceiveAt(e, from, now, idleRec)
					ticked.ReceiveAt(e, from, now, tickRec)
				}
			default:
				idle.ReceiveAt(b, from, now, idleRec)
				ticked.ReceiveAt(b, from, now, tickRec)
			}
		}
		if ms%20 == 0 {
			idle.IdleAt(now, idleRec)
			ticked.TickAt(now, tickRec)
		}
	}
	if a, b := idle.Stats(), ticked.Stats(); a != b || a.Lost == 0 {
		t.Fatalf("idle counters %+v, listened %+v", a, b)
	}
	if got := idleRec.DigitString(); got != "7" {
		t.Errorf("idle stream digits %q, want the RFC 4733 7 only", got)
	}
	if got := tickRec.DigitString(); got != "57" {
		t.Errorf("listened stream digits %q, want in-band 5 then 7", got)
	}
	if len(idleRec.PCM) != 0 {
		t.Errorf("idle stream delivered %d samples", len(idleRec.PCM))
	}
}

package media_test

import (
	"encoding/binary"
	"testing"
	"time"

	"github.com/pion/rtp"

	"github.com/mrcpd/mrcpd/media"
	"github.com/mrcpd/mrcpd/media/mediatest"
)

// jitterRun sends n 20 ms packets through an impaired network into a jitter buffer that is popped every
// 20 ms, all in virtual time, and returns the packet indexes played in order plus the stats.
type jitterRun struct {
	played   []uint32
	lost     int
	stats    media.JitterStats
	maxDelay time.Duration
}

type jitterCase struct {
	name   string
	imp    mediatest.Impairment
	n      int
	seq    uint16
	ts     uint32
	skew   float64                           // sender clock rate relative to ours (1.005 = 0.5% fast)
	mutate func(i int, st *mediatest.Stream) // before packet i is built
	stopAt int                               // the sender stops after this many packets (0: never)
	cfg    media.JitterConfig
}

func runJitter(t *testing.T, c jitterCase) jitterRun {
	t.Helper()
	jb := media.NewJitterBuffer(c.cfg, 8000)
	nw := mediatest.NewNetwork(c.imp)
	st := &mediatest.Stream{PT: 0, SSRC: 0x1234, Seq: c.seq, TS: c.ts, Marker: true}
	t0 := time.Unix(1000, 0)
	skew := c.skew
	if skew == 0 {
		skew = 1
	}
	var res jitterRun
	var pkt rtp.Packet
	payload := make([]byte, 160)
	sendAt := func(i int) time.Time { return t0.Add(time.Duration(float64(i) * float64(20*time.Millisecond) / skew)) }
	next := 0
	end := c.n + 100 // keep popping well after the last packet
	for tick := 1; tick <= end; tick++ {
		now := t0.Add(time.Duration(tick) * 20 * time.Millisecond)
		for next < c.n && !sendAt(next).After(now) && (c.stopAt == 0 || next < c.stopAt) {
			if c.mutate != nil {
				c.mutate(next, st)
			}
			binary.BigEndian.PutUint32(payload, uint32(next))
			nw.Send(st.Next(payload, 160), sendAt(next))
			next++
		}
		for _, d := range nw.Due(now) {
			if err := pkt.Unmarshal(d.Pkt); err != nil {
				t.Fatal(err)
			}
			_ = jb.PushAt(&pkt, d.At)
		}
		p := jb.Pop(now)
		switch p.Kind {
		case media.PopPacket:
			res.played = append(res.played, binary.BigEndian.Uint32(p.Payload))
		case media.PopLost:
			res.lost++
		}
		res.maxDelay = max(res.maxDelay, jb.Stats().Delay)
	}
	res.stats = jb.Stats()
	return res
}

func TestJitterBufferImpairments(t *testing.T) {
	cases := []struct {
		jitterCase
		minPlayed float64 // share of sent packets that must be played
		check     func(t *testing.T, r jitterRun)
	}{
		{jitterCase: jitterCase{name: "clean", n: 500}, minPlayed: 1,
			check: func(t *testing.T, r jitterRun) {
				if r.stats.Lost+r.stats.Late+r.stats.Reordered+r.stats.Duplicated != 0 {
					t.Errorf("clean stream counted impairments: %+v", r.stats)
				}
			}},
		{jitterCase: jitterCase{name: "random loss 5%", n: 1000, imp: mediatest.Impairment{Loss: 0.05, Seed: 1}},
			minPlayed: 0.9, check: func(t *testing.T, r jitterRun) {
				if r.stats.Lost < 20 || r.stats.Lost > 90 {
					t.Errorf("lost %d, want about 50", r.stats.Lost)
				}
			}},
		{jitterCase: jitterCase{name: "bursts", n: 1000, imp: mediatest.Impairment{BurstLoss: 0.02, BurstLen: 4, Seed: 2}},
			minPlayed: 0.8},
		{jitterCase: jitterCase{name: "reorder", n: 1000, imp: mediatest.Impairment{Reorder: 0.1, Seed: 3}},
			minPlayed: 0.97, check: func(t *testing.T, r jitterRun) {
				if r.stats.Reordered == 0 {
					t.Error("no reordering counted")
				}
			}},
		{jitterCase: jitterCase{name: "duplication", n: 1000, imp: mediatest.Impairment{Duplicate: 0.1, Seed: 4}},
			minPlayed: 1, check: func(t *testing.T, r jitterRun) {
				if r.stats.Duplicated < 50 {
					t.Errorf("duplicated %d, want about 100", r.stats.Duplicated)
				}
			}},
		{jitterCase: jitterCase{name: "jitter 200ms", n: 1500, imp: mediatest.Impairment{Jitter: 200 * time.Millisecond, Seed: 5}},
			minPlayed: 0.85, check: func(t *testing.T, r jitterRun) {
				if r.maxDelay < 100*time.Millisecond {
					t.Errorf("delay never adapted above %v with 200 ms jitter", r.maxDelay)
				}
				if r.stats.Jitter < 20*time.Millisecond {
					t.Errorf("measured jitter %v", r.stats.Jitter)
				}
			}},
		{jitterCase: jitterCase{name: "everything", n: 1500, imp: mediatest.Impairment{Loss: 0.03,
			BurstLoss: 0.01, BurstLen: 3, Reorder: 0.05, Duplicate: 0.05, Jitter: 120 * time.Millisecond, Seed: 6}},
			minPlayed: 0.8},
		{jitterCase: jitterCase{name: "seq and ts wrap", n: 600, seq: 65200, ts: 0xffffffff - 160*100,
			imp: mediatest.Impairment{Reorder: 0.05, Seed: 7}}, minPlayed: 0.97,
			check: func(t *testing.T, r jitterRun) {
				if r.maxDelay > 200*time.Millisecond {
					t.Errorf("timestamp wrap inflated the delay to %v", r.maxDelay)
				}
			}},
		{jitterCase: jitterCase{name: "ssrc change", n: 600, mutate: func(i int, st *mediatest.Stream) {
			if i == 300 {
				st.SSRC, st.Seq, st.TS, st.Marker = 0x9999, 7, 123456, true
			}
		}}, minPlayed: 0.95, check: func(t *testing.T, r jitterRun) {
			if r.stats.Resets == 0 {
				t.Error("SSRC change did not reset the buffer")
			}
		}},
		{jitterCase: jitterCase{name: "stream stops", n: 600, stopAt: 200}, minPlayed: 200.0 / 600,
			check: func(t *testing.T, r jitterRun) {
				if r.stats.Lost != 0 {
					t.Errorf("a stopped stream counted %d losses", r.stats.Lost)
				}
				if r.stats.Underruns < 400 {
					t.Errorf("underruns %d after the stream stopped", r.stats.Underruns)
				}
			}},
		{jitterCase: jitterCase{name: "sender clock 0.5% fast", n: 3000, skew: 1.005}, minPlayed: 0.98,
			check: func(t *testing.T, r jitterRun) {
				if r.stats.Dropped == 0 {
					t.Error("a fast sender never made the buffer shed delay")
				}
			}},
		{jitterCase: jitterCase{name: "sender clock 0.5% slow", n: 3000, skew: 0.995}, minPlayed: 1},
		{jitterCase: jitterCase{name: "max delay caps adaptation", n: 1500, cfg: media.JitterConfig{Max: 100 * time.Millisecond},
			imp: mediatest.Impairment{Jitter: 200 * time.Millisecond, Seed: 8}}, minPlayed: 0.5,
			check: func(t *testing.T, r jitterRun) {
				if r.maxDelay > 100*time.Millisecond {
					t.Errorf("target delay %v above the 100 ms maximum", r.maxDelay)
				}
				if r.stats.Late == 0 {
					t.Error("a capped buffer under 200 ms jitter should drop late packets")
				}
			}},
		{jitterCase: jitterCase{name: "min delay floor", n: 500, cfg: media.JitterConfig{Initial: 80 * time.Millisecond, Min: 60 * time.Millisecond}},
			minPlayed: 1, check: func(t *testing.T, r jitterRun) {
				if r.stats.Delay < 60*time.Millisecond {
					t.Errorf("delay %v below the 60 ms minimum", r.stats.Delay)
				}
			}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := runJitter(t, c.jitterCase)
			// Output is strictly increasing: no duplicates, no reordering reach the decoder.
			for i := 1; i < len(r.played); i++ {
				if r.played[i] <= r.played[i-1] && !(c.name == "ssrc change") {
					t.Fatalf("played %d after %d", r.played[i], r.played[i-1])
				}
			}
			sent := c.n
			if c.stopAt > 0 {
				sent = c.stopAt
			}
			if got := float64(len(r.played)) / float64(sent); got < c.minPlayed*0.999 {
				t.Errorf("played %d of %d (%.3f < %.3f); stats %+v", len(r.played), sent, got, c.minPlayed, r.stats)
			}
			if c.check != nil {
				c.check(t, r)
			}
			t.Logf("played %d/%d lost %d stats %+v maxDelay %v", len(r.played), sent, r.lost, r.stats, r.maxDelay)
		})
	}
}

// TestJitterBufferShrinksAfterBurst: a sender that stalls for 400 ms and then sends what it held back
// at once (a busy machine) grows the ring to hold the burst; once the delay it added has been shed and
// a whole second's backlog is a few packets again, the ring returns to its starting size, without
// losing or reordering a packet on the way.
func TestJitterBufferShrinksAfterBurst(t *testing.T) {
	j := media.NewJitterBuffer(media.JitterConfig{}, 8000)
	t0 := time.Unix(1000, 0)
	var played []uint16
	grown := 0
	for tick := 0; tick < 1500; tick++ {
		now := t0.Add(time.Duration(tick) * 20 * time.Millisecond)
		from := tick
		if tick >= 50 && tick < 70 {
			continue // held back by the sender
		} else if tick == 70 {
			from = 50
		}
		for seq := from; seq <= tick; seq++ {
			p := &rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: uint16(seq), Timestamp: uint32(seq) * 160,
				SSRC: 7}, Payload: make([]byte, 160)}
			binary.BigEndian.PutUint16(p.Payload, uint16(seq))
			if err := j.PushAt(p, now); err != nil {
				t.Fatal(err)
			}
		}
		grown = max(grown, media.JitterSlots(j))
		if got := j.Pop(now); got.Kind == media.PopPacket {
			played = append(played, binary.BigEndian.Uint16(got.Payload))
		}
	}
	if grown < 32 {
		t.Fatalf("the ring reached %d slots: the burst did not grow it", grown)
	}
	if n := media.JitterSlots(j); n != 8 {
		t.Errorf("ring holds %d slots after the burst drained, want 8", n)
	}
	for i := 1; i < len(played); i++ {
		if played[i] <= played[i-1] {
			t.Fatalf("played %d after %d", played[i], played[i-1])
		}
	}
	if st := j.Stats(); st.Lost != 0 || st.Late != 0 || st.Duplicated != 0 {
		t.Errorf("stats %+v: want nothing lost, late or duplicated", st)
	}
}

// TestJitterBufferBoundsBacklog: playout that runs 20% slower than the sender (a media worker whose
// ticks come late on a loaded machine) builds a backlog for as long as it lasts. The buffer sheds the
// oldest packets as soon as the backlog exceeds what the maximum delay needs, so the ring stays at the
// size that delay takes (32 slots for 600 ms of 20 ms packets) instead of growing to 128 and
// realigning, and what plays is never more than the maximum delay behind the newest packet.
func TestJitterBufferBoundsBacklog(t *testing.T) {
	j := media.NewJitterBuffer(media.JitterConfig{}, 8000)
	t0 := time.Unix(1000, 0)
	const limit = 600/20 + 2
	grown, seq, last := 0, 0, -1
	for tick := 0; tick < 1500; tick++ {
		now := t0.Add(time.Duration(tick) * 20 * time.Millisecond)
		pushPacket(t, j, uint16(seq), uint32(seq)*160, now)
		grown = max(grown, media.JitterSlots(j))
		if tick%5 != 4 { // every fifth tick never comes
			if got := j.Pop(now); got.Kind == media.PopPacket {
				played := int(binary.BigEndian.Uint16(got.Payload))
				if played <= last {
					t.Fatalf("played %d after %d", played, last)
				}
				if behind := seq - played; behind >= limit {
					t.Fatalf("tick %d: played %d, %d packets behind the newest (at most %d)", tick, played, behind, limit-1)
				}
				last = played
			}
		}
		seq++
	}
	if grown > 32 {
		t.Errorf("the ring grew to %d slots, want at most 32", grown)
	}
	st := j.Stats()
	if st.Dropped < 250 || st.Lost != 0 || st.Resets != 0 {
		t.Errorf("stats %+v: want about 300 dropped, nothing lost, no realignment", st)
	}
}

// TestJitterBufferBoundSurvivesTimestampJumps: a sender that falls behind skips packets by jumping
// its timestamps (sequence numbers stay contiguous, as mrcpclient load does). A jump must not pass
// for the packet duration in the backlog bound: 200 ms "packets" made it 5 packets, and a buffer
// holding a 200 ms delay shed on every jump (35% of all packets at 2,000 sessions).
func TestJitterBufferBoundSurvivesTimestampJumps(t *testing.T) {
	j := media.NewJitterBuffer(media.JitterConfig{Initial: 200 * time.Millisecond, Min: 200 * time.Millisecond}, 8000)
	t0 := time.Unix(1000, 0)
	ts := uint32(0)
	for tick := 0; tick < 1000; tick++ {
		now := t0.Add(time.Duration(tick) * 20 * time.Millisecond)
		ts += 160
		if tick%25 == 24 {
			ts += 9 * 160 // the sender skipped nine packets' worth
		}
		pushPacket(t, j, uint16(tick), ts, now)
		j.Pop(now)
	}
	if st := j.Stats(); st.Dropped != 0 || st.Lost != 0 {
		t.Errorf("stats %+v: an on-time sender with timestamp jumps had packets shed or lost", st)
	}
}

// TestJitterBufferRealignCountsDiscarded: a sequence jump beyond the buffer realigns playout on the
// new packet; what was waiting to play is discarded, and counted as shed.
func TestJitterBufferRealignCountsDiscarded(t *testing.T) {
	j := media.NewJitterBuffer(media.JitterConfig{}, 8000)
	t0 := time.Unix(1000, 0)
	for _, seq := range []uint16{1, 2, 3, 4, 5, 1000} {
		pushPacket(t, j, seq, uint32(seq)*160, t0)
	}
	if st := j.Stats(); st.Resets != 1 || st.Dropped != 5 {
		t.Errorf("stats %+v: want one realignment and the 5 packets it discarded shed", st)
	}
}

// TestJitterBufferPacketDurationIgnoresOneJump: the packet duration follows a stream that changes
// its packetization (two packets in a row show it), not one timestamp jump of a sender that skipped
// packets: an idle tick counted that one packet as ten ticks' worth.
func TestJitterBufferPacketDurationIgnoresOneJump(t *testing.T) {
	j := media.NewJitterBuffer(media.JitterConfig{}, 8000)
	t0 := time.Unix(1000, 0)
	ts := uint32(0)
	push := func(seq int, step uint32) {
		ts += step
		pushPacket(t, j, uint16(seq), ts, t0)
	}
	for seq := 0; seq < 5; seq++ {
		push(seq, 160)
	}
	push(5, 1600) // nine packets skipped
	if d := j.PacketDuration(); d != 20*time.Millisecond {
		t.Errorf("after one 200 ms jump the packet duration is %v, want 20ms", d)
	}
	push(6, 240)
	push(7, 240) // now 30 ms packets
	if d := j.PacketDuration(); d != 30*time.Millisecond {
		t.Errorf("after 30 ms packets the packet duration is %v, want 30ms", d)
	}
}

// pushPacket pushes a 20 ms G.711 packet of SSRC 7 whose payload starts with its sequence number.
func pushPacket(t *testing.T, j *media.JitterBuffer, seq uint16, ts uint32, at time.Time) {
	t.Helper()
	p := &rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: seq, Timestamp: ts, SSRC: 7}, Payload: make([]byte, 160)}
	binary.BigEndian.PutUint16(p.Payload, seq)
	if err := j.PushAt(p, at); err != nil {
		t.Fatal(err)
	}
}

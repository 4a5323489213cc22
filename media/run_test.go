package media_test

import (
	"context"
	"encoding/binary"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/mrcpd/mrcpd/asr/clock"
	"github.com/mrcpd/mrcpd/media"
	"github.com/mrcpd/mrcpd/media/mediatest"
)

type chanSink struct {
	frames chan int
	digits chan media.DTMFEvent
}

func (c *chanSink) Audio(pcm []int16) {
	select {
	case c.frames <- len(pcm):
	default:
	}
}
func (c *chanSink) DTMF(ev media.DTMFEvent) { c.digits <- ev }

// TestRunOverUDP runs both goroutine pipelines over real loopback sockets from a PortPool, with the
// fake clock driving both pacers, and checks that they stop cleanly (goleak checks the rest).
func TestRunOverUDP(t *testing.T) {
	pool := media.NewPortPool("127.0.0.1", 31000, 31999)
	rc, err := pool.Listen()
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Release(rc)
	sc, err := pool.Listen()
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Release(sc)
	if p := rc.LocalAddr().(*net.UDPAddr).Port; p%2 != 0 {
		t.Errorf("RTP port %d is odd", p)
	}
	clk := clock.NewFake()
	snd, err := media.NewSender(sc, rc.LocalAddr(), media.SenderConfig{Format: pcmu, TelephoneEvent: &te,
		InputRate: 8000, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	rcv, err := media.NewReceiver(rc, media.ReceiverConfig{Formats: []media.Format{pcmu, te}, OutputRate: 16000,
		Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	sink := &chanSink{frames: make(chan int, 1000), digits: make(chan media.DTMFEvent, 10)}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	errs := make(chan error, 3)
	wg.Add(2)
	go func() { defer wg.Done(); errs <- snd.Run(ctx) }()
	go func() { defer wg.Done(); errs <- rcv.Run(ctx, sink) }()
	clk.Await(t, "both loops' tickers", func(c *clock.Fake) bool { return c.Tickers() == 2 })
	if err := snd.Write(mediatest.Tone(8000, 0.5, 0.3, 440)); err != nil {
		t.Fatal(err)
	}
	end := snd.End()
	wg.Add(1)
	go func() { defer wg.Done(); errs <- snd.SendDTMF(ctx, '5', 80*time.Millisecond) }()
	var got media.DTMFEvent
	deadline := time.After(10 * time.Second) // a guard against a hang, not a timing assumption
	for gotDigit, ended := false, false; !gotDigit || !ended; {
		clk.Advance(20 * time.Millisecond)
		select {
		case got = <-sink.digits:
			gotDigit = true
		case <-end:
			ended, end = true, nil
		case <-deadline:
			t.Fatal("no DTMF digit or End never closed")
		default:
		}
	}
	if got.Digit != '5' || got.Source != "rfc4733" {
		t.Errorf("digit %+v", got)
	}
	if rcv.LastPacket().IsZero() || rcv.Stats().Received == 0 {
		t.Errorf("receiver saw nothing: %+v", rcv.Stats())
	}
	if n := <-sink.frames; n != 320 {
		t.Errorf("frame of %d samples, want 320 (20 ms at 16 kHz)", n)
	}
	cancel()
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil && err != context.Canceled {
			t.Errorf("run: %v", err)
		}
	}
}

// rtpChecker is a PacketConn that checks every RTP packet a pacer writes.
type rtpChecker struct {
	mediatest.Conn
	mu      sync.Mutex
	n       int
	seq     uint16
	ts      uint32
	markers int
	tsGaps  int
	err     string
}

func (c *rtpChecker) WriteTo(b []byte, _ net.Addr) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	seq, ts := binary.BigEndian.Uint16(b[2:]), binary.BigEndian.Uint32(b[4:])
	marker := b[1]&0x80 != 0
	if c.n > 0 {
		if seq != c.seq+1 && c.err == "" {
			c.err = "sequence number jumped"
		}
		if d := ts - c.ts; d != 160 {
			c.tsGaps++
			if d%160 != 0 && c.err == "" {
				c.err = "timestamp off the packet grid"
			}
			if !marker && c.err == "" {
				c.err = "talkspurt without marker bit"
			}
		}
	}
	if marker {
		c.markers++
	}
	c.n++
	c.seq, c.ts = seq, ts
	return len(b), nil
}

func (c *rtpChecker) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

// TestPacerTenMinutes: fed far ahead of real time, the pacer holds a 10-minute stream within one
// packet of the (fake) clock the whole way, with continuous sequence numbers and timestamps.
func TestPacerTenMinutes(t *testing.T) {
	clk := clock.NewFake()
	conn := &rtpChecker{Conn: *mediatest.NewConn(0)}
	snd, err := media.NewSender(conn, conn.From, media.SenderConfig{Format: pcmu, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	const total = 10 * time.Minute
	if err := snd.Write(make([]int16, int(total/time.Second)*8000+8000)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- snd.Run(ctx) }()
	clk.Await(t, "the pacer's ticker", func(c *clock.Fake) bool { return c.Tickers() == 1 })
	worst := 0
	for el := 20 * time.Millisecond; el <= total; el += 20 * time.Millisecond {
		clk.Advance(20 * time.Millisecond)
		want := int(el / (20 * time.Millisecond))
		// Advance hands the tick over synchronously; the packet for it may still be on its way out.
		d := want - conn.count()
		worst = max(worst, d, -d)
		if d > 1 || d < 0 {
			t.Fatalf("at %v: %d packets sent, want %d (±1)", el, conn.count(), want)
		}
	}
	cancel()
	<-done
	if conn.err != "" || conn.markers != 1 {
		t.Errorf("stream: %s; %d marker bits (want 1)", conn.err, conn.markers)
	}
	t.Logf("%d packets, worst lag %d packet(s)", conn.count(), worst)
}

// TestPacerUtterances: timestamps keep counting through gaps between utterances and through a slow
// synthesizer, sequence numbers do not, every talkspurt starts with a marker, and nothing is ever
// sent in a burst.
func TestPacerUtterances(t *testing.T) {
	conn := &rtpChecker{Conn: *mediatest.NewConn(0)}
	snd, err := media.NewSender(conn, conn.From, media.SenderConfig{Format: pcmu, InputRate: 16000})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1000, 0)
	_ = snd.PaceAt(now)
	step := func(n int) {
		for i := 0; i < n; i++ {
			before := conn.count()
			now = now.Add(20 * time.Millisecond)
			if err := snd.PaceAt(now); err != nil {
				t.Fatal(err)
			}
			if conn.count()-before > 1 {
				t.Fatal("burst: more than one packet in one packet time")
			}
		}
	}
	// Utterance 1, then silence, then utterance 2 written slowly (a synthesizer behind real time).
	_ = snd.Write(make([]int16, 16000/2))
	end := snd.End()
	step(30)
	select {
	case <-end:
	default:
		t.Fatal("End not closed after 500 ms of audio and 600 ms of pacing")
	}
	step(10)
	for i := 0; i < 5; i++ {
		_ = snd.Write(make([]int16, 320*2)) // 40 ms every 60 ms
		step(3)
	}
	snd.Pause()
	_ = snd.Write(make([]int16, 3200))
	step(5)
	if conn.count() != 25+10 {
		t.Errorf("paused sender sent: %d packets", conn.count())
	}
	snd.Resume()
	step(20)
	if conn.err != "" {
		t.Error(conn.err)
	}
	if conn.markers < 3 || conn.tsGaps < 2 {
		t.Errorf("%d marker bits and %d timestamp gaps: want a talkspurt per utterance and per stall", conn.markers, conn.tsGaps)
	}
	snd.Flush()
	if q := snd.Queued(); q != 0 {
		t.Errorf("queued %v after Flush", q)
	}
}

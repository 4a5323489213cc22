package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtp"

	"github.com/mrcpd/mrcpd/media"
	"github.com/mrcpd/mrcpd/mrcp"
	"github.com/mrcpd/mrcpd/mrcp/client"
	"github.com/mrcpd/mrcpd/mrcp/nlsml"
	"github.com/mrcpd/mrcpd/mrcp/sdp"
)

// Issue 12, item 3, as it was found, through the real mrcpd: RTP from anyone was heard. Each test
// here failed before the stream's guard (media/guard.go) ran ahead of the receiver.

// sendEvery sends the packets next makes from conn to to every 10 ms until the returned stop is
// called; stop returns how many were sent.
func sendEvery(t *testing.T, conn net.PacketConn, to net.Addr, next func() []byte) (stop func() int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	n := 0
	wg.Go(func() {
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			if _, err := conn.WriteTo(next(), to); err == nil {
				n++
			}
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	})
	return func() int { cancel(); wg.Wait(); return n }
}

// open opens a session of resource on c, closed when the test ends.
func (d *daemonProc) open(t *testing.T, ctx context.Context, c *client.Client, resource string) *client.Session {
	t.Helper()
	s, err := c.Open(ctx, resource)
	if err != nil {
		t.Fatalf("open %s: %v\n%s", resource, err, d.log)
	}
	t.Cleanup(func() { s.Close(context.Background()) })
	return s
}

func listenUDP(t *testing.T) *net.UDPConn {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// forgedNines makes RFC 4733 telephone-events for the digit 9 (PT 101, the one mod_unimrcp
// offers and mrcpd answers): a new key press every 12 packets, the last three of each ending it.
func forgedNines() func() []byte {
	p := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 101, SSRC: rand.Uint32(), SequenceNumber: 1, Timestamp: 1000}}
	i := 0
	return func() []byte {
		k := i % 12
		if k == 0 {
			p.Timestamp += 4000
		}
		p.Marker = k == 0
		end := byte(0)
		if k >= 9 {
			end = 0x80
		}
		dur := uint16(160 * (min(k, 8) + 1))
		p.Payload = []byte{9, end | 10, byte(dur >> 8), byte(dur)}
		p.SequenceNumber++
		i++
		b, _ := p.Marshal()
		return b
	}
}

// dtmfDigits is what a RECOGNITION-COMPLETE's NLSML says was keyed.
func dtmfDigits(t *testing.T, res *client.RecognizeResult) string {
	t.Helper()
	r, err := nlsml.Parse(res.NLSML)
	if err != nil || len(r.Interpretations) == 0 {
		return ""
	}
	return nlsml.DTMFDigits(r.Interpretations[0].Input)
}

func metricAtLeast(t *testing.T, d *daemonProc, series string, least float64) {
	t.Helper()
	v, err := strconv.ParseFloat(metricValue(t, d, series), 64)
	if err != nil || v < least {
		t.Errorf("%s = %v (%v), want at least %v", series, v, err, least)
	}
}

// Forged telephone-events from another port turned 4711 into 9999.
func TestE2EForgedDTMFRefused(t *testing.T) {
	d := startMrcpd(t, "")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s := d.open(t, ctx, d.newClient(t), "speechrecog")
	stop := sendEvery(t, listenUDP(t), s.RemoteRTP, forgedNines())
	res, err := s.Recognize(ctx, client.RecognizeRequest{Grammar: "builtin:dtmf/digits?length=4", DTMF: "4711"})
	forged := stop()
	if err != nil {
		t.Fatalf("recognize: %v\n%s", err, d.log)
	}
	if got := dtmfDigits(t, res); got != "4711" {
		t.Fatalf("digits %q (%s) with %d forged events from another port, want 4711", got, res.Cause, forged)
	}
	metricAtLeast(t, d, "mrcpd_rtp_packets_foreign_total", 1)
}

// A random-byte flood from elsewhere produced digits (7471). Half of it is random bytes behind a
// header that looks like telephone-events, the worst a blind sender can do.
func TestE2ERTPFloodNoDigits(t *testing.T) {
	d := startMrcpd(t, "")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s := d.open(t, ctx, d.newClient(t), "speechrecog")
	flood := func(seed uint64) func() []byte {
		rng := rand.New(rand.NewPCG(seed, 3))
		return func() []byte {
			b := make([]byte, 16+rng.IntN(180))
			for i := range b {
				b[i] = byte(rng.Uint32())
			}
			if rng.IntN(2) == 0 {
				b[0], b[1] = 0x80, 101|byte(rng.IntN(2))<<7
			}
			return b
		}
	}
	attacker := listenUDP(t)
	var stops []func() int
	for i := range 4 { // 400 datagrams a second
		stops = append(stops, sendEvery(t, attacker, s.RemoteRTP, flood(uint64(i))))
	}
	res, err := s.Recognize(ctx, client.RecognizeRequest{Grammar: "builtin:dtmf/digits?length=4",
		Headers: []mrcp.Field{{Name: mrcp.HeaderNoInputTimeout, Value: "3000"}}})
	sent := 0
	for _, stop := range stops {
		sent += stop()
	}
	if err != nil {
		t.Fatalf("recognize: %v\n%s", err, d.log)
	}
	if got := dtmfDigits(t, res); got != "" || res.Cause != "002 no-input-timeout" {
		t.Fatalf("a flood of %d datagrams gave digits %q (%s), want none (002 no-input-timeout)", sent, got, res.Cause)
	}
	metricAtLeast(t, d, "mrcpd_rtp_packets_foreign_total", float64(sent/2))
}

// With rtp.symmetric a third party's one-second stream pulled 50 TTS packets away from the caller
// ("RTP bleed"): now the latch stays on the caller while it talks, and the third party gets nothing.
func TestE2ESymmetricRTPNoBleed(t *testing.T) {
	d := startMrcpd(t, "rtp:\n  symmetric: true\n"+tonePluginConfig(t))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s := d.open(t, ctx, d.newClientWith(t, client.Config{SendRecv: true}), "speechsynth")
	stream := func() func() []byte { // PCMU silence, as a phone sends through a prompt
		p := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 0, SSRC: rand.Uint32()}, Payload: make([]byte, 80)}
		for i := range p.Payload {
			p.Payload[i] = 0xff
		}
		return func() []byte {
			p.SequenceNumber++
			p.Timestamp += 80
			b, _ := p.Marshal()
			return b
		}
	}
	stopCaller := sendEvery(t, s.RTP, s.RemoteRTP, stream())
	defer stopCaller()
	time.Sleep(200 * time.Millisecond) // the caller's stream is under way, as in a call
	third := listenUDP(t)
	stopThird := sendEvery(t, third, s.RemoteRTP, stream())
	got := make(chan int, 1)
	go func() {
		buf, n := make([]byte, 1500), 0
		for {
			third.SetReadDeadline(time.Now().Add(3 * time.Second))
			if _, _, err := third.ReadFrom(buf); err != nil {
				got <- n
				return
			}
			n++
		}
	}()
	res, err := s.Speak(ctx, client.SpeakRequest{Text: "Welcome."})
	stopThird()
	if err != nil {
		t.Fatalf("speak: %v\n%s", err, d.log)
	}
	if tones := toneSequence(res.Audio, 8000, []float64{500, 1000, 1500}); fmt.Sprint(tones) != "[500 1000 1500]" {
		t.Errorf("the caller heard tones %v, want [500 1000 1500]", tones)
	}
	if n := <-got; n != 0 {
		t.Fatalf("the third party received %d of the SPEAK's packets", n)
	}
	metricAtLeast(t, d, "mrcpd_rtp_packets_foreign_total", 1)
}

// rtp.srtp: required takes RTP/SAVP offers with SDES keys (both suites) and answers with our own
// key; DTMF is recognized and SPEAK's audio decrypts; plain telephone-events sent from the
// caller's own port (past the source filter) fail authentication; an RTP/AVP offer gets 488.
func TestE2ESRTP(t *testing.T) {
	d := startMrcpd(t, "rtp:\n  srtp: required\n"+tonePluginConfig(t))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	_, err := d.newClient(t).Open(ctx, "speechrecog")
	var se *client.SIPError
	if !errors.As(err, &se) || se.Code != 488 {
		t.Fatalf("RTP/AVP offer with rtp.srtp required: %v, want 488", err)
	}
	for _, suite := range []string{sdp.SuiteAES80, sdp.SuiteAES32} {
		t.Run(suite, func(t *testing.T) {
			c := d.newClientWith(t, client.Config{SRTP: suite})
			s := d.open(t, ctx, c, "speechrecog")
			stop := sendEvery(t, s.RTP, s.RemoteRTP, forgedNines())
			res, err := s.Recognize(ctx, client.RecognizeRequest{Grammar: "builtin:dtmf/digits?length=4", DTMF: "4711"})
			stop()
			if err != nil {
				t.Fatalf("recognize: %v\n%s", err, d.log)
			}
			if got := dtmfDigits(t, res); got != "4711" {
				t.Fatalf("digits %q (%s) over SRTP, want 4711", got, res.Cause)
			}
			synth := d.open(t, ctx, c, "speechsynth")
			if _, ok := synth.Media.(*media.SRTPConn); !ok {
				t.Fatalf("the synthesizer session's media is %T, not SRTP", synth.Media)
			}
			sp, err := synth.Speak(ctx, client.SpeakRequest{Text: "Welcome."})
			if err != nil {
				t.Fatalf("speak: %v\n%s", err, d.log)
			}
			if tones := toneSequence(sp.Audio, 8000, []float64{500, 1000, 1500}); fmt.Sprint(tones) != "[500 1000 1500]" {
				t.Fatalf("SPEAK over SRTP: tones %v, want [500 1000 1500] (%d packets, %d samples)", tones, sp.Packets, len(sp.Audio))
			}
		})
	}
	metricAtLeast(t, d, "mrcpd_rtp_packets_unauthenticated_total", 1)
}

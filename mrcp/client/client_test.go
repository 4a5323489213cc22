package client

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"math"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func newTestClient(t *testing.T, server, transport string) *Client {
	t.Helper()
	c, err := New(Config{Server: server, Transport: transport, Logger: discard()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestRecognizeDTMF: digits as RFC 4733 events and as in-band tones, over SIP UDP and TCP.
func TestRecognizeDTMF(t *testing.T) {
	tests := []struct {
		name      string
		transport string
		inband    bool
	}{
		{"rfc4733 udp", "udp", false},
		{"inband tcp", "tcp", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := startFakeServer(t)
			c := newTestClient(t, srv.sip.Addr(tt.transport).String(), tt.transport)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			s, err := c.Open(ctx, "speechrecog")
			if err != nil {
				t.Fatal(err)
			}
			if s.InviteLatency <= 0 || !strings.HasSuffix(s.Channel, "@speechrecog") || s.Codec.Name != "PCMU" || s.DTMF == nil {
				t.Errorf("session %+v", s)
			}
			res, err := s.Recognize(ctx, RecognizeRequest{Grammar: "builtin:dtmf/digits?length=4", DTMF: "1934", Inband: tt.inband})
			if err != nil {
				t.Fatal(err)
			}
			if !res.Success() || !strings.Contains(string(res.NLSML), "<instance>1934</instance>") {
				t.Errorf("result %s\n%s", res.Cause, res.NLSML)
			}
			if err := s.Close(ctx); err != nil {
				t.Fatal(err)
			}
			select {
			case id := <-srv.ended:
				if id != s.CallID {
					t.Errorf("ended %q, want %q", id, s.CallID)
				}
			case <-ctx.Done():
				t.Fatal("server saw no BYE")
			}
		})
	}
}

// TestSpeak: the received audio is the tone the server sent, SPEAK-COMPLETE after the last packet.
func TestSpeak(t *testing.T) {
	srv := startFakeServer(t)
	c := newTestClient(t, srv.sip.Addr("udp").String(), "udp")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	s, err := c.Open(ctx, "speechsynth")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(ctx)
	res, err := s.Speak(ctx, SpeakRequest{Text: "hello"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Cause != "000 normal" || res.Packets != uint64(toneDur/(20*time.Millisecond)) {
		t.Errorf("cause %q packets %d", res.Cause, res.Packets)
	}
	// The fake server sends SPEAK-COMPLETE right after its last packet; on loopback the TCP
	// event may be read a few microseconds before the UDP packet, never milliseconds.
	if d := res.CompleteAfterLastRTP(); d < -2*time.Millisecond || d > time.Second {
		t.Errorf("SPEAK-COMPLETE %v after the last packet", d)
	}
	// Goertzel power at 440 Hz dominates the received audio.
	if len(res.Audio) < int(toneDur/time.Second*8000)/2 {
		t.Fatalf("received %d samples", len(res.Audio))
	}
	if r := toneRatio(res.Audio, 440, 8000); r < 0.5 {
		t.Errorf("440 Hz carries %.2f of the energy", r)
	}
}

// toneRatio is the share of x's energy at freq (Goertzel over the whole signal).
func toneRatio(x []int16, freq float64, rate int) float64 {
	w := 2 * math.Pi * freq / float64(rate)
	var s1, s2, energy float64
	for _, v := range x {
		s := float64(v) + 2*math.Cos(w)*s1 - s2
		s2, s1 = s1, s
		energy += float64(v) * float64(v)
	}
	p := s1*s1 + s2*s2 - 2*math.Cos(w)*s1*s2
	return 2 * p / (float64(len(x)) * energy)
}

func TestOpenRejected(t *testing.T) {
	srv := startFakeServer(t)
	c := newTestClient(t, srv.sip.Addr("udp").String(), "udp")
	_, err := c.Open(context.Background(), "telepathy")
	var se *SIPError
	if !errors.As(err, &se) || se.Code != 404 || !strings.Contains(se.Warning, "telepathy") || !errors.Is(err, ErrRejected) {
		t.Fatalf("Open = %v, want 404 naming the resource", err)
	}
}

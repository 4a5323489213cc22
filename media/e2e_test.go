package media_test

import (
	"testing"
	"time"

	"github.com/mrcpd/mrcpd/asr/clock"
	"github.com/mrcpd/mrcpd/media"
	"github.com/mrcpd/mrcpd/media/mediatest"
)

func newLink(t *testing.T, f media.Format, outRate int, imp mediatest.Impairment, inband bool) (*mediatest.Link, *mediatest.Recorder) {
	t.Helper()
	te := media.Format{PT: 101, Name: "telephone-event", ClockRate: f.ClockRate, Channels: 1}
	conn := mediatest.NewConn(1024)
	clk := clock.NewFake()
	snd, err := media.NewSender(conn, conn.From, media.SenderConfig{Format: f, TelephoneEvent: &te,
		InputRate: outRate, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	rcv, err := media.NewReceiver(mediatest.NewConn(1), media.ReceiverConfig{Formats: []media.Format{f, te},
		OutputRate: outRate, InbandDTMF: inband, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	rec := &mediatest.Recorder{}
	l := &mediatest.Link{Now: clk.Now(), Sender: snd, SendConn: conn, Net: mediatest.NewNetwork(imp),
		Receiver: rcv, Sink: rec}
	_ = snd.PaceAt(l.Now)
	return l, rec
}

func TestEndToEndCodecs(t *testing.T) {
	for _, f := range media.SupportedFormats() {
		if f.IsTelephoneEvent() {
			continue
		}
		t.Run(f.String(), func(t *testing.T) {
			l, rec := newLink(t, f, 16000, mediatest.Impairment{}, false)
			in := mediatest.Sweep(16000, 1.0, 200, 3000, 0.3)
			if err := l.Sender.Write(in); err != nil {
				t.Fatal(err)
			}
			done := l.Sender.End()
			l.Run(1500 * time.Millisecond)
			select {
			case <-done:
			default:
				t.Fatal("End not closed after the utterance was sent")
			}
			got, lag := mediatest.Align(in, rec.PCM, 16000/2)
			snr := mediatest.SNR(in, got)
			t.Logf("%s: %s lag %d SNR %.1f dB", f, l.Receiver, lag, snr)
			floor := 15.0
			if f.Name == "opus" {
				floor = 10 // a perceptual codec: waveform SNR is not what it keeps
			}
			if snr < floor {
				t.Errorf("SNR %.1f dB < %.0f", snr, floor)
			}
		})
	}
}

// TestEndToEndDTMF: in-band tones, then RFC 4733 events, on one stream. After its first RFC 4733
// digit a stream hears digits as events only (TestInbandOffAfterRFC4733).
func TestEndToEndDTMF(t *testing.T) {
	f := media.Format{PT: 0, Name: "PCMU", ClockRate: 8000, Channels: 1}
	l, rec := newLink(t, f, 8000, mediatest.Impairment{}, true)
	if err := l.Sender.Write(mediatest.DTMF(8000, "4*7D", 0.08, 0.08, 0.25)); err != nil {
		t.Fatal(err)
	}
	l.Run(time.Second)
	for _, d := range "12#9" {
		done, err := l.Sender.QueueDTMF(d, 100*time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 50; i++ {
			l.Step()
			select {
			case <-done:
				i = 50
			default:
			}
		}
		l.Run(60 * time.Millisecond)
	}
	l.Run(time.Second)
	if got := rec.DigitString(); got != "4*7D12#9" {
		t.Fatalf("digits %q, want %q (%+v)", got, "4*7D12#9", rec.Digits)
	}
}

// TestDTMFOverImpairedNetwork: RFC 4733 digits through loss, duplication, reordering and jitter come
// out exactly once each, in order.
func TestDTMFOverImpairedNetwork(t *testing.T) {
	const digits = "0123456789*#ABCD"
	for seed := uint64(1); seed <= 5; seed++ {
		imp := mediatest.Impairment{Loss: 0.05, Duplicate: 0.2, Reorder: 0.1, Jitter: 80 * time.Millisecond, Seed: seed}
		l, rec := newLink(t, pcmu, 8000, imp, false)
		for _, d := range digits {
			done, err := l.Sender.QueueDTMF(d, 120*time.Millisecond)
			if err != nil {
				t.Fatal(err)
			}
			for sent := false; !sent; {
				l.Step()
				select {
				case <-done:
					sent = true
				default:
				}
			}
			l.Run(80 * time.Millisecond) // inter-digit pause
		}
		l.Run(time.Second)
		if got := rec.DigitString(); got != digits {
			t.Errorf("seed %d: digits %q, want %q", seed, got, digits)
		}
	}
}

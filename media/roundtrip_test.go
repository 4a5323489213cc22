package media_test

import (
	"testing"
	"time"

	"github.com/mrcpd/mrcpd/media"
	"github.com/mrcpd/mrcpd/media/mediatest"
)

// roundTripGolden is the expected quality per codec: 8 kHz speech (espeak-ng) in, through encode -> RTP ->
// an impaired network (1% loss, 5% reordering, 5% duplication, up to 40 ms jitter) -> receive pipeline
// -> 8 kHz out, measured as segmental SNR against the input. The floors sit a little under what the
// pipeline measured when they were set (in the comment), so a regression of a couple of dB fails.
var roundTripGolden = map[string]float64{
	"PCMU/8000":  32, // measured 35.7
	"PCMA/8000":  32, // 35.4
	"L16/8000":   50, // 57.3
	"L16/16000":  30, // 32.9
	"L16/32000":  23, // 26.5
	"L16/48000":  23, // 26.5
	"G722/8000":  26, // 29.2
	"opus/48000": 5,  // 6.9: a perceptual codec keeps the sound, not the waveform
}

func TestRoundTripPerCodec(t *testing.T) {
	speech := mediatest.Speech(t, "Seven three nine, pound. Please hold while I check that for you.", 8000)
	imp := mediatest.Impairment{Loss: 0.01, Reorder: 0.05, Duplicate: 0.05, Jitter: 40 * time.Millisecond, Seed: 11}
	for _, f := range media.SupportedFormats() {
		if f.IsTelephoneEvent() {
			continue
		}
		t.Run(f.String(), func(t *testing.T) {
			floor, ok := roundTripGolden[f.String()]
			if !ok {
				t.Fatalf("no golden expectation for %s: add one", f)
			}
			l, rec := newLink(t, f, 8000, imp, false)
			if err := l.Sender.Write(speech); err != nil {
				t.Fatal(err)
			}
			l.Run(time.Duration(len(speech))*time.Second/8000 + 500*time.Millisecond)
			_, lag := mediatest.Align(speech[:8000], rec.PCM, 8000/2)
			snr := mediatest.SegmentalSNR(speech, rec.PCM, 1600, lag, 240)
			t.Logf("%s: segmental SNR %.1f dB (floor %.1f), stats %+v", f, snr, floor, l.Receiver.Stats())
			if snr < floor {
				t.Errorf("%s: segmental SNR %.1f dB < %.1f dB", f, snr, floor)
			}
		})
	}
}

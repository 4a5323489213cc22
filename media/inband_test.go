package media_test

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/mrcpd/mrcpd/media"
	"github.com/mrcpd/mrcpd/media/mediatest"
)

// detectInband runs PCM through a PCMU receiver with in-band detection and returns the digits.
func detectInband(t *testing.T, pcm []int16) string {
	t.Helper()
	r := newReceiver(t, media.ReceiverConfig{Formats: []media.Format{pcmu}, InbandDTMF: true, OutputRate: 8000})
	rec := &mediatest.Recorder{}
	c, _ := media.LookupCodec(pcmu)
	enc, _ := c.NewEncoder(pcmu)
	st := mediatest.Stream{PT: 0, SSRC: 3, Seq: 1, TS: 1}
	now := time.Unix(100, 0)
	pcm = append(pcm, make([]int16, 8000/2)...)
	for i := 0; i+160 <= len(pcm); i += 160 {
		p, _ := enc.Encode(nil, pcm[i:i+160])
		r.ReceiveAt(st.Next(p, 160), from, now, rec)
		now = now.Add(20 * time.Millisecond)
		r.TickAt(now, rec)
	}
	return rec.DigitString()
}

func tonePair(row, col, dur, ampRow, ampCol float64) []int16 {
	n := int(dur * 8000)
	out := make([]int16, n)
	for i := range out {
		x := ampRow*math.Sin(2*math.Pi*row*float64(i)/8000) + ampCol*math.Sin(2*math.Pi*col*float64(i)/8000)
		out[i] = int16(32767 * x)
	}
	return out
}

// TestInbandQ24 checks the acceptance and rejection limits in the manner of ITU-T Q.24.
func TestInbandQ24(t *testing.T) {
	const a = 0.2 // about -17 dBm0 per tone
	db := func(x float64) float64 { return math.Pow(10, x/20) }
	silence := make([]int16, 800)
	cases := []struct {
		name string
		pcm  []int16
		want string
	}{
		{"all sixteen keys", mediatest.DTMF(8000, "0123456789*#ABCD", 0.07, 0.07, a), "0123456789*#ABCD"},
		{"+1.5% deviation accepted", tonePair(697*1.015, 1209*1.015, 0.1, a, a), "1"},
		{"-1.5% deviation accepted", tonePair(852*0.985, 1477*0.985, 0.1, a, a), "9"},
		{"+3.5% deviation rejected", tonePair(697*1.035, 1209*1.035, 0.1, a, a), ""},
		{"-3.5% deviation rejected", tonePair(770*0.965, 1336*0.965, 0.1, a, a), ""},
		{"40 ms tone accepted", append(append([]int16{}, silence...), tonePair(941, 1336, 0.045, a, a)...), "0"},
		{"20 ms tone rejected", tonePair(941, 1336, 0.02, a, a), ""},
		{"reverse twist 4 dB accepted", tonePair(770, 1209, 0.1, a*db(-3.5), a), "4"},
		{"normal twist 8 dB accepted", tonePair(770, 1209, 0.1, a, a*db(-7.5)), "4"},
		{"twist 12 dB rejected", tonePair(770, 1209, 0.1, a, a*db(-12)), ""},
		{"single tone rejected", mediatest.Tone(8000, 0.2, a, 941), ""},
		{"too quiet rejected", tonePair(697, 1209, 0.1, 0.005, 0.005), ""},
		{"dial tone 350+440 rejected", mediatest.Tone(8000, 0.5, a, 350, 440), ""},
		{"short gap keeps digits apart", mediatest.DTMF(8000, "11", 0.06, 0.04, a), "11"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := detectInband(t, c.pcm); got != c.want {
				t.Errorf("digits %q, want %q", got, c.want)
			}
		})
	}
}

// TestInbandNoTalkOff: speech must not produce digits (talk-off).
func TestInbandNoTalkOff(t *testing.T) {
	speech := mediatest.Speech(t, "One two three four five six seven eight nine zero. Press pound to confirm, or star to go back.", 8000)
	if got := detectInband(t, speech); got != "" {
		t.Errorf("speech produced digits %q", got)
	}
	noise := make([]int16, 8000)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range noise {
		noise[i] = int16(rng.NormFloat64() * 3000)
	}
	if got := detectInband(t, noise); got != "" {
		t.Errorf("noise produced digits %q", got)
	}
}

// TestInbandOffAfterRFC4733: once a peer has sent an RFC 4733 digit, in-band detection stops for the
// stream (UniMRCP's mpf_dtmf_detector does the same): a later tone in the audio is not a digit, and
// costs no Goertzel bank. A stream that negotiated telephone-event but has sent none still hears tones.
func TestInbandOffAfterRFC4733(t *testing.T) {
	const a = 0.2
	for _, tc := range []struct {
		name  string
		event bool
		want  string
	}{{"tone only", false, "5"}, {"event then tone", true, "1"}} {
		t.Run(tc.name, func(t *testing.T) {
			r := newReceiver(t, media.ReceiverConfig{InbandDTMF: true, OutputRate: 8000})
			rec := &mediatest.Recorder{}
			c, _ := media.LookupCodec(pcmu)
			enc, _ := c.NewEncoder(pcmu)
			pcm := append(make([]int16, 8000), tonePair(770, 1336, 0.2, a, a)...) // in-band 5 after 1 s
			pcm = append(pcm, make([]int16, 4000)...)
			st := mediatest.Stream{PT: 0, SSRC: 3, Seq: 1, TS: 1}
			now := time.Unix(100, 0)
			for i := 0; i+160 <= len(pcm); i += 160 {
				p, _ := enc.Encode(nil, pcm[i:i+160])
				r.ReceiveAt(st.Next(p, 160), from, now, rec)
				if tc.event && i/160 >= 10 && i/160 < 14 { // an RFC 4733 1: start, update, two ends
					ev := media.TelephoneEvent{Event: 1, End: i/160 >= 12, Duration: uint16(160 * (i/160 - 9))}
					r.ReceiveAt(st.Event(101, 1+1600, ev.Append(nil), i/160 == 10), from, now, rec)
				}
				now = now.Add(20 * time.Millisecond)
				r.TickAt(now, rec)
			}
			if got := rec.DigitString(); got != tc.want {
				t.Errorf("digits %q, want %q", got, tc.want)
			}
		})
	}
}

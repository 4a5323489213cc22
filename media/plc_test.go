package media_test

import (
	"math/rand/v2"
	"testing"

	"github.com/mrcpd/mrcpd/media"
	"github.com/mrcpd/mrcpd/media/mediatest"
)

const plcText = "Please say the account number you would like to check, followed by the pound key. " +
	"Thank you. Your balance is one hundred and twenty three dollars."

// TestPLCSpeechBeatsZeroFill: on real speech with 5% random loss of 20 ms packets, concealment must beat
// zero-filled gaps by at least 3 dB of SNR against the original. One 8-second utterance has only about
// 20 losses, so single realisations vary by a couple of dB; the 3 dB bar applies to eight realisations
// pooled (about 170 losses), and every single one must still beat zero fill.
func TestPLCSpeechBeatsZeroFill(t *testing.T) {
	speech := mediatest.Speech(t, plcText, 8000)
	const frame = 160
	l16 := media.Format{PT: 97, Name: "L16", ClockRate: 8000, Channels: 1}
	c, err := media.LookupCodec(l16)
	if err != nil {
		t.Fatal(err)
	}
	dec, _ := c.NewDecoder(l16)
	enc, _ := c.NewEncoder(l16)
	var refAll, plcAll, zeroAll []int16
	for _, seed := range []uint64{1, 2, 3, 4, 5, 6, 7, 8} {
		rng := rand.New(rand.NewPCG(seed, 99))
		plc := media.NewPLC(8000, dec)
		var concealed, zero []int16
		lost := 0
		for i := 0; i+frame <= len(speech); i += frame {
			f := speech[i : i+frame]
			if i > 0 && rng.Float64() < 0.05 {
				lost++
				var next []byte
				if j := i + frame; j+frame <= len(speech) {
					next, _ = enc.Encode(nil, speech[j:j+frame])
				}
				concealed = plc.Conceal(concealed, frame, next)
				zero = append(zero, make([]int16, frame)...)
				continue
			}
			good := append([]int16(nil), f...)
			plc.Good(good)
			concealed = append(concealed, good...)
			zero = append(zero, f...)
		}
		ref := speech[:len(concealed)]
		snrPLC, snrZero := mediatest.SNR(ref, concealed), mediatest.SNR(ref, zero)
		t.Logf("seed %d: %d of %d frames lost: concealed %.2f dB, zero-filled %.2f dB (+%.2f dB)",
			seed, lost, len(ref)/frame, snrPLC, snrZero, snrPLC-snrZero)
		if snrPLC <= snrZero {
			t.Errorf("seed %d: concealment %.2f dB does not beat zero fill %.2f dB", seed, snrPLC, snrZero)
		}
		refAll, plcAll, zeroAll = append(refAll, ref...), append(plcAll, concealed...), append(zeroAll, zero...)
	}
	snrPLC, snrZero := mediatest.SNR(refAll, plcAll), mediatest.SNR(refAll, zeroAll)
	t.Logf("pooled: concealed %.2f dB, zero-filled %.2f dB (+%.2f dB)", snrPLC, snrZero, snrPLC-snrZero)
	if snrPLC < snrZero+3 {
		t.Errorf("pooled: concealment %.2f dB does not beat zero fill %.2f dB by 3 dB", snrPLC, snrZero)
	}
}

// TestPLCFadesOut: a long gap decays to silence within 60 ms, as G.711 Appendix I prescribes.
func TestPLCFadesOut(t *testing.T) {
	plc := media.NewPLC(8000, nil)
	tone := mediatest.Tone(8000, 0.2, 0.5, 200)
	plc.Good(tone)
	out := plc.Conceal(nil, 8000/10, nil) // 100 ms
	peak := func(x []int16) int {
		m := 0
		for _, v := range x {
			m = max(m, int(v), -int(v))
		}
		return m
	}
	if p := peak(out[:80]); p < 10000 {
		t.Errorf("first 10 ms of concealment peak %d: should continue the signal", p)
	}
	if p := peak(out[480:]); p != 0 {
		t.Errorf("after 60 ms the concealment still has peak %d", p)
	}
}

package audio_test

import (
	"bytes"
	"testing"

	"github.com/mrcpd/mrcpd/media/audio"
	"github.com/mrcpd/mrcpd/media/mediatest"
)

func TestWAVRoundTrip(t *testing.T) {
	pcm := mediatest.Sweep(16000, 0.1, 100, 4000, 0.5)
	var b bytes.Buffer
	if err := audio.WriteWAV(&b, pcm, 16000); err != nil {
		t.Fatal(err)
	}
	got, rate, err := audio.ReadWAV(bytes.NewReader(b.Bytes()))
	if err != nil || rate != 16000 || len(got) != len(pcm) || mediatest.SNR(pcm, got) < 200 {
		t.Fatalf("round trip: rate %d, %d samples, err %v", rate, len(got), err)
	}
	for _, bad := range [][]byte{nil, []byte("RIFF0000WAVX"), b.Bytes()[:30]} {
		if _, _, err := audio.ReadWAV(bytes.NewReader(bad)); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}

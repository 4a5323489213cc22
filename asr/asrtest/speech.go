package asrtest

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os/exec"
	"testing"

	"github.com/mrcpd/mrcpd/media/audio"
)

// Speak renders text with the espeak-ng program at test time and returns it at rate, with 300 ms
// of silence either side as a caller would leave. Tests that need it skip when espeak-ng is absent.
func Speak(t testing.TB, text string, rate int) []int16 {
	t.Helper()
	path, err := exec.LookPath("espeak-ng")
	if err != nil {
		t.Skip("espeak-ng not installed (make deps)")
	}
	out, err := exec.Command(path, "-v", "en-us", "-s", "150", "--stdout", text).Output()
	if err != nil {
		t.Fatalf("espeak-ng: %v", err)
	}
	pcm, inRate, err := parseWAV(out)
	if err != nil {
		t.Fatalf("espeak-ng output: %v", err)
	}
	speech := audio.NewResampler(inRate, rate).Process(nil, pcm)
	pad := make([]int16, rate*3/10)
	return append(append(append([]int16(nil), pad...), speech...), pad...)
}

// parseWAV reads 16-bit mono PCM WAV, tolerating the placeholder sizes a program writing to a
// pipe leaves in the header.
func parseWAV(b []byte) ([]int16, int, error) {
	if len(b) < 12 || string(b[:4]) != "RIFF" || string(b[8:12]) != "WAVE" {
		return nil, 0, errors.New("not a WAV file")
	}
	rate := 0
	for p := 12; p+8 <= len(b); {
		id, size := string(b[p:p+4]), int(binary.LittleEndian.Uint32(b[p+4:]))
		body := b[p+8:]
		switch id {
		case "fmt ":
			if len(body) < 16 || binary.LittleEndian.Uint16(body[2:]) != 1 || binary.LittleEndian.Uint16(body[14:]) != 16 {
				return nil, 0, errors.New("not 16-bit mono PCM")
			}
			rate = int(binary.LittleEndian.Uint32(body[4:]))
		case "data":
			if rate == 0 {
				return nil, 0, errors.New("data before fmt")
			}
			if size > len(body) {
				size = len(body)
			}
			pcm := make([]int16, size/2)
			if err := binary.Read(bytes.NewReader(body[:size&^1]), binary.LittleEndian, pcm); err != nil {
				return nil, 0, err
			}
			return pcm, rate, nil
		}
		p += 8 + size + size&1
	}
	return nil, 0, errors.New("no data chunk")
}

package audio

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/zaf/g711"
)

// ErrBadWAV is returned by ReadWAV for a file it cannot read; the wrapped error says why.
var ErrBadWAV = errors.New("audio: unsupported or malformed WAV")

// ReadWAV reads a RIFF/WAVE file of 16-bit PCM, 8-bit µ-law or A-law; several channels are mixed down
// to mono.
func ReadWAV(r io.Reader) (pcm []int16, rate int, err error) {
	var hdr [12]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, 0, fmt.Errorf("%w: %w", ErrBadWAV, err)
	}
	if string(hdr[0:4]) != "RIFF" || string(hdr[8:12]) != "WAVE" {
		return nil, 0, fmt.Errorf("%w: not RIFF/WAVE", ErrBadWAV)
	}
	var format, channels, bits uint16
	haveFmt := false
	for {
		var ch [8]byte
		if _, err := io.ReadFull(r, ch[:]); err != nil {
			return nil, 0, fmt.Errorf("%w: no data chunk: %w", ErrBadWAV, err)
		}
		size := binary.LittleEndian.Uint32(ch[4:])
		id := string(ch[:4])
		switch {
		case id == "fmt ":
			if size < 16 || size > 1<<16 {
				return nil, 0, fmt.Errorf("%w: fmt chunk of %d bytes", ErrBadWAV, size)
			}
			b := make([]byte, (size+1)&^1)
			if _, err := io.ReadFull(r, b); err != nil {
				return nil, 0, fmt.Errorf("%w: %w", ErrBadWAV, err)
			}
			format = binary.LittleEndian.Uint16(b[0:])
			channels = binary.LittleEndian.Uint16(b[2:])
			rate = int(binary.LittleEndian.Uint32(b[4:]))
			bits = binary.LittleEndian.Uint16(b[14:])
			if format == 0xfffe && size >= 26 { // WAVE_FORMAT_EXTENSIBLE: the sub-format's first word
				format = binary.LittleEndian.Uint16(b[24:])
			}
			haveFmt = true
		case id == "data":
			if !haveFmt {
				return nil, 0, fmt.Errorf("%w: data before fmt", ErrBadWAV)
			}
			pcm, err = readWAVData(io.LimitReader(r, int64(size)), format, channels, bits)
			return pcm, rate, err
		default:
			if _, err := io.CopyN(io.Discard, r, int64((size+1)&^1)); err != nil {
				return nil, 0, fmt.Errorf("%w: %w", ErrBadWAV, err)
			}
		}
	}
}

func readWAVData(r io.Reader, format, channels, bits uint16) ([]int16, error) {
	if channels == 0 {
		return nil, fmt.Errorf("%w: no channels", ErrBadWAV)
	}
	var dec func([]byte) int16
	width := 1
	switch {
	case format == 1 && bits == 16:
		width = 2
		dec = func(b []byte) int16 { return int16(binary.LittleEndian.Uint16(b)) }
	case format == 7 && bits == 8:
		dec = func(b []byte) int16 { return g711.DecodeUlawFrame(b[0]) }
	case format == 6 && bits == 8:
		dec = func(b []byte) int16 { return g711.DecodeAlawFrame(b[0]) }
	default:
		return nil, fmt.Errorf("%w: format %d with %d bits", ErrBadWAV, format, bits)
	}
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadWAV, err)
	}
	step := width * int(channels)
	pcm := make([]int16, 0, len(data)/step)
	for i := 0; i+step <= len(data); i += step {
		var sum int
		for c := 0; c < int(channels); c++ {
			sum += int(dec(data[i+c*width:]))
		}
		pcm = append(pcm, int16(sum/int(channels)))
	}
	return pcm, nil
}

// WriteWAV writes mono 16-bit PCM as a canonical 44-byte-header WAVE file.
func WriteWAV(w io.Writer, pcm []int16, rate int) error {
	b := AppendWAVHeader(make([]byte, 0, WAVHeaderSize+2*len(pcm)), rate, int64(len(pcm)))
	for _, s := range pcm {
		b = binary.LittleEndian.AppendUint16(b, uint16(s))
	}
	_, err := w.Write(b)
	return err
}

// WAVHeaderSize is the length of the canonical header AppendWAVHeader writes.
const WAVHeaderSize = 44

// AppendWAVHeader appends the canonical header of a mono 16-bit PCM WAVE file of samples samples;
// a file written as audio arrives rewrites it as the count grows.
func AppendWAVHeader(b []byte, rate int, samples int64) []byte {
	n := uint32(2 * samples)
	b = append(b, "RIFF"...)
	b = binary.LittleEndian.AppendUint32(b, 36+n)
	b = append(b, "WAVEfmt "...)
	b = binary.LittleEndian.AppendUint32(b, 16)
	b = binary.LittleEndian.AppendUint16(b, 1) // PCM
	b = binary.LittleEndian.AppendUint16(b, 1) // mono
	b = binary.LittleEndian.AppendUint32(b, uint32(rate))
	b = binary.LittleEndian.AppendUint32(b, uint32(rate*2))
	b = binary.LittleEndian.AppendUint16(b, 2)
	b = binary.LittleEndian.AppendUint16(b, 16)
	b = append(b, "data"...)
	return binary.LittleEndian.AppendUint32(b, n)
}

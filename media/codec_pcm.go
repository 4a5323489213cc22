package media

import (
	"encoding/binary"
	"fmt"

	"github.com/zaf/g711"
)

func init() {
	registerCodec(g711Codec{name: "PCMU", pt: 0}, 10)
	registerCodec(g711Codec{name: "PCMA", pt: 8}, 20)
	registerCodec(l16Codec{rate: 16000, pt: 98}, 50)
	registerCodec(l16Codec{rate: 8000, pt: 97}, 51)
	registerCodec(l16Codec{rate: 32000, pt: 99}, 52)
	registerCodec(l16Codec{rate: 48000, pt: 100}, 53)
}

// g711Codec is ITU-T G.711 µ-law (PCMU) or A-law (PCMA), RFC 3551 §4.5.14, via zaf/g711's
// per-sample tables so that the hot path does not allocate.
type g711Codec struct {
	name string
	pt   uint8
}

func (c g711Codec) Format() Format {
	return Format{PT: c.pt, Name: c.name, ClockRate: 8000, Channels: 1}
}
func (c g711Codec) SampleRate() int { return 8000 }
func (c g711Codec) NewDecoder(Format) (Decoder, error) {
	if c.name == "PCMU" {
		return ulawCodec{}, nil
	}
	return alawCodec{}, nil
}
func (c g711Codec) NewEncoder(Format) (Encoder, error) {
	if c.name == "PCMU" {
		return ulawCodec{}, nil
	}
	return alawCodec{}, nil
}

type ulawCodec struct{}

func (ulawCodec) Decode(dst []int16, p []byte) ([]int16, error) {
	for _, b := range p {
		dst = append(dst, g711.DecodeUlawFrame(b))
	}
	return dst, nil
}

func (ulawCodec) Encode(dst []byte, pcm []int16) ([]byte, error) {
	for _, s := range pcm {
		dst = append(dst, g711.EncodeUlawFrame(s))
	}
	return dst, nil
}

type alawCodec struct{}

func (alawCodec) Decode(dst []int16, p []byte) ([]int16, error) {
	for _, b := range p {
		dst = append(dst, g711.DecodeAlawFrame(b))
	}
	return dst, nil
}

func (alawCodec) Encode(dst []byte, pcm []int16) ([]byte, error) {
	for _, s := range pcm {
		dst = append(dst, g711.EncodeAlawFrame(s))
	}
	return dst, nil
}

// l16Codec is 16-bit linear PCM in network byte order, RFC 3551 §4.5.11, mono.
type l16Codec struct {
	rate int
	pt   uint8
}

func (c l16Codec) Format() Format {
	return Format{PT: c.pt, Name: "L16", ClockRate: c.rate, Channels: 1}
}
func (c l16Codec) SampleRate() int                    { return c.rate }
func (c l16Codec) NewDecoder(Format) (Decoder, error) { return l16{}, nil }
func (c l16Codec) NewEncoder(Format) (Encoder, error) { return l16{}, nil }

type l16 struct{}

func (l16) Decode(dst []int16, p []byte) ([]int16, error) {
	if len(p)%2 != 0 {
		return dst, fmt.Errorf("%w: L16 payload of odd length %d", ErrMalformedPacket, len(p))
	}
	for i := 0; i+1 < len(p); i += 2 {
		dst = append(dst, int16(binary.BigEndian.Uint16(p[i:])))
	}
	return dst, nil
}

func (l16) Encode(dst []byte, pcm []int16) ([]byte, error) {
	for _, s := range pcm {
		dst = binary.BigEndian.AppendUint16(dst, uint16(s))
	}
	return dst, nil
}

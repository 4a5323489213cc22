//go:build cgo && !noopus

package media

// Opus (RFC 6716) over RTP (RFC 7587: always signalled opus/48000/2), through libopus via cgo. The build
// tag keeps a pure-Go build (CGO_ENABLED=0, or -tags noopus) working: the codec simply is not registered.

import (
	"fmt"

	"gopkg.in/hraban/opus.v2"
)

func init() { registerCodec(opusCodec{}, 25) }

const opusRate = 48000

type opusCodec struct{}

func (opusCodec) Format() Format {
	return Format{PT: 111, Name: "opus", ClockRate: 48000, Channels: 2, Fmtp: "useinbandfec=1"}
}
func (opusCodec) SampleRate() int { return opusRate }

func (opusCodec) NewDecoder(Format) (Decoder, error) {
	d, err := opus.NewDecoder(opusRate, 1)
	if err != nil {
		return nil, fmt.Errorf("media: opus decoder: %w", err)
	}
	return &opusDecoder{d: d}, nil
}

func (opusCodec) NewEncoder(Format) (Encoder, error) {
	e, err := opus.NewEncoder(opusRate, 1, opus.AppVoIP)
	if err != nil {
		return nil, fmt.Errorf("media: opus encoder: %w", err)
	}
	// In-band FEC lets the receiver rebuild a lost packet from the next one (see opusDecoder.Conceal).
	if err := e.SetInBandFEC(true); err != nil {
		return nil, fmt.Errorf("media: opus FEC: %w", err)
	}
	if err := e.SetBitrate(32000); err != nil {
		return nil, fmt.Errorf("media: opus bitrate: %w", err)
	}
	if err := e.SetPacketLossPerc(5); err != nil {
		return nil, fmt.Errorf("media: opus loss: %w", err)
	}
	return &opusEncoder{e: e}, nil
}

const opusMaxFrame = opusRate * 120 / 1000 // the longest Opus packet

type opusDecoder struct{ d *opus.Decoder }

func (o *opusDecoder) Decode(dst []int16, p []byte) ([]int16, error) {
	n := len(dst)
	dst = grow(dst, opusMaxFrame)
	got, err := o.d.Decode(p, dst[n:n+opusMaxFrame])
	if err != nil {
		return dst[:n], fmt.Errorf("%w: opus: %w", ErrMalformedPacket, err)
	}
	return dst[:n+got], nil
}

// Conceal uses the decoder's own loss concealment, or the next packet's in-band FEC copy of the lost one.
func (o *opusDecoder) Conceal(dst []int16, samples int, fec []byte) ([]int16, error) {
	n := len(dst)
	samples -= samples % (opusRate / 400) // whole 2.5 ms units
	dst = grow(dst, samples)
	out := dst[n : n+samples]
	var err error
	if fec != nil {
		err = o.d.DecodeFEC(fec, out)
	}
	if fec == nil || err != nil {
		err = o.d.DecodePLC(out)
	}
	if err != nil {
		return dst[:n], fmt.Errorf("media: opus concealment: %w", err)
	}
	return dst[:n+samples], nil
}

type opusEncoder struct {
	e   *opus.Encoder
	buf [1500]byte
}

func (o *opusEncoder) Encode(dst []byte, pcm []int16) ([]byte, error) {
	n, err := o.e.Encode(pcm, o.buf[:])
	if err != nil {
		return dst, fmt.Errorf("media: opus encode: %w", err)
	}
	return append(dst, o.buf[:n]...), nil
}

// grow extends s by n elements without losing its contents, reusing capacity when it has it.
func grow(s []int16, n int) []int16 {
	if cap(s)-len(s) < n {
		s = append(s[:cap(s)], make([]int16, n-(cap(s)-len(s)))...)
		return s[:len(s)]
	}
	return s[:len(s)+n]
}

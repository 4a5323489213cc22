package media

import (
	"fmt"
	"sort"
	"strings"
)

// Format is one RTP payload format as negotiated in SDP; mrcp/sdp.Format is this type (media does not
// depend on the signalling packages, they depend on it).
type Format struct {
	PT        uint8
	Name      string
	ClockRate int
	Channels  int
	Fmtp      string
}

func (f Format) String() string { return fmt.Sprintf("%s/%d", f.Name, f.ClockRate) }

// IsTelephoneEvent reports whether f is RFC 4733 telephone-event.
func (f Format) IsTelephoneEvent() bool { return strings.EqualFold(f.Name, "telephone-event") }

// Codec is an audio codec that can be carried in RTP. Codecs register themselves (see registerCodec) so
// that optional ones such as Opus, which need cgo, drop out of a pure-Go build without a trace.
type Codec interface {
	// Format is the default SDP format: name, RTP clock rate, channels and the payload type offered.
	Format() Format
	// SampleRate is the PCM rate of decoded audio; it differs from the RTP clock rate for G.722 (RFC 3551
	// §4.5.2) and Opus.
	SampleRate() int
	NewDecoder(f Format) (Decoder, error)
	NewEncoder(f Format) (Encoder, error)
}

// Decoder turns one RTP payload into PCM at the codec's SampleRate, appending to dst.
type Decoder interface {
	Decode(dst []int16, payload []byte) ([]int16, error)
}

// Concealer is implemented by decoders that conceal losses themselves (Opus); the PLC stage uses it instead
// of waveform substitution. Conceal appends samples of synthetic audio for one lost packet; fec is the
// packet after the loss when present, so in-band FEC can recover the lost one.
type Concealer interface {
	Conceal(dst []int16, samples int, fec []byte) ([]int16, error)
}

// Encoder turns PCM at the codec's SampleRate into one RTP payload, appending to dst.
type Encoder interface {
	Encode(dst []byte, pcm []int16) ([]byte, error)
}

type codecEntry struct {
	codec Codec
	pref  int
}

// codecs is written only by init functions (registerCodec) and read-only afterwards.
var codecs = map[string]codecEntry{}

func codecKey(name string, clock int) string { return strings.ToLower(name) + "/" + fmt.Sprint(clock) }

// registerCodec is called from init functions only; pref orders SupportedFormats (lower first).
func registerCodec(c Codec, pref int) {
	f := c.Format()
	codecs[codecKey(f.Name, f.ClockRate)] = codecEntry{codec: c, pref: pref}
}

// TelephoneEvent is the default RFC 4733 format offered.
var telephoneEvent = Format{PT: 101, Name: "telephone-event", ClockRate: 8000, Channels: 1, Fmtp: "0-15"}

// SupportedFormats lists the built-in codecs in preference order followed by telephone-event.
func SupportedFormats() []Format {
	es := make([]codecEntry, 0, len(codecs))
	for _, e := range codecs {
		es = append(es, e)
	}
	sort.Slice(es, func(i, j int) bool { return es[i].pref < es[j].pref })
	out := make([]Format, 0, len(es)+1)
	for _, e := range es {
		out = append(out, e.codec.Format())
	}
	return append(out, telephoneEvent)
}

// LookupCodec finds the built-in codec for a negotiated format (name case-insensitive, clock rate exact).
func LookupCodec(f Format) (Codec, error) {
	e, ok := codecs[codecKey(f.Name, f.ClockRate)]
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrUnsupportedFormat, f)
	}
	if ch := e.codec.Format().Channels; f.Channels > 1 && f.Channels != ch {
		return nil, fmt.Errorf("%w: %s with %d channels", ErrUnsupportedFormat, f, f.Channels)
	}
	return e.codec, nil
}

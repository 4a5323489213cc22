//go:build cgo && !noopus

package media_test

import (
	"testing"

	"github.com/mrcpd/mrcpd/media"
	"github.com/mrcpd/mrcpd/media/mediatest"
)

var opusFmt = media.Format{PT: 111, Name: "opus", ClockRate: 48000, Channels: 2}

// BenchmarkOpusDecode is the cost of decoding one 20 ms Opus packet (48 kHz mono, 32 kbit/s VoIP).
func BenchmarkOpusDecode(b *testing.B) {
	c, err := media.LookupCodec(opusFmt)
	if err != nil {
		b.Fatal(err)
	}
	enc, _ := c.NewEncoder(opusFmt)
	dec, _ := c.NewDecoder(opusFmt)
	pcm := mediatest.Sweep(48000, 1, 200, 3400, 0.3)
	var pkts [][]byte
	for i := 0; i+960 <= len(pcm); i += 960 {
		p, err := enc.Encode(nil, pcm[i:i+960])
		if err != nil {
			b.Fatal(err)
		}
		pkts = append(pkts, p)
	}
	out := make([]int16, 0, 5760)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := dec.Decode(out[:0], pkts[i%len(pkts)]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkOpusConceal is one 20 ms packet of decoder-side concealment (no FEC).
func BenchmarkOpusConceal(b *testing.B) {
	c, _ := media.LookupCodec(opusFmt)
	dec, _ := c.NewDecoder(opusFmt)
	conc := dec.(media.Concealer)
	out := make([]int16, 0, 5760)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := conc.Conceal(out[:0], 960, nil); err != nil {
			b.Fatal(err)
		}
	}
}

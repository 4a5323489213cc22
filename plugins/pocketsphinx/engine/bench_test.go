package engine

import (
	"context"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mrcpd/mrcpd/asr"
	"github.com/mrcpd/mrcpd/plugins/pocketsphinx/speechset"
)

// BenchmarkRecognize measures one whole recognition (stream, final, phone-loop confidence) of a
// telephone utterance and reports the real-time factor (CPU-bound wall time / audio time).
func BenchmarkRecognize(b *testing.B) {
	cases := []struct {
		name string
		set  string
		text string
		g    []asr.Grammar
	}{
		{"boolean", speechset.Boolean, "yes", []asr.Grammar{{ID: "b", URI: "builtin:grammar/boolean", Mode: "voice"}}},
		{"menu", speechset.Menu, "technical support", []asr.Grammar{fixtureMenu(b)}},
		{"digits", speechset.Digits, "", []asr.Grammar{{ID: "d", URI: "builtin:grammar/digits?length=4", Mode: "voice"}}},
		{"dictation", speechset.Dictation, "", nil},
	}
	e := newTestEngine(b, DefaultConfig())
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			var u speechset.Utterance
			for _, x := range speech(b) {
				if x.Set == c.set && (c.text == "" || x.Text == c.text) && x.Voice.Synth == "flite" {
					u = x
					break
				}
			}
			pcm := upsample(u.PCM)
			audio := time.Duration(len(u.PCM)) * time.Second / speechset.Rate
			b.ResetTimer()
			start := time.Now()
			for i := 0; i < b.N; i++ {
				if _, err := recognize(context.Background(), e, asr.RecognizeRequest{NBest: 1, Grammars: c.g}, pcm); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(time.Since(start).Seconds()/float64(b.N)/audio.Seconds(), "xRT")
		})
	}
}

// BenchmarkDecoderMemory reports the resident memory one more decoder costs: what each
// concurrent stream adds (grammar decoders carry only their grammars' words).
func BenchmarkDecoderMemory(b *testing.B) {
	cfg := DefaultConfig()
	e := newTestEngine(b, cfg)
	for _, full := range []bool{false, true} {
		name := "grammar"
		if full {
			name = "dictation"
		}
		b.Run(name, func(b *testing.B) {
			var total int64
			for i := 0; i < b.N; i++ {
				before := rss(b)
				d, err := e.pool.create(full)
				if err != nil {
					b.Fatal(err)
				}
				if !full {
					if err := d.addWords(phoneWords); err != nil {
						b.Fatal(err)
					}
				}
				total += rss(b) - before
				d.free()
			}
			b.ReportMetric(float64(total)/float64(b.N)/(1<<20), "MB/decoder")
		})
	}
}

func rss(b *testing.B) int64 {
	s, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		b.Skip(err)
	}
	f := strings.Fields(string(s))
	pages, _ := strconv.ParseInt(f[1], 10, 64)
	return pages * int64(os.Getpagesize())
}

package engine

import (
	"context"
	"fmt"
	"os"
	"sort"
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
	e := newTestEngine(b, adaptedConfig(b))
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

// BenchmarkFinalizeLatency measures what the caller waits after speaking: the time from
// FinalizeInput to Final (the CMN rescan, further grammars, phone-loop confidence), over the
// telephone test utterances of each grammar set (2-4 s), and reports its median and 95th
// percentile. Audio is sent as fast as the stream takes it, so the time also covers the few
// batches (at most the stream's 8-batch queue, ~160 ms of audio) still queued at FinalizeInput.
func BenchmarkFinalizeLatency(b *testing.B) {
	e := newTestEngine(b, adaptedConfig(b))
	for _, c := range []struct {
		set string
		g   asr.Grammar
	}{
		{speechset.Boolean, asr.Grammar{ID: "b", URI: "builtin:grammar/boolean", Mode: "voice"}},
		{speechset.Menu, fixtureMenu(b)},
		{speechset.Digits, asr.Grammar{ID: "d", URI: "builtin:grammar/digits?length=4", Mode: "voice"}},
	} {
		b.Run(c.set, func(b *testing.B) {
			var pcms [][]int16
			for _, u := range speech(b) {
				if u.Set == c.set {
					pcms = append(pcms, upsample(u.PCM))
				}
			}
			req := asr.RecognizeRequest{NBest: 1, SampleRate: 16000, Grammars: []asr.Grammar{c.g}}
			lat := make([]float64, 0, b.N)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				d, err := finalizeLatency(e, req, pcms[i%len(pcms)])
				if err != nil {
					b.Fatal(err)
				}
				lat = append(lat, float64(d)/float64(time.Millisecond))
			}
			sort.Float64s(lat)
			b.ReportMetric(lat[len(lat)/2], "p50-ms")
			b.ReportMetric(lat[min(len(lat)-1, len(lat)*95/100)], "p95-ms")
		})
	}
}

// finalizeLatency streams pcm and returns the time from FinalizeInput to Final.
func finalizeLatency(e *Engine, req asr.RecognizeRequest, pcm []int16) (time.Duration, error) {
	st, err := e.Recognize(context.Background(), req)
	if err != nil {
		return 0, err
	}
	defer st.Close()
	sent := make(chan time.Time, 1)
	errc := make(chan error, 1)
	go func() {
		for i := 0; i < len(pcm); i += 320 {
			if err := st.Send(&asr.Audio{PCM: pcm[i:min(i+320, len(pcm))]}); err != nil {
				errc <- err
				return
			}
		}
		sent <- time.Now()
		errc <- st.Send(&asr.FinalizeInput{})
	}()
	for {
		ev, err := st.Recv()
		if err != nil {
			if e := <-errc; e != nil {
				return 0, e
			}
			return 0, fmt.Errorf("stream ended without Final: %w", err)
		}
		if _, ok := ev.(*asr.Final); ok {
			return time.Since(<-sent), <-errc
		}
	}
}

// BenchmarkDecoderMemory reports the resident memory one more decoder costs: what each
// concurrent stream adds (grammar decoders carry only their grammars' words).
func BenchmarkDecoderMemory(b *testing.B) {
	cfg := DefaultConfig()
	e := newTestEngine(b, cfg)
	for _, kind := range []decoderKind{grammarDecoder, dictationDecoder} {
		name := "grammar"
		if kind == dictationDecoder {
			name = "dictation"
		}
		b.Run(name, func(b *testing.B) {
			var total int64
			for i := 0; i < b.N; i++ {
				before := rss(b)
				d, err := e.pool.create(kind)
				if err != nil {
					b.Fatal(err)
				}
				if kind != dictationDecoder {
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

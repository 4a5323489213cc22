package main

import (
	"bufio"
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/mrcpd/mrcpd/mrcp/client"
)

// BenchmarkSpeakFirstAudio: one-sentence SPEAKs through the real mrcpd and the espeak-ng plugin
// process; reports the server's own measure, mrcpd_speak_first_audio_seconds (start of synthesis
// to first audio handed to the RTP pacer; target 50 ms), as its mean and the bucket bound under
// which every SPEAK fell.
//
//	go test -run '^$' -bench SpeakFirstAudio -benchtime 20x ./cmd/mrcpd/
func BenchmarkSpeakFirstAudio(b *testing.B) {
	d := startMrcpd(b, speechConfig(b, EnginesConfig{Plugins: []PluginConfig{espeakPlugin(b)}}))
	ctx := context.Background()
	c := d.newClient(b)
	s, err := c.Open(ctx, "speechsynth")
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close(ctx)
	for b.Loop() {
		r, err := s.Speak(ctx, client.SpeakRequest{Text: "Thank you for calling. How can I help you today?"})
		if err != nil {
			b.Fatalf("%v\n%s", err, d.log)
		}
		if !strings.HasPrefix(r.Cause, "000") {
			b.Fatalf("SPEAK-COMPLETE %s", r.Cause)
		}
	}
	h := scrapeHistogram(b, d, "mrcpd_speak_first_audio_seconds")
	if h.count == 0 {
		b.Fatal("no first-audio observation")
	}
	b.ReportMetric(1000*h.sum/h.count, "first-audio-ms")
	b.ReportMetric(1000*h.allUnder, "all-under-ms")
}

type histogram struct{ sum, count, allUnder float64 }

// scrapeHistogram reads one histogram from mrcpd's /metrics (Prometheus text format).
func scrapeHistogram(t testing.TB, d *daemonProc, name string) histogram {
	t.Helper()
	resp, err := http.Get("http://" + d.http + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var h histogram
	type bucket struct{ le, n float64 }
	var buckets []bucket // in increasing le, before _sum and _count
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		key, val, ok := strings.Cut(sc.Text(), " ")
		v, err := strconv.ParseFloat(val, 64)
		if !ok || err != nil || !strings.HasPrefix(key, name) {
			continue
		}
		switch {
		case key == name+"_sum":
			h.sum = v
		case key == name+"_count":
			h.count = v
		case strings.HasPrefix(key, name+`_bucket{le="`):
			le, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimPrefix(key, name+`_bucket{le="`), `"}`), 64)
			if err == nil {
				buckets = append(buckets, bucket{le, v})
			}
		}
	}
	for _, bk := range buckets {
		if bk.n == h.count {
			h.allUnder = bk.le
			break
		}
	}
	return h
}

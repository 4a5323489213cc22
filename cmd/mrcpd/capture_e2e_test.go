package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mrcpd/mrcpd/media/audio"
	"github.com/mrcpd/mrcpd/mrcp"
	"github.com/mrcpd/mrcpd/mrcp/client"
)

var waveformURIRE = regexp.MustCompile(`^<(http://[^>]+)>;size=(\d+);duration=(\d+)$`)

// TestE2ESaveWaveform: a RECOGNIZE with Save-Waveform: true through the real mrcpd and client
// (RTP, G.711, jitter buffer, VAD, the built-in noop engine). The WAV served at Waveform-URI holds
// the chirp the client sent, within µ-law's error; size and duration match the file; the detail
// record names the URI.
func TestE2ESaveWaveform(t *testing.T) {
	recs := filepath.Join(t.TempDir(), "records.jsonl")
	d := startMrcpd(t, fmt.Sprintf("engines:\n  recognizer: noop\nrecords:\n  path: %s\n", recs))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := client.New(client.Config{Server: d.sip, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s, err := c.Open(ctx, "speechrecog")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(ctx)
	sent := chirp(8000, time.Second)
	// Half a second of line noise first: mrcpd's VAD learns the noise floor from the first frames.
	input := append(make([]int16, 4000), sent...)
	res, err := s.Recognize(ctx, client.RecognizeRequest{Grammar: "builtin:grammar/boolean", Audio: input,
		Headers: []mrcp.Field{{Name: mrcp.HeaderSaveWaveform, Value: "true"}}})
	if err != nil {
		t.Fatalf("%v\n%s", err, d.log)
	}
	u := waveformURIRE.FindStringSubmatch(res.Complete.Header.Value(mrcp.HeaderWaveformURI))
	if res.Cause != "001 no-match" || u == nil {
		t.Fatalf("cause %q, Waveform-URI %q\n%s", res.Cause, res.Complete.Header.Value(mrcp.HeaderWaveformURI), d.log)
	}
	if !strings.HasPrefix(u[1], "http://"+d.http+"/waveforms/") {
		t.Fatalf("Waveform-URI %s is not on mrcpd's HTTP endpoint %s", u[1], d.http)
	}
	resp, err := http.Get(u[1])
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "audio/wav" || strconv.Itoa(len(body)) != u[2] {
		t.Fatalf("GET %s: %d %s, %d bytes (size=%s)", u[1], resp.StatusCode, resp.Header.Get("Content-Type"), len(body), u[2])
	}
	got, rate, err := audio.ReadWAV(bytes.NewReader(body))
	if err != nil || rate != 8000 || strconv.Itoa(len(got)/8) != u[3] {
		t.Fatalf("WAV: %v, rate %d, %d samples (duration=%s ms)", err, rate, len(got), u[3])
	}
	at, snr := align(got, sent)
	t.Logf("chirp found at sample %d of %d, SNR %.1f dB", at, len(got), snr)
	if snr < 30 { // µ-law keeps a full-scale tone near 38 dB
		t.Fatalf("the captured audio is not what was sent: SNR %.1f dB at offset %d", snr, at)
	}
	b, err := os.ReadFile(recs)
	if err != nil {
		t.Fatal(err)
	}
	var rd map[string]any
	if err := json.Unmarshal(bytes.TrimSpace(b), &rd); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
	if rd["waveform_uri"] != u[1] || rd["completion_cause"] != "001 no-match" || rd["engine"] != "default" {
		t.Fatalf("record %s", b)
	}
}

// chirp is a sweep from 300 to 3000 Hz at half scale: it correlates with itself at one offset only.
func chirp(rate int, d time.Duration) []int16 {
	n := int(int64(rate) * int64(d) / int64(time.Second))
	pcm := make([]int16, n)
	for i := range pcm {
		x := float64(i) / float64(rate)
		f := 300 + 2700*x/d.Seconds()/2 // phase integral of a linear sweep
		pcm[i] = int16(16000 * math.Sin(2*math.Pi*f*x))
	}
	return pcm
}

// align finds where sent lies in got and returns that offset and the signal-to-error ratio there.
func align(got, sent []int16) (int, float64) {
	best, at := math.Inf(-1), 0
	for off := 0; off+len(sent) <= len(got); off++ {
		var dot float64
		for i := 0; i < len(sent); i += 4 {
			dot += float64(got[off+i]) * float64(sent[i])
		}
		if dot > best {
			best, at = dot, off
		}
	}
	var sig, noise float64
	for i, v := range sent {
		e := float64(got[at+i]) - float64(v)
		sig += float64(v) * float64(v)
		noise += e * e
	}
	return at, 10 * math.Log10(sig/max(noise, 1))
}

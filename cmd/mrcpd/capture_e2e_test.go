package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
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
	c := d.newClient(t)
	s, err := c.Open(ctx, "speechrecog")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(ctx)
	sent := chirp(8000, time.Second)
	// Half a second of line noise first: mrcpd's VAD learns the noise floor from the first frames.
	input := append(make([]int16, 4000), sent...)
	res, err := s.Recognize(ctx, client.RecognizeRequest{Grammar: "builtin:grammar/boolean", Audio: input,
		Headers: []mrcp.Field{{Name: mrcp.HeaderSaveWaveform, Value: "true"},
			// The recording is what is checked, not endpointing: a client starved on a loaded
			// machine pauses, which must not end the utterance in the middle of the chirp (a CI-like
			// run recorded 11 frames too few so).
			{Name: mrcp.HeaderSpeechCompleteTimeout, Value: "3000"},
			{Name: mrcp.HeaderSpeechIncompleteTimeout, Value: "3000"}}})
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
	// Every 20 ms of the chirp is in the file within µ-law's error (a full-scale tone keeps about
	// 38 dB), except packets mrcpd reports it had to conceal or drop (a loaded machine delays the
	// client's pacer): those it filled in, it says so in the record.
	rtp := rd["rtp"].(map[string]any)
	concealed := int(rtp["lost"].(float64) + rtp["late"].(float64) + rtp["shed"].(float64))
	at, bad, worst := align(got, sent)
	t.Logf("chirp at sample %d of %d; %d of %d frames off (mrcpd concealed or dropped %d packets); worst kept frame %.1f dB",
		at, len(got), bad, len(sent)/160, concealed, worst)
	if bad > concealed {
		t.Fatalf("%d frames of the chirp differ from what was sent, more than the %d packets mrcpd concealed", bad, concealed)
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

// align finds where sent lies in got, then checks it 20 ms at a time (each frame may have moved
// by up to a frame, as a jitter buffer realigns): the frames below 30 dB signal-to-error, and
// the worst ratio among the others.
func align(got, sent []int16) (at, bad int, worst float64) {
	at = bestOffset(got, sent, 0, len(got)-len(sent), 4)
	worst = math.Inf(1)
	// Each frame is looked for within a frame of where the previous one ended: an underrun (the
	// client's pacer late on a loaded machine) holds mrcpd's playout point and delays the rest of
	// the chirp by a frame, which is not a changed frame.
	pos := at
	for i := 0; i+160 <= len(sent); i += 160 {
		f := sent[i : i+160]
		off := bestOffset(got, f, max(pos-160, 0), min(pos+160, len(got)-160), 1)
		pos += 160
		var sig, noise float64
		for j, v := range f {
			e := float64(got[off+j]) - float64(v)
			sig += float64(v) * float64(v)
			noise += e * e
		}
		snr := 10 * math.Log10(sig/max(noise, 1))
		if snr < 30 {
			bad++
		} else {
			worst = min(worst, snr)
			pos = off + 160
		}
	}
	return at, bad, worst
}

// bestOffset is the offset in [lo, hi] where got correlates most with x (every step-th sample).
func bestOffset(got, x []int16, lo, hi, step int) int {
	best, at := math.Inf(-1), lo
	for off := lo; off <= hi; off++ {
		var dot float64
		for i := 0; i < len(x); i += step {
			dot += float64(got[off+i]) * float64(x[i])
		}
		if dot > best {
			best, at = dot, off
		}
	}
	return at
}

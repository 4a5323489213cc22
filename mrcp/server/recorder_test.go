package server

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mrcpd/mrcpd/mrcp"
)

var recordURI = regexp.MustCompile(`^<file://([^>]+)>;size=(\d+);duration=(\d+)$`)

// checkRecording verifies that Record-URI names a WAV file inside dir with the audio.
func checkRecording(t *testing.T, m *mrcp.Message, dir string, samples int) {
	t.Helper()
	u := recordURI.FindStringSubmatch(m.Header.Value(mrcp.HeaderRecordURI))
	if u == nil {
		t.Fatalf("Record-URI %q", m.Header.Value(mrcp.HeaderRecordURI))
	}
	abs, _ := filepath.Abs(dir)
	if filepath.Dir(u[1]) != abs {
		t.Fatalf("recording %s is not in %s", u[1], abs)
	}
	st, err := os.Stat(u[1])
	if err != nil {
		t.Fatal(err)
	}
	if st.Size() != int64(44+2*samples) {
		t.Fatalf("file has %d bytes, want %d", st.Size(), 44+2*samples)
	}
}

func TestRecord(t *testing.T) {
	dir := t.TempDir()
	h := newHarness(t, func(c *Config) {
		c.RecorderDir = dir
		c.NewEndpointer = func(int, float64) Endpointer { return &loudVAD{} }
	})
	body := strings.Replace(string(sdpBody(t, modRecogInvite)), "speechrecog", "recorder", 1)
	ids, _ := h.offer("call-1", []byte(body))
	ch := ids[0]
	cl := h.dial()
	record := func(id uint32, hdr ...string) {
		m := mrcp.NewRequest(mrcp.MethodRecord, id, ch)
		for i := 0; i+1 < len(hdr); i += 2 {
			m.Header.Set(hdr[i], hdr[i+1])
		}
		cl.send(m)
		if r := cl.next(); r.StatusCode != 200 || r.State != mrcp.StateInProgress {
			t.Fatalf("RECORD: %d %s", r.StatusCode, r.State)
		}
	}
	sink := h.media.receiver(t, 0)

	// Max-Time (§10.4.6).
	record(1, mrcp.HeaderMaxTime, "1000")
	for range 5 {
		sink.Audio(frame(0))
	}
	cl.send(mrcp.NewRequest(mrcp.MethodGetParams, 2, ch)) // the frames are in before time moves
	cl.next()
	h.clock.Advance(time.Second)
	m := cl.next()
	if m.Name != mrcp.EventRecordComplete || m.Header.Value(mrcp.HeaderCompletionCause) != "001 success-maxtime" {
		t.Fatalf("got %s %s", m.Name, m.Header.Value(mrcp.HeaderCompletionCause))
	}
	checkRecording(t, m, dir, 5*160)

	// Capture-On-Speech and Final-Silence (§10.4.7-8): silence before speech is not kept.
	record(3, mrcp.HeaderCaptureOnSpeech, "true", mrcp.HeaderFinalSilence, "500")
	sink.Audio(frame(0))
	sink.Audio(frame(2000))
	if m := cl.next(); m.Name != mrcp.EventStartOfInput || m.RequestID != 3 {
		t.Fatalf("want START-OF-INPUT, got %s", m.Name)
	}
	sink.Audio(frame(0))
	cl.send(mrcp.NewRequest(mrcp.MethodGetParams, 4, ch))
	cl.next()
	h.clock.Advance(500 * time.Millisecond)
	m = cl.next()
	if m.Header.Value(mrcp.HeaderCompletionCause) != "000 success-silence" {
		t.Fatalf("got %s %s", m.Name, m.Header.Value(mrcp.HeaderCompletionCause))
	}
	checkRecording(t, m, dir, 2*160)

	// STOP (§10.6): Record-URI in the response, no RECORD-COMPLETE.
	record(5)
	sink.Audio(frame(0))
	cl.send(mrcp.NewRequest(mrcp.MethodStop, 6, ch))
	m = cl.next()
	if m.RequestID != 6 || m.Header.Value(mrcp.HeaderActiveRequestIDList) != "5" {
		t.Fatalf("STOP: %d %v", m.RequestID, m.Header.Fields)
	}
	checkRecording(t, m, dir, 160)
	cl.send(mrcp.NewRequest(mrcp.MethodGetParams, 7, ch))
	if m := cl.next(); m.RequestID != 7 {
		t.Fatalf("a stopped RECORD sent %s", m.Name)
	}

	// Only audio/wav is written (409), and a second RECORD while recording is 402.
	bad := mrcp.NewRequest(mrcp.MethodRecord, 8, ch)
	bad.Header.Set(mrcp.HeaderMediaType, "audio/ogg")
	cl.send(bad)
	if m := cl.next(); m.StatusCode != 409 {
		t.Fatalf("Media-Type audio/ogg: %d", m.StatusCode)
	}
	record(9)
	cl.send(mrcp.NewRequest(mrcp.MethodRecord, 10, ch))
	if m := cl.next(); m.StatusCode != 402 {
		t.Fatalf("RECORD while recording: %d", m.StatusCode)
	}
}

package server

import (
	"github.com/mrcpd/mrcpd/media"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mrcpd/mrcpd/mrcp"
	"github.com/mrcpd/mrcpd/mrcp/capture"
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
		c.NewEndpointer = func(int, float64) media.Detector { return &loudVAD{} }
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

// recorderCall opens a recorder session and starts RECORD 1 (no Max-Time: §10.4.6, none).
func recorderCall(t *testing.T, mod func(*Config)) (*harness, *client, string, *fakeStream) {
	h := newHarness(t, mod)
	body := strings.Replace(string(sdpBody(t, modRecogInvite)), "speechrecog", "recorder", 1)
	ids, _ := h.offer("call-1", []byte(body))
	cl := h.dial()
	cl.send(mrcp.NewRequest(mrcp.MethodRecord, 1, ids[0]))
	if r := cl.next(); r.StatusCode != 200 || r.State != mrcp.StateInProgress {
		t.Fatalf("RECORD: %d %s", r.StatusCode, r.State)
	}
	return h, cl, ids[0], h.media.receiver(t, 0)
}

// waitFileSize waits until the file at path holds n bytes: a recording is written on its own
// goroutine, a moment after the worker hands it the frames.
func waitFileSize(t *testing.T, path string, n int64) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		st, err := os.Stat(path)
		if err == nil && st.Size() >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s on disk: %v %v, want %d bytes", path, st, err, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// sync waits until the session handled every frame sent before it.
func (cl *client) sync(ch string, id uint32) {
	cl.t.Helper()
	cl.send(mrcp.NewRequest(mrcp.MethodGetParams, id, ch))
	if m := cl.next(); m.RequestID != id {
		cl.t.Fatalf("got %s %d", m.Name, m.RequestID)
	}
}

// TestRecordStreamsToDisk: the recording is on disk while it runs (issue 12 §7: it was held in
// memory until the end), and a BYE keeps it: RECORD-COMPLETE still reaches the client.
func TestRecordStreamsToDisk(t *testing.T) {
	dir := t.TempDir()
	h, cl, ch, sink := recorderCall(t, func(c *Config) { c.RecorderDir = dir })
	for range 60 { // 1.2 s: past the first flush
		sink.Audio(frame(100))
	}
	cl.sync(ch, 2)
	sid, _, _ := strings.Cut(ch, "@")
	path := filepath.Join(dir, sid+"-1.wav")
	waitFileSize(t, path, 44+2*8000)
	sink.Audio(frame(100))
	cl.sync(ch, 3)
	h.srv.Ended("call-1", "BYE")
	m := cl.next()
	if m.Name != mrcp.EventRecordComplete || m.Header.Value(mrcp.HeaderCompletionCause) != "000 success-silence" {
		t.Fatalf("got %s %s", m.Name, m.Header.Value(mrcp.HeaderCompletionCause))
	}
	checkRecording(t, m, dir, 61*160)
}

// TestRecordKeptOnConnectionLoss: the control connection goes; the session ends after the grace
// period and the recording is complete on disk.
func TestRecordKeptOnConnectionLoss(t *testing.T) {
	dir := t.TempDir()
	h, cl, ch, sink := recorderCall(t, func(c *Config) { c.RecorderDir = dir })
	for range 3 {
		sink.Audio(frame(100))
	}
	cl.sync(ch, 2)
	cl.c.Close()
	waitTimers(t, h.clock, 3) // connect, No-Input-Timeout, then the grace period
	h.clock.Advance(connLossGrace)
	select {
	case <-h.hangup.byes:
	case <-time.After(5 * time.Second):
		t.Fatal("no BYE after the control connection was lost")
	}
	waitSessions(t, h, 0)
	sid, _, _ := strings.Cut(ch, "@")
	if st, err := os.Stat(filepath.Join(dir, sid+"-1.wav")); err != nil || st.Size() != 44+3*320 {
		t.Fatalf("recording after connection loss: %v %v", st, err)
	}
}

// TestRecordQuota: the recorder's directory has a quota; the recording that reaches it ends with
// 004 error and keeps what fit, and the next RECORD is refused with 407.
func TestRecordQuota(t *testing.T) {
	dir := t.TempDir()
	st, err := capture.Open(capture.Config{Dir: dir, MaxBytes: 44 + 4*320})
	if err != nil {
		t.Fatal(err)
	}
	_, cl, ch, sink := recorderCall(t, func(c *Config) { c.Recordings = st })
	for range 6 {
		sink.Audio(frame(100))
	}
	m := cl.next()
	if m.Name != mrcp.EventRecordComplete || m.Header.Value(mrcp.HeaderCompletionCause) != "004 error" ||
		!strings.Contains(m.Header.Value(mrcp.HeaderCompletionReason), "quota") {
		t.Fatalf("got %s %v", m.Name, m.Header.Fields)
	}
	checkRecording(t, m, dir, 4*160)
	cl.send(mrcp.NewRequest(mrcp.MethodRecord, 2, ch))
	if m := cl.next(); m.StatusCode != 407 {
		t.Fatalf("RECORD over quota: %d", m.StatusCode)
	}
}

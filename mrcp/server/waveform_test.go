package server

import (
	"os"
	"regexp"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/mrcpd/mrcpd/media/audio"
	"github.com/mrcpd/mrcpd/mrcp"
	"github.com/mrcpd/mrcpd/mrcp/capture"
)

var waveformURI = regexp.MustCompile(`^<http://mrcpd\.test/waveforms/([0-9a-f]{32}\.wav)>;size=(\d+);duration=(\d+)$`)

// TestSaveWaveform: RECOGNITION-COMPLETE carries Waveform-URI with size and duration (§9.4.8),
// and the file holds every frame the recognizer heard, silence before speech included (§9.4.22:
// "without endpointing"); the file stays until the session ends, then retention may take it.
func TestSaveWaveform(t *testing.T) {
	st, err := capture.Open(capture.Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	h, path := recordsHarness(t, "yes", func(c *Config) {
		c.Waveforms, c.WaveformURL = st, "http://mrcpd.test/waveforms/"
	})
	ids, _ := h.offer("call-wave", sdpBody(t, modRecogInvite))
	cl := h.dial()
	cl.send(recognize(1, ids[0], mrcp.HeaderSaveWaveform, "true"))
	cl.next()
	sink := h.media.receiver(t, 0)
	var sent []int16
	for _, v := range []int16{0, 0, 3000, 3000, 2000, 0} {
		f := frame(v)
		f[1] = int16(len(sent)) // frames tell apart
		sent = append(sent, f...)
		sink.Audio(f)
	}
	if m := cl.next(); m.Name != mrcp.EventStartOfInput {
		t.Fatalf("got %s", m.Name)
	}
	waitTimers(t, h.clock, 3)
	h.clock.Advance(800 * time.Millisecond)
	m := cl.next()
	u := waveformURI.FindStringSubmatch(m.Header.Value(mrcp.HeaderWaveformURI))
	if m.Name != mrcp.EventRecognitionComplete || u == nil {
		t.Fatalf("%s Waveform-URI %q", m.Name, m.Header.Value(mrcp.HeaderWaveformURI))
	}
	f, err := os.Open(st.Path(u[1]))
	if err != nil {
		t.Fatal(err)
	}
	got, rate, err := audio.ReadWAV(f)
	f.Close()
	if err != nil || rate != 8000 || !slices.Equal(got, sent) {
		t.Fatalf("file: %v, rate %d, %d samples; want the %d sent", err, rate, len(got), len(sent))
	}
	if u[2] != strconv.Itoa(44+2*len(sent)) || u[3] != "120" {
		t.Fatalf("size %s duration %s", u[2], u[3])
	}
	if rd := lastRecord(t, path); rd["waveform_uri"] != "http://mrcpd.test/waveforms/"+u[1] {
		t.Fatalf("record waveform_uri %v", rd["waveform_uri"])
	}
}

// TestSaveWaveformRefused: Media-Type other than WAV is 409 (§9.4.9); without a store the URI is
// empty (§9.4.22: the audio is not available); a stopped recognition leaves no file behind.
func TestSaveWaveformRefused(t *testing.T) {
	h, _ := recordsHarness(t, "yes", nil)
	ids, _ := h.offer("call-nowave", sdpBody(t, modRecogInvite))
	cl := h.dial()
	cl.send(recognize(1, ids[0], mrcp.HeaderSaveWaveform, "true", mrcp.HeaderMediaType, "audio/ogg"))
	if m := cl.next(); m.StatusCode != 409 || m.Header.Value(mrcp.HeaderMediaType) != "audio/ogg" {
		t.Fatalf("Media-Type audio/ogg: %d %v", m.StatusCode, m.Header.Fields)
	}
	cl.send(recognize(2, ids[0], mrcp.HeaderSaveWaveform, "true"))
	cl.next()
	m := speakAndComplete(t, h, cl)
	if v, ok := m.Header.Get(mrcp.HeaderWaveformURI); !ok || v != "" {
		t.Fatalf("Waveform-URI without a store: %q present %v", v, ok)
	}
}

func TestSaveWaveformStopped(t *testing.T) {
	dir := t.TempDir()
	st, _ := capture.Open(capture.Config{Dir: dir})
	h, _ := recordsHarness(t, "yes", func(c *Config) { c.Waveforms = st })
	ids, _ := h.offer("call-stop", sdpBody(t, modRecogInvite))
	cl := h.dial()
	cl.send(recognize(1, ids[0], mrcp.HeaderSaveWaveform, "true"))
	cl.next()
	h.media.receiver(t, 0).Audio(frame(0))
	cl.send(mrcp.NewRequest(mrcp.MethodStop, 2, ids[0]))
	cl.next()
	if des, _ := os.ReadDir(dir); len(des) != 0 || st.Bytes() != 0 {
		t.Fatalf("a stopped recognition left %d files, %d bytes", len(des), st.Bytes())
	}
}

// TestInputWaveformURI: a RECOGNIZE whose Input-Waveform-URI (§9.4.10) is a Waveform-URI this
// server handed out hears that file, paced like RTP and then silence, instead of the line; a URI
// of anything else is refused with 404 and never fetched or read.
func TestInputWaveformURI(t *testing.T) {
	st, _ := capture.Open(capture.Config{Dir: t.TempDir()})
	h, path := recordsHarness(t, "yes", func(c *Config) {
		c.Waveforms, c.WaveformURL = st, "http://mrcpd.test/waveforms/"
	})
	ids, _ := h.offer("call-input", sdpBody(t, modRecogInvite))
	cl := h.dial()
	for i, bad := range []string{"http://mrcpd.test/waveforms/00000000000000000000000000000000.wav",
		"http://mrcpd.test/waveforms/../records.jsonl", "http://169.254.169.254/latest.wav",
		"file:///etc/passwd", "file://" + path, "https://evil.example/x.wav"} {
		cl.send(recognize(uint32(i+1), ids[0], mrcp.HeaderInputWaveformURI, bad))
		if m := cl.next(); m.StatusCode != 404 || m.Header.Value(mrcp.HeaderInputWaveformURI) != bad {
			t.Fatalf("Input-Waveform-URI %s: %d %v", bad, m.StatusCode, m.Header.Fields)
		}
	}
	w, _ := st.Create(capture.NewName(), 8000, "")
	var stored []int16
	for _, v := range []int16{0, 0, 3000, 3000, 3000, 0} {
		f := frame(v)
		f[1] = int16(len(stored))
		stored = append(stored, f...)
	}
	w.Write(stored)
	w.Close()
	uri := "http://mrcpd.test/waveforms/" + w.Name()
	cl.send(recognize(10, ids[0], mrcp.HeaderInputWaveformURI, uri, mrcp.HeaderSaveWaveform, "true"))
	if m := cl.next(); m.StatusCode != 200 {
		t.Fatalf("RECOGNIZE: %d %v", m.StatusCode, m.Header.Fields)
	}
	h.media.receiver(t, 0).Audio(frame(9999)) // the line is not heard meanwhile
	var m *mrcp.Message
	for i := 0; m == nil || m.Name != mrcp.EventRecognitionComplete; i++ {
		if i > 200 {
			t.Fatal("no RECOGNITION-COMPLETE")
		}
		waitTimers(t, h.clock, 2)
		h.clock.Advance(inputFrame)
		select {
		case m = <-cl.msgs:
		case <-time.After(20 * time.Millisecond):
		}
	}
	if m.Header.Value(mrcp.HeaderCompletionCause) != "000 success" {
		t.Fatalf("got %s", m.Header.Value(mrcp.HeaderCompletionCause))
	}
	u := waveformURI.FindStringSubmatch(m.Header.Value(mrcp.HeaderWaveformURI))
	f, _ := os.Open(st.Path(u[1]))
	heard, _, _ := audio.ReadWAV(f)
	f.Close()
	if len(heard) < len(stored) || !slices.Equal(heard[:len(stored)], stored) {
		t.Fatalf("the recognizer heard %d samples, not the stored file first", len(heard))
	}
	if rd := lastRecord(t, path); rd["input_waveform_uri"] != uri {
		t.Fatalf("record input_waveform_uri %v", rd["input_waveform_uri"])
	}
}

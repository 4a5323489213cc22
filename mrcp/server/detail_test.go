package server

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mrcpd/mrcpd/media"
	"github.com/mrcpd/mrcpd/mrcp"
	"github.com/mrcpd/mrcpd/mrcp/records"
)

// recordsHarness is a server writing detail records to a file, with a voice engine answering
// text and mrcpd's endpointer replaced by loudVAD.
func recordsHarness(t *testing.T, text string, mod func(*Config)) (*harness, string) {
	path := filepath.Join(t.TempDir(), "records.jsonl")

	w, err := records.Open(records.Config{Path: path}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	h := newHarness(t, func(c *Config) {
		c.Backends.Recognizer = &holdRecognizer{text: text}
		c.NewEndpointer = func(int, float64) media.Detector { return &loudVAD{} }
		c.Records = w
		if mod != nil {
			mod(c)
		}
	})
	return h, path
}

// lastRecord is the last line of the records file (written before the completion event is sent).
func lastRecord(t *testing.T, path string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	var m map[string]any
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &m); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
	return m
}

func recognize(id uint32, ch string, hdr ...string) *mrcp.Message {
	m := mrcp.NewRequest(mrcp.MethodRecognize, id, ch)
	m.Header.Set(mrcp.HeaderContentType, "text/uri-list")
	for i := 0; i+1 < len(hdr); i += 2 {
		m.Header.Set(hdr[i], hdr[i+1])
	}
	m.Body = []byte("builtin:grammar/boolean")
	return m
}

// speakAndComplete sends 100 ms of speech and 20 ms of silence, then lets Speech-Complete-Timeout
// (800 ms) expire: the engine is asked for its Final.
func speakAndComplete(t *testing.T, h *harness, cl *client) *mrcp.Message {
	t.Helper()
	sink := h.media.receiver(t, 0)
	for range 5 {
		sink.Audio(frame(3000))
	}
	if m := cl.next(); m.Name != mrcp.EventStartOfInput {
		t.Fatalf("got %s", m.Name)
	}
	h.clock.Advance(100 * time.Millisecond)
	sink.Audio(frame(0))
	waitTimers(t, h.clock, 3) // connect, Recognition-Timeout, Speech-Complete-Timeout
	h.clock.Advance(800 * time.Millisecond)
	return cl.next()
}

func checkFields(t *testing.T, rd map[string]any, want map[string]any) {
	t.Helper()
	for k, v := range want {
		got, ok := rd[k]
		switch v {
		case "present":
			if !ok {
				t.Errorf("%s missing", k)
			}
		case nil:
			if ok {
				t.Errorf("%s = %v, want none", k, got)
			}
		default:
			b1, _ := json.Marshal(got)
			b2, _ := json.Marshal(v)
			if string(b1) != string(b2) {
				t.Errorf("%s = %s, want %s", k, b1, b2)
			}
		}
	}
}

// TestRecordSuccess: a spoken "yes" against builtin:grammar/boolean.
func TestRecordSuccess(t *testing.T) {
	h, path := recordsHarness(t, "yes", nil)
	ids, _ := h.offer("call-rec", sdpBody(t, modRecogInvite))
	cl := h.dial()
	cl.send(recognize(1, ids[0]))
	cl.next()
	cl.send(mrcp.NewRequest(mrcp.MethodGetParams, 2, ids[0])) // the engine stream is open once answered
	cl.next()
	h.clock.Advance(30 * time.Millisecond)
	if m := speakAndComplete(t, h, cl); m.Header.Value(mrcp.HeaderCompletionCause) != "000 success" {
		t.Fatalf("got %s %s", m.Name, m.Header.Value(mrcp.HeaderCompletionCause))
	}
	rd := lastRecord(t, path)
	checkFields(t, rd, map[string]any{"kind": "recognize", "call_id": "call-rec", "channel": ids[0],
		"request_id": 1, "client": "127.0.0.1", "engine": "default", "ended": "complete",
		"completion_cause": "000 success", "grammars": []string{"builtin:grammar/boolean"},
		"text": "yes", "instance": "true", "confidence": 0.9, "mode": "speech",
		"setup_ms": 0, "first_audio_ms": 30, "speech_end_to_complete_ms": 800, "duration_ms": 930,
		"rtp": map[string]any{"received": 42, "lost": 1, "late": 0, "reordered": 0, "duplicated": 0,
			"malformed": 0, "shed": 0, "jitter_ms": 3}})
	if _, err := time.Parse(time.RFC3339Nano, rd["time"].(string)); err != nil {
		t.Errorf("time: %v", err)
	}
}

// TestRecordNoMatch: the engine's only answer is below Confidence-Threshold.
func TestRecordNoMatch(t *testing.T) {
	h, path := recordsHarness(t, "yes", nil)
	ids, _ := h.offer("call-nm", sdpBody(t, modRecogInvite))
	cl := h.dial()
	cl.send(recognize(1, ids[0], mrcp.HeaderConfidenceThreshold, "0.95"))
	cl.next()
	if m := speakAndComplete(t, h, cl); m.Header.Value(mrcp.HeaderCompletionCause) != "001 no-match" {
		t.Fatalf("got %s %s", m.Name, m.Header.Value(mrcp.HeaderCompletionCause))
	}
	checkFields(t, lastRecord(t, path), map[string]any{"ended": "complete", "completion_cause": "001 no-match",
		"text": nil, "instance": nil, "confidence": nil, "first_audio_ms": 0, "speech_end_to_complete_ms": 800,
		"setup_ms": "present"})
}

// TestRecordNoInput: nothing heard before No-Input-Timeout; a DTMF grammar is matched here, by
// the "dtmf" engine.
func TestRecordNoInput(t *testing.T) {
	h, path := recordsHarness(t, "", nil)
	ids, _ := h.offer("call-ni", sdpBody(t, modRecogInvite))
	cl := h.dial()
	m := recognize(1, ids[0], mrcp.HeaderNoInputTimeout, "2000")
	m.Body = []byte("builtin:dtmf/digits?length=4")
	cl.send(m)
	cl.next()
	waitTimers(t, h.clock, 2)
	h.clock.Advance(2 * time.Second)
	if m := cl.next(); m.Header.Value(mrcp.HeaderCompletionCause) != "002 no-input-timeout" {
		t.Fatalf("got %s %s", m.Name, m.Header.Value(mrcp.HeaderCompletionCause))
	}
	checkFields(t, lastRecord(t, path), map[string]any{"ended": "complete", "completion_cause": "002 no-input-timeout",
		"engine": "dtmf", "grammars": []string{"builtin:dtmf/digits?length=4"}, "text": nil, "first_audio_ms": nil,
		"speech_end_to_complete_ms": nil, "setup_ms": nil, "duration_ms": 2000})
}

// TestRecordStopAndSpeak: a stopped RECOGNIZE is recorded without a cause; a SPEAK with its time
// to first audio.
func TestRecordStopAndSpeak(t *testing.T) {
	h, path := recordsHarness(t, "", func(c *Config) { c.Backends.Synthesizer = &toneSynth{chunks: 3} })
	ids, _ := h.offer("call-st", sdpBody(t, modRecogInvite))
	cl := h.dial()
	cl.send(recognize(1, ids[0]))
	cl.next()
	cl.send(mrcp.NewRequest(mrcp.MethodStop, 2, ids[0]))
	cl.next()
	checkFields(t, lastRecord(t, path), map[string]any{"ended": "stop", "completion_cause": nil, "request_id": 1})

	sids, _ := h.offer("call-sp", sdpBody(t, modSynthInvite))
	sp := mrcp.NewRequest(mrcp.MethodSpeak, 3, sids[0])
	sp.Header.Set(mrcp.HeaderContentType, "text/plain")
	sp.Body = []byte("hello")
	cl.send(sp)
	cl.next()
	waitTimers(t, h.clock, 3)
	h.clock.Advance(20 * time.Millisecond)
	if m := cl.next(); m.Name != mrcp.EventSpeakComplete {
		t.Fatalf("got %s", m.Name)
	}
	checkFields(t, lastRecord(t, path), map[string]any{"kind": "speak", "call_id": "call-sp", "ended": "complete",
		"completion_cause": "000 normal", "engine": "default", "voice": "default", "first_audio_ms": 0,
		"duration_ms": 20})
}

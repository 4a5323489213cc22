package server

import (
	"context"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mrcpd/mrcpd/mrcp"
)

// blockSession holds the session of s's stream on its goroutine until release is called (or the
// test ends).
func blockSession(t *testing.T, s *fakeStream) (release func()) {
	t.Helper()
	se := s.cfg.Events.(*digitEvents).se
	held, free := make(chan struct{}), make(chan struct{})
	go func() {
		_ = se.call(context.Background(), func() error {
			close(held)
			<-free
			return nil
		})
	}()
	<-held
	release = sync.OnceFunc(func() { close(free) })
	t.Cleanup(release) // before the harness's own cleanup, which waits for the session
	return release
}

// framesOnly runs frames through the taps as the worker does, without waiting for the session.
func (s *fakeStream) framesOnly(n int, pcm []int16) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		for _, t := range s.taps {
			t.Frame(pcm)
		}
	}
}

// TestFramesBypassTheSession: the recognizer's engine gets the stream's frames while the session
// goroutine is busy (issue 10: frames go from the media worker to the engine writer, the session
// hears events only).
func TestFramesBypassTheSession(t *testing.T) {
	var be *captureRecognizer
	h := newHarness(t, func(c *Config) {
		be = newCaptureRecognizer(c.Clock, "yes", false)
		c.Backends.Recognizer = be
	})
	ids, _ := h.offer("call-1", sdpBody(t, modRecogInvite))
	cl := h.dial()
	m := mrcp.NewRequest(mrcp.MethodRecognize, 1, ids[0])
	m.Header.Set(mrcp.HeaderContentType, "text/uri-list")
	m.Body = []byte("builtin:grammar/boolean\r\n")
	cl.send(m)
	if r := cl.next(); r.StatusCode != 200 || r.State != mrcp.StateInProgress {
		t.Fatalf("RECOGNIZE: %d %s", r.StatusCode, r.State)
	}
	<-be.reqs
	sink := h.media.receiver(t, 0)
	sink.settle()
	blockSession(t, sink)
	sink.framesOnly(3, frame(7))
	for i := range 3 {
		select {
		case f := <-be.frames:
			if f[0] != 7 {
				t.Fatalf("frame %d: %v", i, f[:4])
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("frame %d did not reach the engine while the session was busy", i)
		}
	}
}

// TestRecordBypassesTheSession: a recording's frames reach its file while the session goroutine
// is busy: neither the worker nor the session writes the file.
func TestRecordBypassesTheSession(t *testing.T) {
	dir := t.TempDir()
	_, cl, ch, sink := recorderCall(t, func(c *Config) { c.RecorderDir = dir })
	release := blockSession(t, sink)
	sink.framesOnly(60, frame(100)) // 1.2 s: past the writer's first flush
	sid, _, _ := strings.Cut(ch, "@")
	waitFileSize(t, filepath.Join(dir, sid+"-1.wav"), 44+2*8000)
	release()
	cl.sync(ch, 2)
}

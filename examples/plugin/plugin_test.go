package main

import (
	"context"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/mrcpd/mrcpd/asr"
	"github.com/mrcpd/mrcpd/asr/asrtest"
	"github.com/mrcpd/mrcpd/asr/plugin"
)

// TestConformance builds this example and runs mrcpd's conformance suite against the process,
// exactly as a third-party author would.
func TestConformance(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "example-plugin")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	h, err := plugin.Start(context.Background(), plugin.HostConfig{Name: "example", Path: bin,
		Settings: map[string]string{"threshold": "400"}, MinBackoff: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	asrtest.RunRecognizer(t, func(*testing.T) asr.Recognizer { return h.Recognizer() }, asrtest.Options{
		SampleRate: 8000,
		Utterance:  "hello world",
		Expect:     "speech",
		Crash:      func(t *testing.T) { syscall.Kill(h.PIDs()[0], syscall.SIGKILL) },
	})
}

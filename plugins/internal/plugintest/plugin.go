// Package plugintest holds the test helpers the in-tree vendor and synthesizer plugins share:
// starting a plugin binary under the real host, collecting a recognition's events, and the
// recognition and first-audio benchmarks, so that each plugin's tests measure the same thing.
package plugintest

import (
	"context"
	"syscall"
	"testing"
	"time"

	"github.com/mrcpd/mrcpd/asr"
	"github.com/mrcpd/mrcpd/asr/asrtest"
	"github.com/mrcpd/mrcpd/asr/plugin"
	"github.com/mrcpd/mrcpd/asr/testkit"
)

// hostConfig is how mrcpd starts the binary built from plugins/<name>; pool 0 is the host's default.
func hostConfig(t testing.TB, name string, pool int, settings map[string]string) plugin.HostConfig {
	return plugin.HostConfig{Name: name, Path: testkit.Binary(t, "plugins/"+name), Pool: pool, Settings: settings,
		MinBackoff: 20 * time.Millisecond}
}

// Start runs the real plugin binary under the real host, closed when the test ends.
func Start(t testing.TB, name string, pool int, settings map[string]string) *plugin.Host {
	t.Helper()
	h, err := plugin.Start(context.Background(), hostConfig(t, name, pool, settings))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

// Crash kills every process of the plugin, for the conformance suites' crash case.
func Crash(h *plugin.Host) func(*testing.T) {
	return func(*testing.T) {
		for _, pid := range h.PIDs() {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// RecognizerConformance runs the conformance suite, including a crash of the plugin process,
// against the plugin binary talking to its vendor's stand-in (settings point it there).
func RecognizerConformance(t *testing.T, name string, settings map[string]string, phrase string) {
	h := Start(t, name, 0, settings)
	asrtest.RunRecognizer(t, func(*testing.T) asr.Recognizer { return h.Recognizer() }, asrtest.Options{
		Utterance: phrase, Expect: phrase, Crash: Crash(h),
	})
}

// SynthesizerConformance runs the synthesizer conformance suite, including a crash, against pool
// processes of the plugin binary.
func SynthesizerConformance(t *testing.T, name string, pool int, settings map[string]string) {
	h := Start(t, name, pool, settings)
	asrtest.RunSynthesizer(t, func(*testing.T) asr.Synthesizer { return h.Synthesizer() }, asrtest.SynthOptions{
		Crash: Crash(h),
	})
}

// RejectsSettings checks that the plugin refuses to start with settings (a misspelt key) and logs
// the error naming it.
func RejectsSettings(t *testing.T, name string, settings map[string]string) {
	t.Helper()
	h, err := plugin.Start(context.Background(), hostConfig(t, name, 0, settings))
	if err == nil {
		h.Close()
		t.Fatal("plugin started with an unknown setting")
	}
	t.Log(err)
}

package main

import (
	"context"
	"syscall"
	"testing"
	"time"

	"github.com/mrcpd/mrcpd/asr"
	"github.com/mrcpd/mrcpd/asr/asrtest"
	"github.com/mrcpd/mrcpd/asr/plugin"
	"github.com/mrcpd/mrcpd/mrcp/mrcptest"
	"github.com/mrcpd/mrcpd/plugins/deepgram/deepgramtest"
)

// The real plugin binary, started by the real host exactly as mrcpd starts it, talking WebSocket to the
// stand-in, through the conformance suite including a crash of the plugin process.
func TestPluginConformance(t *testing.T) {
	const phrase = "what is my balance"
	_, ep := deepgramtest.Start(t, deepgramtest.Script{Transcript: phrase})
	h, err := plugin.Start(context.Background(), plugin.HostConfig{Name: "deepgram", Path: mrcptest.Binary(t, "plugins/deepgram"),
		Settings: deepgramtest.PluginSettings(ep), MinBackoff: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	asrtest.RunRecognizer(t, func(*testing.T) asr.Recognizer { return h.Recognizer() }, asrtest.Options{
		Utterance: phrase, Expect: phrase,
		Crash: func(t *testing.T) {
			for _, pid := range h.PIDs() {
				syscall.Kill(pid, syscall.SIGKILL)
			}
		},
	})
}

// A misspelt setting stops the plugin at start with an error naming it.
func TestPluginRejectsBadSettings(t *testing.T) {
	h, err := plugin.Start(context.Background(), plugin.HostConfig{Name: "deepgram", Path: mrcptest.Binary(t, "plugins/deepgram"),
		Settings: map[string]string{"api-key": "k", "endpiont": "ws://127.0.0.1:1/v1/listen"}, MinBackoff: 20 * time.Millisecond})
	if err == nil {
		h.Close()
		t.Fatal("plugin started with an unknown setting")
	}
	t.Log(err)
}

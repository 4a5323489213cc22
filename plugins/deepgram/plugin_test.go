package main

import (
	"testing"

	"github.com/mrcpd/mrcpd/plugins/deepgram/deepgramtest"
	"github.com/mrcpd/mrcpd/plugins/internal/plugintest"
)

// The real plugin binary, started by the real host exactly as mrcpd starts it, talking WebSocket to the
// stand-in, through the conformance suite including a crash of the plugin process.
func TestPluginConformance(t *testing.T) {
	const phrase = "what is my balance"
	_, ep := deepgramtest.Start(t, deepgramtest.Script{Transcript: phrase})
	plugintest.RecognizerConformance(t, "deepgram", deepgramtest.PluginSettings(ep), phrase)
}

// A misspelt setting stops the plugin at start with an error naming it.
func TestPluginRejectsBadSettings(t *testing.T) {
	plugintest.RejectsSettings(t, "deepgram", map[string]string{"api-key": "k", "endpiont": "ws://127.0.0.1:1/v1/listen"})
}

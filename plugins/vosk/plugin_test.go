package main

import (
	"testing"

	"github.com/mrcpd/mrcpd/plugins/internal/plugintest"
	"github.com/mrcpd/mrcpd/plugins/vosk/vosktest"
)

// The real plugin binary, started by the real host exactly as mrcpd starts it, talking WebSocket to the
// stand-in, through the conformance suite including a crash of the plugin process.
func TestPluginConformance(t *testing.T) {
	const phrase = "what is my balance"
	_, ep := vosktest.Start(t, vosktest.Script{Transcript: phrase})
	plugintest.RecognizerConformance(t, "vosk", vosktest.PluginSettings(ep), phrase)
}

// A misspelt setting stops the plugin at start with an error naming it.
func TestPluginRejectsBadSettings(t *testing.T) {
	plugintest.RejectsSettings(t, "vosk", map[string]string{"endpiont": "ws://127.0.0.1:1"})
}

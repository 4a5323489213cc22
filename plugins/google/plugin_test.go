package main

import (
	"testing"

	"github.com/mrcpd/mrcpd/plugins/google/googletest"
	"github.com/mrcpd/mrcpd/plugins/internal/plugintest"
)

// The real plugin binary, started by the real host exactly as mrcpd starts it, talking gRPC to the
// stand-in, through the conformance suite including a crash of the plugin process.
func TestPluginConformance(t *testing.T) {
	const phrase = "what is my balance"
	_, ep := googletest.Start(t, googletest.Script{Transcript: phrase})
	plugintest.RecognizerConformance(t, "google", googletest.PluginSettings(ep), phrase)
}

// A misspelt setting stops the plugin at start with an error naming it.
func TestPluginRejectsBadSettings(t *testing.T) {
	plugintest.RejectsSettings(t, "google", map[string]string{"endpiont": "127.0.0.1:1"})
}

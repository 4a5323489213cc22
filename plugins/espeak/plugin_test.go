package main

import (
	"testing"

	"github.com/mrcpd/mrcpd/plugins/internal/plugintest"
)

var pluginSettings = map[string]string{"voice": "en-us"}

// The real plugin process, two of them for concurrency, through the conformance suite.
func TestConformance(t *testing.T) {
	plugintest.SynthesizerConformance(t, "espeak", 2, pluginSettings)
}

// BenchmarkFirstAudioPlugin is SPEAK-to-first-audio through the plugin boundary, the number the
// 50 ms target is about.
func BenchmarkFirstAudioPlugin(b *testing.B) {
	h := plugintest.Start(b, "espeak", 1, pluginSettings)
	plugintest.BenchFirstAudio(b, h.Synthesizer(), nil)
}

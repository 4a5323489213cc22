// Command noop is the no-op recognizer (asr/noop) as a plugin process: with mrcpd's built-in
// "noop" it measures what the plugin boundary costs under mrcpd's real load (BenchmarkRecognize500
// in cmd/mrcpd), and it load-tests mrcpd's media path without an engine's cost.
package main

import (
	"fmt"
	"log/slog"

	"github.com/mrcpd/mrcpd/asr/noop"
	"github.com/mrcpd/mrcpd/asr/plugin"
)

func main() {
	plugin.Main(func(settings map[string]string, _ *slog.Logger) (plugin.ServeConfig, error) {
		if len(settings) > 0 {
			return plugin.ServeConfig{}, fmt.Errorf("noop: takes no settings, got %d", len(settings))
		}
		return plugin.ServeConfig{Recognizer: noop.Recognizer{}}, nil
	})
}

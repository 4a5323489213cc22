// Command noop is the no-op recognizer (asr/noop) as a plugin process: with mrcpd's built-in
// "noop" it measures what the plugin boundary costs under mrcpd's real load (BenchmarkRecognize500
// in cmd/mrcpd), and it load-tests mrcpd's media path without an engine's cost.
package main

import (
	"fmt"
	"os"

	"github.com/mrcpd/mrcpd/asr/noop"
	"github.com/mrcpd/mrcpd/asr/plugin"
)

func main() {
	log := plugin.NewLogger()
	settings, err := plugin.Settings()
	if err == nil && len(settings) > 0 {
		err = fmt.Errorf("noop: takes no settings, got %d", len(settings))
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	plugin.Serve(plugin.ServeConfig{Recognizer: noop.Recognizer{}, Logger: log})
}

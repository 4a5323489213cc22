// Command espeak is mrcpd's espeak-ng synthesizer plugin. mrcpd starts it; run by hand it only says
// that it is a plugin.
package main

import (
	"fmt"
	"os"

	"github.com/mrcpd/mrcpd/asr/plugin"
)

func main() {
	log := plugin.NewLogger()
	settings, err := plugin.Settings()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	eng, err := NewEngine(configFromSettings(settings), log)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	plugin.Serve(plugin.ServeConfig{Synthesizer: eng, Logger: log})
}

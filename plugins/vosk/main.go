// Command vosk is mrcpd's Vosk (vosk-server) recognizer plugin. mrcpd starts it; run by hand it
// only says that it is a plugin. See README.md for its settings.
package main

import (
	"fmt"
	"os"

	"github.com/mrcpd/mrcpd/asr/plugin"
	"github.com/mrcpd/mrcpd/plugins/vosk/engine"
)

func main() {
	log := plugin.NewLogger()
	settings, err := plugin.Settings()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	eng, err := engine.New(settings, log)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	plugin.Serve(plugin.ServeConfig{Recognizer: eng, Logger: log})
}

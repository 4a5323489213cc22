// Command google is mrcpd's Google Cloud Speech-to-Text recognizer plugin. mrcpd starts it; run by
// hand it only says that it is a plugin. See README.md for its settings.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/mrcpd/mrcpd/asr/plugin"
	"github.com/mrcpd/mrcpd/plugins/google/engine"
)

func main() {
	log := plugin.NewLogger()
	settings, err := plugin.Settings()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	eng, err := engine.New(context.Background(), settings, log)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer eng.Close()
	plugin.Serve(plugin.ServeConfig{Recognizer: eng, Logger: log})
}

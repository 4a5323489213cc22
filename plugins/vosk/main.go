// Command vosk is mrcpd's Vosk (vosk-server) recognizer plugin. mrcpd starts it; run by hand it
// only says that it is a plugin. See README.md for its settings.
package main

import (
	"log/slog"

	"github.com/mrcpd/mrcpd/asr/plugin"
	"github.com/mrcpd/mrcpd/plugins/vosk/engine"
)

func main() {
	plugin.Main(func(settings map[string]string, log *slog.Logger) (plugin.ServeConfig, error) {
		eng, err := engine.New(settings, log)
		return plugin.ServeConfig{Recognizer: eng}, err
	})
}

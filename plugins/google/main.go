// Command google is mrcpd's Google Cloud Speech-to-Text recognizer plugin. mrcpd starts it; run by
// hand it only says that it is a plugin. See README.md for its settings.
package main

import (
	"context"
	"log/slog"

	"github.com/mrcpd/mrcpd/asr/plugin"
	"github.com/mrcpd/mrcpd/plugins/google/engine"
)

func main() {
	plugin.Main(func(settings map[string]string, log *slog.Logger) (plugin.ServeConfig, error) {
		eng, err := engine.New(context.Background(), settings, log)
		return plugin.ServeConfig{Recognizer: eng}, err
	})
}

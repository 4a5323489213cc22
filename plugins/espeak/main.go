// Command espeak is mrcpd's espeak-ng synthesizer plugin. mrcpd starts it; run by hand it only says
// that it is a plugin.
package main

import (
	"log/slog"

	"github.com/mrcpd/mrcpd/asr/plugin"
)

func main() {
	plugin.Main(func(settings map[string]string, log *slog.Logger) (plugin.ServeConfig, error) {
		eng, err := NewEngine(configFromSettings(settings), log)
		return plugin.ServeConfig{Synthesizer: eng}, err
	})
}

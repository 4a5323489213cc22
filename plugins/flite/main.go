// Command flite is mrcpd's flite synthesizer plugin: a second vendor beside espeak, chosen by
// configuration or by Voice-Name (slt, kal, awb, rms).
package main

import (
	"log/slog"

	"github.com/mrcpd/mrcpd/asr/plugin"
)

func main() {
	plugin.Main(func(settings map[string]string, log *slog.Logger) (plugin.ServeConfig, error) {
		v := settings["voice"]
		if v == "" {
			v = "slt"
		}
		eng, err := NewEngine(v, log)
		return plugin.ServeConfig{Synthesizer: eng}, err
	})
}

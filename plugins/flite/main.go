// Command flite is mrcpd's flite synthesizer plugin: a second vendor beside espeak, chosen by
// configuration or by Voice-Name (slt, kal, awb, rms).
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
	v := settings["voice"]
	if v == "" {
		v = "slt"
	}
	eng, err := NewEngine(v, log)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	plugin.Serve(plugin.ServeConfig{Synthesizer: eng, Logger: log})
}

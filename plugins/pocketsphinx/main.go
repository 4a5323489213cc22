// Command pocketsphinx is mrcpd's speech recognizer plugin on CMU PocketSphinx (Debian's
// libpocketsphinx 0.8 and the en-us model). mrcpd starts it; run by hand it only says that it is a
// plugin. Settings (engines.plugins[].settings in the mrcpd config) are listed in README.md.
//
// "pocketsphinx adapt" estimates the telephone-channel transform the `mllr` setting loads; see
// adapt.go and README.md.
package main

import (
	"fmt"
	"log/slog"
	"os"

	"github.com/mrcpd/mrcpd/asr/plugin"
	"github.com/mrcpd/mrcpd/plugins/pocketsphinx/engine"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "adapt" {
		if err := adaptMain(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	}
	plugin.Main(func(settings map[string]string, log *slog.Logger) (plugin.ServeConfig, error) {
		cfg, err := engine.FromSettings(settings)
		if err != nil {
			return plugin.ServeConfig{}, err
		}
		cfg.Logger = log
		eng, err := engine.New(cfg)
		return plugin.ServeConfig{Recognizer: eng}, err
	})
}

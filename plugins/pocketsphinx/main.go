// Command pocketsphinx is mrcpd's speech recognizer plugin on CMU PocketSphinx (Debian's
// libpocketsphinx 0.8 and the en-us model). mrcpd starts it; run by hand it only says that it is a
// plugin. Settings (engines.plugins[].settings in the mrcpd config) are listed in README.md.
//
// "pocketsphinx adapt" estimates the telephone-channel transform the `mllr` setting loads; see
// adapt.go and README.md.
package main

import (
	"fmt"
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
	log := plugin.NewLogger()
	settings, err := plugin.Settings()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	cfg, err := engine.FromSettings(settings)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	cfg.Logger = log
	eng, err := engine.New(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer eng.Close()
	plugin.Serve(plugin.ServeConfig{Recognizer: eng, Logger: log})
}

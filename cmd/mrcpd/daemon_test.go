package main

import (
	"context"
	"log/slog"
	"strings"
	"testing"
)

// A plugin that cannot start stops mrcpd with an error naming the plugin and the path tried. (A
// program that exits instead of serving is not a case here: go-plugin v1.7.0 races on its own
// client state then.)
func TestPluginStartFailureNamed(t *testing.T) {
	for _, tc := range []struct {
		name, path string
		want       []string
	}{
		{"missing", "/nonexistent/bin/plugins/asr1", []string{"engines.plugins asr1 (path /nonexistent/bin/plugins/asr1)", "make build"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.SIP.Addr, cfg.MRCP.Addr, cfg.HTTP.Addr = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
			cfg.Engines.Plugins = []PluginConfig{{Name: "asr1", Kind: "recognizer", Path: tc.path}}
			d, err := newDaemon(context.Background(), cfg, "", slog.New(slog.DiscardHandler))
			if err == nil {
				d.close()
				t.Fatal("started")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

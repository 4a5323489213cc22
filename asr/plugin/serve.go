package plugin

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/hashicorp/go-hclog"
	goplugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/mrcpd/mrcpd/asr"
)

// ServeConfig is what a plugin binary serves. Either or both backends may be set.
type ServeConfig struct {
	Recognizer  asr.Recognizer
	Synthesizer asr.Synthesizer
	// Logger receives go-plugin's own messages; nil means NewLogger().
	Logger *slog.Logger

	codec *codec // the server's, when Serve built it
}

// Serve runs the plugin protocol on behalf of a plugin binary's main and returns only when the host
// tells the plugin to exit (it then exits the process). Run by hand, the binary says it is a plugin
// and exits 1.
func Serve(cfg ServeConfig) {
	log := cfg.Logger
	if log == nil {
		log = NewLogger()
	}
	watchLifeline(log)
	c := newCodec()
	cfg.codec = c
	goplugin.Serve(&goplugin.ServeConfig{
		HandshakeConfig:  goplugin.HandshakeConfig{MagicCookieKey: Handshake.MagicCookieKey, MagicCookieValue: Handshake.MagicCookieValue},
		VersionedPlugins: pluginSets(cfg),
		GRPCServer:       func(opts []grpc.ServerOption) *grpc.Server { return newGRPCServer(c, opts) },
		Logger: hclog.New(&hclog.LoggerOptions{
			Output: slogWriter{log: log}, Level: hclog.Info, JSONFormat: true,
		}),
	})
}

// NewLogger is a logger for plugin code. It writes hclog's JSON line format to stderr, which the
// host parses and re-logs under the plugin's name with the right level.
func NewLogger() *slog.Logger {
	return slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{
		Level: slog.LevelDebug,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) > 0 {
				return a
			}
			switch a.Key {
			case slog.TimeKey:
				a.Key = "@timestamp"
			case slog.MessageKey:
				a.Key = "@message"
			case slog.LevelKey:
				a.Key = "@level"
				a.Value = slog.StringValue(strings.ToLower(a.Value.String()))
			}
			return a
		},
	}))
}

// Main is the whole main function of a plugin binary: it reads the settings mrcpd passes
// (Settings), has build make the backends from them with the plugin's logger (NewLogger), and
// serves them. A settings or build error goes to stderr, where mrcpd reports it under the plugin's
// name, and the process exits 1. Backends that hold resources (io.Closer) are closed when serving
// ends.
func Main(build func(settings map[string]string, log *slog.Logger) (ServeConfig, error)) {
	log := NewLogger()
	settings, err := Settings()
	var cfg ServeConfig
	if err == nil {
		cfg, err = build(settings, log)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if cfg.Logger == nil {
		cfg.Logger = log
	}
	defer closeBackends(cfg)
	Serve(cfg)
}

func closeBackends(cfg ServeConfig) {
	for _, b := range []any{cfg.Recognizer, cfg.Synthesizer} {
		if c, ok := b.(io.Closer); ok {
			c.Close()
		}
	}
}

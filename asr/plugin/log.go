package plugin

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"sync/atomic"
)

// slogWriter turns hclog JSON lines (go-plugin's log output on both sides) into slog records.
// stopping, when set, says the host is stopping the process on purpose: go-plugin's "plugin
// process exited" error about the kill is then an expected stop, not an error.
type slogWriter struct {
	log      *slog.Logger
	stopping *atomic.Bool
}

func (w slogWriter) Write(p []byte) (int, error) {
	for _, line := range strings.Split(strings.TrimSpace(string(p)), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) != nil {
			w.log.Info(line)
			continue
		}
		msg, _ := m["@message"].(string)
		lvl := hclogLevel(m["@level"])
		if msg == "plugin process exited" && w.stopping != nil && w.stopping.Load() {
			msg, lvl = "plugin process stopped", slog.LevelInfo
		}
		attrs := make([]slog.Attr, 0, len(m))
		for k, v := range m {
			if strings.HasPrefix(k, "@") {
				continue
			}
			attrs = append(attrs, slog.Any(k, v))
		}
		w.log.LogAttrs(context.Background(), lvl, msg, attrs...)
	}
	return len(p), nil
}

func hclogLevel(v any) slog.Level {
	s, _ := v.(string)
	switch s {
	case "trace", "debug":
		return slog.LevelDebug
	case "warn":
		return slog.LevelWarn
	case "error":
		return slog.LevelError
	}
	return slog.LevelInfo
}

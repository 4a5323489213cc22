package plugin

import (
	"bytes"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
)

// TestSlogWriterStop: go-plugin reports the process the host killed on purpose as an error;
// mrcpd logs it as a stop, and keeps real exits as errors.
func TestSlogWriterStop(t *testing.T) {
	line := `{"@level":"error","@message":"plugin process exited","error":"signal: killed","id":42}` + "\n"
	for _, c := range []struct {
		name     string
		stopping bool
		want     string
	}{
		{"crash", false, `level=ERROR msg="plugin process exited"`},
		{"stop", true, `level=INFO msg="plugin process stopped"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			var buf bytes.Buffer
			stopping := new(atomic.Bool)
			stopping.Store(c.stopping)
			w := slogWriter{log: slog.New(slog.NewTextHandler(&buf, nil)), stopping: stopping}
			if _, err := w.Write([]byte(line)); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(buf.String(), c.want) || !strings.Contains(buf.String(), "signal: killed") {
				t.Fatalf("logged %q, want %s with the error", buf.String(), c.want)
			}
		})
	}
}

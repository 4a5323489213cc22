package sip

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"time"
)

// Anyone who can reach the SIP port can send messages that do not parse, and sipgo logs each
// one at ERROR with all of its bytes (up to 64 KB on one line). Those records are rewritten to
// a WARN with short excerpts, and at most parseLogBurst of them are logged, one more each
// parseLogEvery; the next logged one counts those left out.
const (
	parseLogBurst   = 5
	parseLogEvery   = 10 * time.Second
	parseExcerptLen = 120
)

// remoteFaults are sipgo's log messages for what a remote sent, with the message we log instead.
var remoteFaults = map[string]string{
	"failed to parse":                    "sip message unparsable",
	"Server tx failed to handle request": "sip request refused by the transaction layer",
}

// transportLog is the slog.Handler under sipgo's transport and transaction layer loggers.
type transportLog struct {
	slog.Handler
	lim     *logLimiter
	metrics *Metrics
}

func newTransportLog(h slog.Handler, m *Metrics) *transportLog {
	return &transportLog{Handler: h, lim: &logLimiter{tokens: parseLogBurst}, metrics: m}
}

func (h *transportLog) Handle(ctx context.Context, r slog.Record) error {
	msg, remote := remoteFaults[r.Message]
	if !remote {
		return h.Handler.Handle(ctx, r)
	}
	h.metrics.refuse("unparsable")
	ok, dropped := h.lim.take(r.Time)
	if !ok || !h.Handler.Enabled(ctx, slog.LevelWarn) {
		return nil
	}
	out := slog.NewRecord(r.Time, slog.LevelWarn, msg, r.PC)
	r.Attrs(func(a slog.Attr) bool {
		switch v := a.Value.Resolve(); {
		case a.Key == "data":
			out.AddAttrs(slog.Int("bytes", len(v.String())), slog.String("excerpt", excerpt(v.String())))
		case v.Kind() == slog.KindString || v.Kind() == slog.KindAny:
			out.AddAttrs(slog.String(a.Key, excerpt(v.String())))
		default:
			out.AddAttrs(a)
		}
		return true
	})
	if dropped > 0 {
		out.AddAttrs(slog.Int("suppressed", dropped))
	}
	return h.Handler.Handle(ctx, out)
}

func (h *transportLog) WithAttrs(as []slog.Attr) slog.Handler {
	return &transportLog{Handler: h.Handler.WithAttrs(as), lim: h.lim, metrics: h.metrics}
}

func (h *transportLog) WithGroup(name string) slog.Handler {
	return &transportLog{Handler: h.Handler.WithGroup(name), lim: h.lim, metrics: h.metrics}
}

func excerpt(s string) string {
	if len(s) > parseExcerptLen {
		s = s[:parseExcerptLen] + "..."
	}
	return strings.ToValidUTF8(s, "?")
}

// logLimiter is a token bucket over record times (so tests need no clock of their own).
type logLimiter struct {
	mu      sync.Mutex
	tokens  float64
	last    time.Time
	dropped int
}

// take spends a token if there is one; dropped is how many were refused since the last success.
func (l *logLimiter) take(now time.Time) (ok bool, dropped int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.last.IsZero() && now.After(l.last) {
		l.tokens = min(parseLogBurst, l.tokens+float64(now.Sub(l.last))/float64(parseLogEvery))
	}
	if now.After(l.last) {
		l.last = now
	}
	if l.tokens < 1 {
		l.dropped++
		return false, 0
	}
	l.tokens--
	dropped, l.dropped = l.dropped, 0
	return true, dropped
}

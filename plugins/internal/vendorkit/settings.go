// Package vendorkit is what the cloud and server-based recognizer plugins (Google, Deepgram, Vosk)
// share: strict settings with per-request overrides, endpoint failover with backoff, grammar
// phrases and interpretation of vendor transcripts, the capabilities that follow from them, the
// classification of connection failures, and the deterministic "listener" their protocol
// stand-ins use in tests.
package vendorkit

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Settings reads a plugin's `settings:` map (or a settings map with per-request overrides) into
// typed values. Every failure names the setting; Err also reports keys nobody asked for, so that a
// misspelt setting fails at start instead of being silently ignored.
type Settings struct {
	plugin string
	m      map[string]string
	used   map[string]bool
	errs   []error
}

// NewSettings wraps m; plugin prefixes error messages ("google: setting model: ...").
func NewSettings(plugin string, m map[string]string) *Settings {
	return &Settings{plugin: plugin, m: m, used: map[string]bool{}}
}

func (s *Settings) get(key string) (string, bool) {
	s.used[key] = true
	v, ok := s.m[key]
	return strings.TrimSpace(v), ok && strings.TrimSpace(v) != ""
}

func (s *Settings) fail(key, v, format string, args ...any) {
	s.errs = append(s.errs, fmt.Errorf("%s: setting %s=%q: %s", s.plugin, key, v, fmt.Sprintf(format, args...)))
}

// String returns the value of key or def.
func (s *Settings) String(key, def string) string {
	if v, ok := s.get(key); ok {
		return v
	}
	return def
}

// OneOf returns the value of key, which must be one of allowed, or def.
func (s *Settings) OneOf(key, def string, allowed ...string) string {
	v, ok := s.get(key)
	if !ok {
		return def
	}
	for _, a := range allowed {
		if strings.EqualFold(v, a) {
			return a
		}
	}
	s.fail(key, v, "want one of %s", strings.Join(allowed, ", "))
	return def
}

// Bool returns the value of key (true/false/yes/no/1/0/on/off) or def.
func (s *Settings) Bool(key string, def bool) bool {
	v, ok := s.get(key)
	if !ok {
		return def
	}
	switch strings.ToLower(v) {
	case "true", "yes", "1", "on":
		return true
	case "false", "no", "0", "off":
		return false
	}
	s.fail(key, v, "want true or false")
	return def
}

// Int returns the value of key, within [lo, hi], or def.
func (s *Settings) Int(key string, def, lo, hi int) int {
	v, ok := s.get(key)
	if !ok {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		s.fail(key, v, "want an integer in %d..%d", lo, hi)
		return def
	}
	return n
}

// Float returns the value of key, within [lo, hi], or def.
func (s *Settings) Float(key string, def, lo, hi float64) float64 {
	v, ok := s.get(key)
	if !ok {
		return def
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f < lo || f > hi {
		s.fail(key, v, "want a number in %g..%g", lo, hi)
		return def
	}
	return f
}

// Duration returns the value of key (a Go duration such as 250ms, or plain milliseconds) or def.
func (s *Settings) Duration(key string, def time.Duration) time.Duration {
	v, ok := s.get(key)
	if !ok {
		return def
	}
	if n, err := strconv.Atoi(v); err == nil && n >= 0 {
		return time.Duration(n) * time.Millisecond
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		s.fail(key, v, "want a duration such as 300ms")
		return def
	}
	return d
}

// List returns the comma-separated values of key, trimmed, or def.
func (s *Settings) List(key string, def []string) []string {
	v, ok := s.get(key)
	if !ok {
		return def
	}
	var out []string
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// Require records an error when key has no value.
func (s *Settings) Require(key, why string) {
	if _, ok := s.get(key); !ok {
		s.errs = append(s.errs, fmt.Errorf("%s: setting %s is required: %s", s.plugin, key, why))
	}
}

// Err reports every invalid value and, with strict, every key that was never read.
func (s *Settings) Err(strict bool) error {
	errs := append([]error(nil), s.errs...)
	if strict {
		var unknown []string
		for k := range s.m {
			if !s.used[k] {
				unknown = append(unknown, k)
			}
		}
		sort.Strings(unknown)
		for _, k := range unknown {
			errs = append(errs, fmt.Errorf("%s: unknown setting %q", s.plugin, k))
		}
	}
	return errors.Join(errs...)
}

// Overlay returns base with the per-request parameters that name one of keys laid over it.
// Vendor-Specific-Parameters may be written bare (model=...) or with the plugin's prefix
// (google.model=...); parameters for other engines or for settings a caller must not change
// (endpoints, credentials) are ignored.
func Overlay(plugin string, base, params map[string]string, keys []string) map[string]string {
	out := make(map[string]string, len(base)+len(params))
	for k, v := range base {
		out[k] = v
	}
	allowed := make(map[string]bool, len(keys))
	for _, k := range keys {
		allowed[k] = true
	}
	for k, v := range params {
		k = strings.ToLower(strings.TrimSpace(k))
		k = strings.TrimPrefix(k, "com.")
		k = strings.TrimPrefix(k, plugin+".")
		k = strings.ReplaceAll(k, "_", "-")
		if allowed[k] {
			out[k] = v
		}
	}
	return out
}

// Invalid records an error about key that no single value explains (a combination of settings).
func (s *Settings) Invalid(key, reason string) {
	s.used[key] = true
	s.errs = append(s.errs, fmt.Errorf("%s: setting %s: %s", s.plugin, key, reason))
}

// Backoff reads the connection retry settings every vendor plugin takes: retries (1-20, default
// 3), backoff-min (100 ms) and backoff-max (2 s).
func (s *Settings) Backoff() Backoff {
	return Backoff{
		Attempts: s.Int("retries", 3, 1, 20),
		Min:      s.Duration("backoff-min", 100*time.Millisecond),
		Max:      s.Duration("backoff-max", 2*time.Second),
	}
}

// SampleRates reads sample-rates, a list of integer rates in 8000..48000, or def; each bad one is
// recorded and left out.
func (s *Settings) SampleRates(def []string) []int {
	var out []int
	for _, r := range s.List("sample-rates", def) {
		n, err := strconv.Atoi(r)
		if err != nil || n < 8000 || n > 48000 {
			s.Invalid("sample-rates", "each rate must be an integer in 8000..48000, got "+strconv.Quote(r))
			continue
		}
		out = append(out, n)
	}
	return out
}

package main

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"time"
)

// liveKeys are the configuration keys a reload (SIGHUP) applies while calls run; a key below
// engines.* is live too. Every other change waits for a restart and is logged as such.
var liveKeys = map[string]bool{"log.level": true, "sip.max_sessions": true, "sip.drain_timeout": true}

func isLive(key string) bool { return liveKeys[key] || strings.HasPrefix(key, "engines.") }

// reload re-reads the configuration file (the command-line flags still win) and applies what
// can change live: the log level, the session limit, the drain timeout and the engines. A plugin
// whose configuration changed, or a new one, starts new processes for the requests that follow;
// the replaced processes stop once their streams end. A file that does not load, or engines that
// do not start, change nothing.
func (d *daemon) reload(ctx context.Context, o options) error {
	d.reloadMu.Lock()
	defer d.reloadMu.Unlock()
	next, err := loadConfig(o)
	if err != nil {
		d.log.Error("reload refused: nothing changed", "err", err)
		return err
	}
	cur := d.cfg
	changed := changedKeys(reflect.ValueOf(cur), reflect.ValueOf(next), "")
	var live, later []string
	for _, k := range changed {
		if isLive(k) {
			live = append(live, k)
		} else {
			later = append(later, k)
		}
	}
	old := d.engines.Load()
	set, err := d.buildEngines(ctx, next.Engines, o.config, old)
	if err == nil && set.rate != old.rate {
		retireReplaced(set, old)
		err = fmt.Errorf("engines: the default recognizer takes %d Hz audio; mrcpd runs at %d Hz until restarted", set.rate, old.rate)
	}
	if err != nil {
		d.log.Error("reload refused: nothing changed", "err", err)
		return err
	}
	if set.hasRec != old.hasRec {
		later = append(later, "engines.recognizer (a default recognizer where there was none, or none where there was one)")
	}
	d.engines.Store(set)
	retireReplaced(old, set)
	d.mrcp.EnginesChanged()
	_ = d.level.UnmarshalText([]byte(next.Log.Level))
	d.mrcp.SetMaxSessions(next.SIP.MaxSessions)
	cur.Log.Level, cur.SIP.MaxSessions, cur.SIP.DrainTimeout, cur.Engines =
		next.Log.Level, next.SIP.MaxSessions, next.SIP.DrainTimeout, next.Engines
	d.cfg = cur
	d.log.Info("configuration reloaded", "applied", live, "plugins", pluginNames(set))
	if len(later) > 0 {
		d.log.Warn("reload: these changes need a restart and were not applied", "keys", later)
	}
	return nil
}

// drainTimeout is sip.drain_timeout as last loaded.
func (d *daemon) drainTimeout() time.Duration {
	d.reloadMu.Lock()
	defer d.reloadMu.Unlock()
	return d.cfg.SIP.DrainTimeout.D()
}

func pluginNames(set *engineSet) []string {
	var names []string
	for n := range set.plugins {
		names = append(names, n)
	}
	return names
}

// changedKeys lists the yaml keys whose values differ between two configurations, descending
// into sections; a list or map counts as one key.
func changedKeys(a, b reflect.Value, prefix string) []string {
	var keys []string
	for i := 0; i < a.NumField(); i++ {
		f := a.Type().Field(i)
		key := prefix + strings.Split(f.Tag.Get("yaml"), ",")[0]
		av, bv := a.Field(i), b.Field(i)
		if f.Type.Kind() == reflect.Struct && f.Type.NumField() > 0 && f.Type.Field(0).Tag.Get("yaml") != "" {
			keys = append(keys, changedKeys(av, bv, key+".")...)
			continue
		}
		if !reflect.DeepEqual(av.Interface(), bv.Interface()) {
			keys = append(keys, key)
		}
	}
	return keys
}

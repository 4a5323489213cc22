package main

import (
	"context"
	"fmt"
	"log/slog"
	"reflect"
	"sync"
	"sync/atomic"

	"github.com/mrcpd/mrcpd/asr"
	"github.com/mrcpd/mrcpd/asr/noop"
	"github.com/mrcpd/mrcpd/asr/plugin"
)

// noopEngine names the built-in recognizer in the engine registry: asr/noop, which hears nothing
// (load tests of mrcpd itself; plugins/noop is its plugin twin). DTMF needs no engine: the
// RECOGNIZE state machine in mrcp/server matches keys against DTMF grammars itself.
const noopEngine = "noop"

// engineSet is one generation of the configured engines: the registry names resolve in and the
// plugin processes behind it. A reload (SIGHUP) builds the next set; sessions resolve an engine
// at each request, so a call live across a reload goes on with the engines of the new set.
type engineSet struct {
	reg     *asr.Registry
	hasRec  bool // a default recognizer serves voice grammars
	rate    int  // the default recognizer's first sample rate
	plugins map[string]*pluginHost
}

// pluginHost is one configured plugin's processes. A host that a reload replaces or removes is
// retired: its gate stops it once its last stream has ended, so that calls in the middle of a
// recognition or a prompt finish on the process they started on.
type pluginHost struct {
	cfg  PluginConfig // with the path resolved
	h    *plugin.Host
	log  *slog.Logger
	wg   *sync.WaitGroup // the daemon's: shutdown waits for retired hosts to stop
	gate *asr.Gate
}

// retire stops the host now if nothing runs on it, else when the last stream ends.
func (p *pluginHost) retire() {
	if open := p.gate.Retire(); open > 0 {
		p.log.Info("plugin retired: stopping after its streams end", "streams", open)
	}
}

func (p *pluginHost) close(why string) {
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		p.stop(why)
	}()
}

func (p *pluginHost) stop(why string) {
	if err := p.h.Close(); err != nil {
		p.log.Warn("plugin close", "err", err)
	}
	p.log.Debug("plugin stopped", "why", why)
}

// shutdown stops the host now, streams or not (mrcpd is exiting); false if it had stopped.
func (p *pluginHost) shutdown() bool {
	if !p.gate.Shutdown() {
		return false
	}
	p.stop("shutdown")
	return true
}

// live is true while at least one of the host's processes runs (readiness).
func (p *pluginHost) live() bool { return len(p.h.PIDs()) > 0 }

// buildEngines starts the plugins of cfg that prev does not already run with the same
// configuration and registers every engine. On error, what it started is stopped and prev is
// untouched.
func (d *daemon) buildEngines(ctx context.Context, cfg EnginesConfig, configPath string, prev *engineSet) (_ *engineSet, err error) {
	set := &engineSet{reg: asr.NewRegistry(), rate: 8000, plugins: map[string]*pluginHost{}}
	var started []*pluginHost
	defer func() {
		if err != nil {
			for _, p := range started {
				p.retire()
			}
		}
	}()
	for _, pc := range cfg.Plugins {
		pc.Path = resolvePath(pc.Path, configPath)
		p := prev.reuse(pc)
		if p == nil {
			if p, err = d.startPlugin(ctx, pc); err != nil {
				return nil, err
			}
			started = append(started, p)
		}
		set.plugins[pc.Name] = p
		if err := d.register(set, p); err != nil {
			return nil, err
		}
	}
	if err := d.stack(nil).Register(set.reg, noopEngine, noop.Recognizer{}); err != nil {
		return nil, fmt.Errorf("engines.plugins: the name %q is reserved for the built-in no-op recognizer", noopEngine)
	}
	set.hasRec = set.hasRec || cfg.Recognizer == noopEngine
	if err := set.reg.SetDefaults(cfg.Recognizer, cfg.Synthesizer); err != nil {
		return nil, fmt.Errorf("engines: %w", err)
	}
	if r, err := set.reg.Recognizer(""); err == nil && set.hasRec {
		if info, err := r.Info(ctx); err == nil && len(info.SampleRates) > 0 {
			set.rate = info.SampleRates[0]
		}
	}
	return set, nil
}

// reuse is prev's host for pc when it runs exactly that configuration.
func (prev *engineSet) reuse(pc PluginConfig) *pluginHost {
	if prev == nil {
		return nil
	}
	if p := prev.plugins[pc.Name]; p != nil && reflect.DeepEqual(p.cfg, pc) {
		return p
	}
	return nil
}

func (d *daemon) startPlugin(ctx context.Context, pc PluginConfig) (*pluginHost, error) {
	log := d.log.With("plugin", pc.Name)
	h, err := plugin.Start(ctx, plugin.HostConfig{Name: pc.Name, Path: pc.Path,
		Args: pc.Args, Pool: pc.Pool, Settings: pc.Settings, Logger: log,
		OnRestart: func() { d.metrics.Restarted(pc.Name, "process") }})
	if err != nil {
		if !fileExists(pc.Path) {
			err = fmt.Errorf("%w (no such file: run `make build`, or fix the path)", err)
		}
		return nil, fmt.Errorf("engines.plugins %s (path %s): %w", pc.Name, pc.Path, err)
	}
	p := &pluginHost{cfg: pc, h: h, log: log, wg: &d.retiring}
	p.gate = asr.NewGate(p.close)
	d.hostsMu.Lock()
	d.hosts = append(d.hosts, p)
	d.hostsMu.Unlock()
	return p, nil
}

// stack is the middleware every engine of the daemon sits behind (asr.Stack): healing, the
// metrics, and for a plugin its host's gate, so that a retired host drains.
func (d *daemon) stack(p *pluginHost) asr.Stack {
	st := asr.Stack{Metrics: d.metrics}
	if p != nil {
		st.Gate = p.gate
	}
	return st
}

// register adds p's engine to set under its name, checking that the plugin serves the kind the
// configuration says.
func (d *daemon) register(set *engineSet, p *pluginHost) error {
	pc := p.cfg
	var backend any
	switch pc.Kind {
	case "recognizer":
		if r := p.h.Recognizer(); r != nil {
			backend = r
		}
		set.hasRec = true
	case "synthesizer":
		if s := p.h.Synthesizer(); s != nil {
			backend = s
		}
	}
	if backend == nil {
		return fmt.Errorf("engines.plugins %s (path %s): the plugin serves no %s", pc.Name, pc.Path, pc.Kind)
	}
	if err := d.stack(p).Register(set.reg, pc.Name, backend); err != nil {
		return fmt.Errorf("engines.plugins %s: %w", pc.Name, err)
	}
	return nil
}

// retireReplaced retires the hosts of old that next no longer uses.
func retireReplaced(old, next *engineSet) {
	for name, p := range old.plugins {
		if next.plugins[name] != p {
			p.retire()
		}
	}
}

// liveEngines is the server's view of the engines: each lookup reads the current set, so that the
// server, built once, follows reloads, and the server looks up once per request.
type liveEngines struct{ cur *atomic.Pointer[engineSet] }

// Recognizer is the named recognizer, or for "" the default one, which voice grammars need: the
// built-in no-op recognizer is the default only when engines.recognizer names it.
func (l liveEngines) Recognizer(name string) (asr.Recognizer, error) {
	set := l.cur.Load()
	if name == "" && !set.hasRec {
		return nil, asr.Errorf(asr.ErrUnavailable, false, "no recognizer configured for voice grammars")
	}
	return set.reg.Recognizer(name)
}

func (l liveEngines) Synthesizer(name string) (asr.Synthesizer, error) {
	return l.cur.Load().reg.Synthesizer(name)
}

// SynthesizerForVoice sends a SPEAK to the synthesizer its Voice-Name selects (a plugin name or a
// voice one of them lists), or to the default one: mod_unimrcp's "default" voice included.
func (l liveEngines) SynthesizerForVoice(ctx context.Context, voice string) (asr.Synthesizer, string, error) {
	return l.cur.Load().reg.SynthesizerForVoice(ctx, voice)
}

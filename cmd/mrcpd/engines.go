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
	"github.com/mrcpd/mrcpd/mrcp/server"
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

// pluginHost is one configured plugin's processes and the streams open on them. A host that a
// reload replaces or removes is retired: it stops once its last stream has ended, so that calls
// in the middle of a recognition or a prompt finish on the process they started on.
type pluginHost struct {
	cfg  PluginConfig // with the path resolved
	h    *plugin.Host
	log  *slog.Logger
	wg   *sync.WaitGroup // the daemon's: shutdown waits for retired hosts to stop
	mu   sync.Mutex
	open int
	gone bool // retired
	shut bool // Close called
}

func (p *pluginHost) acquire() {
	p.mu.Lock()
	p.open++
	p.mu.Unlock()
}

func (p *pluginHost) release() {
	p.mu.Lock()
	p.open--
	stop := p.gone && p.open == 0 && !p.shut
	p.shut = p.shut || stop
	p.mu.Unlock()
	if stop {
		p.close("drained")
	}
}

// retire stops the host now if nothing runs on it, else when the last stream ends.
func (p *pluginHost) retire() {
	p.mu.Lock()
	p.gone = true
	stop := p.open == 0 && !p.shut
	p.shut = p.shut || stop
	open := p.open
	p.mu.Unlock()
	if stop {
		p.close("retired")
		return
	}
	p.log.Info("plugin retired: stopping after its streams end", "streams", open)
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
	p.mu.Lock()
	stop := !p.shut
	p.shut = true
	p.mu.Unlock()
	if stop {
		p.stop("shutdown")
	}
	return stop
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
	if err := set.reg.AddRecognizer(noopEngine, d.metrics.Recognizer(noopEngine, noop.Recognizer{})); err != nil {
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
	d.hostsMu.Lock()
	d.hosts = append(d.hosts, p)
	d.hostsMu.Unlock()
	return p, nil
}

// register adds p's engine to set under its name, behind the metrics and the stream counting
// that lets a retired host drain.
func (d *daemon) register(set *engineSet, p *pluginHost) error {
	pc := p.cfg
	var err error
	switch pc.Kind {
	case "recognizer":
		r := p.h.Recognizer()
		if r == nil {
			return fmt.Errorf("engines.plugins %s (path %s): the plugin serves no recognizer", pc.Name, pc.Path)
		}
		// Stream limits and idle timeouts of vendors are healed under the metrics, which
		// count each heal as a restart.
		r = asr.Healing(r, asr.HealOptions{OnHeal: func(asr.ErrorKind) { d.metrics.Restarted(pc.Name, "stream") }})
		err = set.reg.AddRecognizer(pc.Name, d.metrics.Recognizer(pc.Name, countedRecognizer{r, p}))
		set.hasRec = true
	case "synthesizer":
		s := p.h.Synthesizer()
		if s == nil {
			return fmt.Errorf("engines.plugins %s (path %s): the plugin serves no synthesizer", pc.Name, pc.Path)
		}
		err = set.reg.AddSynthesizer(pc.Name, d.metrics.Synthesizer(pc.Name, countedSynthesizer{s, p}))
	}
	if err != nil {
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

// countedRecognizer and countedSynthesizer hold their host while a stream is open.
type countedRecognizer struct {
	asr.Recognizer
	p *pluginHost
}

func (c countedRecognizer) Recognize(ctx context.Context, req asr.RecognizeRequest) (asr.RecognitionStream, error) {
	st, h, err := holding(c.p, func() (asr.RecognitionStream, error) { return c.Recognizer.Recognize(ctx, req) })
	if err != nil {
		return nil, err
	}
	return &countedRecStream{st, h}, nil
}

type countedSynthesizer struct {
	asr.Synthesizer
	p *pluginHost
}

func (c countedSynthesizer) Synthesize(ctx context.Context, req asr.SynthesizeRequest) (asr.SynthesisStream, error) {
	st, h, err := holding(c.p, func() (asr.SynthesisStream, error) { return c.Synthesizer.Synthesize(ctx, req) })
	if err != nil {
		return nil, err
	}
	return &countedSynthStream{st, h}, nil
}

// holding opens a stream with p held; the hold ends with the stream's first Close.
func holding[S any](p *pluginHost, open func() (S, error)) (S, *hold, error) {
	p.acquire()
	st, err := open()
	if err != nil {
		p.release()
		return st, nil, err
	}
	return st, &hold{p: p}, nil
}

type hold struct {
	p    *pluginHost
	once sync.Once
}

func (h *hold) end() { h.once.Do(h.p.release) }

type countedRecStream struct {
	asr.RecognitionStream
	h *hold
}

func (s *countedRecStream) Close() error { defer s.h.end(); return s.RecognitionStream.Close() }

type countedSynthStream struct {
	asr.SynthesisStream
	h *hold
}

func (s *countedSynthStream) Close() error { defer s.h.end(); return s.SynthesisStream.Close() }

// liveEngines resolves every engine in the current set, so that the server, built once, follows
// reloads.
type liveEngines struct{ cur *atomic.Pointer[engineSet] }

func (l liveEngines) reg() *asr.Registry { return l.cur.Load().reg }

func (l liveEngines) Recognizer(name string) (asr.Recognizer, error) { return l.reg().Recognizer(name) }

func (l liveEngines) Synthesizer(name string) (asr.Synthesizer, error) {
	return l.reg().Synthesizer(name)
}

// backends is what the server is built with. The default recognizer and synthesizer are looked up
// at each request; whether there is one at all is fixed at startup (answering voice grammars with
// 407 rather than an engine error).
func (l liveEngines) backends() server.Backends {
	b := server.Backends{Named: l}
	set := l.cur.Load()
	if _, err := set.reg.Recognizer(""); err == nil && set.hasRec {
		b.Recognizer = defaultRecognizer{l}
	}
	if _, err := set.reg.Synthesizer(""); err == nil {
		b.Synthesizer = voiceRouter{l}
	}
	return b
}

type defaultRecognizer struct{ l liveEngines }

func (r defaultRecognizer) get() (asr.Recognizer, error) {
	set := r.l.cur.Load()
	if !set.hasRec {
		return nil, asr.Errorf(asr.ErrUnavailable, false, "no recognizer configured for voice grammars")
	}
	return set.reg.Recognizer("")
}

func (r defaultRecognizer) Info(ctx context.Context) (asr.RecognizerInfo, error) {
	rec, err := r.get()
	if err != nil {
		return asr.RecognizerInfo{}, err
	}
	return rec.Info(ctx)
}

func (r defaultRecognizer) Recognize(ctx context.Context, req asr.RecognizeRequest) (asr.RecognitionStream, error) {
	rec, err := r.get()
	if err != nil {
		return nil, err
	}
	return rec.Recognize(ctx, req)
}

// voiceRouter sends each SPEAK to the synthesizer its Voice-Name selects (a plugin name or a
// voice one of them lists), or to the default one: mod_unimrcp's "default" voice included.
type voiceRouter struct{ l liveEngines }

func (v voiceRouter) Info(ctx context.Context) (asr.SynthesizerInfo, error) {
	s, err := v.l.reg().Synthesizer("")
	if err != nil {
		return asr.SynthesizerInfo{}, err
	}
	return s.Info(ctx)
}

func (v voiceRouter) Synthesize(ctx context.Context, req asr.SynthesizeRequest) (asr.SynthesisStream, error) {
	s, _, err := v.l.reg().SynthesizerForVoice(ctx, req.Voice)
	if err != nil {
		return nil, err
	}
	return s.Synthesize(ctx, req)
}

package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/mrcpd/mrcpd/asr"
	"github.com/mrcpd/mrcpd/asr/noop"
	"github.com/mrcpd/mrcpd/asr/plugin"
	"github.com/mrcpd/mrcpd/media"
	"github.com/mrcpd/mrcpd/mrcp/server"
	"github.com/mrcpd/mrcpd/mrcp/sip"
)

// noopEngine names the built-in recognizer in the engine registry: asr/noop, which hears nothing
// (load tests of mrcpd itself; plugins/noop is its plugin twin). DTMF needs no engine: the
// RECOGNIZE state machine in mrcp/server matches keys against DTMF grammars itself.
const noopEngine = "noop"

// daemon is mrcpd assembled from its configuration: SIP agent, MRCP server, RTP ports, engines
// and the HTTP endpoint for metrics and health.
type daemon struct {
	cfg      Config
	log      *slog.Logger
	reg      *prometheus.Registry
	hosts    []*plugin.Host
	mrcp     *server.Server
	sip      *sip.Server
	http     *http.Server
	httpLn   net.Listener
	draining atomic.Bool
}

// newDaemon provisions everything and binds every socket; nothing runs yet. configPath anchors
// relative plugin paths.
func newDaemon(ctx context.Context, cfg Config, configPath string, log *slog.Logger) (_ *daemon, err error) {
	d := &daemon{cfg: cfg, log: log, reg: prometheus.NewRegistry()}
	defer func() {
		if err != nil {
			d.close()
		}
	}()
	d.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	backends, inputRate, err := d.engines(ctx, configPath)
	if err != nil {
		return nil, err
	}
	scfg := server.Config{
		Addr: cfg.MRCP.Addr, TLSAddr: cfg.MRCP.TLSAddr, AdvertiseIP: cfg.RTP.IP,
		MaxMessageSize: cfg.MRCP.MaxMessageSize, ConnectTimeout: cfg.MRCP.ConnectTimeout.D(),
		MaxChannelParams: cfg.MRCP.MaxChannelParams, MaxChannelGrammars: cfg.MRCP.MaxChannelGrammars,
		MaxConnections: cfg.MRCP.MaxConnections, MaxConnectionsPerHost: cfg.MRCP.MaxConnectionsPerHost,
		MessageTimeout: cfg.MRCP.MessageTimeout.D(), IdleTimeout: cfg.MRCP.IdleTimeout.D(),
		WriteTimeout:    cfg.MRCP.WriteTimeout.D(),
		FinalizeTimeout: cfg.MRCP.FinalizeTimeout.D(),
		MediaTimeout:    cfg.RTP.MediaTimeout.D(), MaxSessions: cfg.SIP.MaxSessions,
		MaxSessionsPerSource: cfg.SIP.MaxSessionsPerSource, MaxOfferMedia: cfg.SIP.MaxOfferMedia,
		RecorderDir: cfg.Recorder.Dir, InputRate: inputRate, OutputRate: 8000,
		NewEndpointer: server.NewVAD, Backends: backends, Logger: log,
		Metrics: server.NewMetrics(d.reg),
		Media: server.NewRTP(media.NewPortPool(cfg.RTP.IP, cfg.RTP.Ports.Min, cfg.RTP.Ports.Max), server.RTPConfig{
			Jitter: media.JitterConfig{Initial: cfg.RTP.Jitter.Initial.D(), Min: cfg.RTP.Jitter.Min.D(),
				Max: cfg.RTP.Jitter.Max.D()},
			InbandDTMF: cfg.RTP.InbandDTMF, Symmetric: cfg.RTP.Symmetric, Codecs: cfg.RTP.Codecs}),
	}
	if cfg.MRCP.TLSCert != "" && cfg.MRCP.TLSAddr != "" {
		cert, err := tls.LoadX509KeyPair(cfg.MRCP.TLSCert, cfg.MRCP.TLSKey)
		if err != nil {
			return nil, fmt.Errorf("mrcp.tls_cert: %w", err)
		}
		scfg.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	if d.mrcp, err = server.New(scfg); err != nil {
		return nil, err
	}
	d.sip, err = sip.NewServer(sip.Config{Addr: cfg.SIP.Addr, Transports: cfg.SIP.Transports,
		TLSAddr: cfg.SIP.TLSAddr, TLSCert: cfg.SIP.TLSCert, TLSKey: cfg.SIP.TLSKey,
		SessionExpires: cfg.SIP.SessionExpires.D(), UserAgent: "mrcpd", Metrics: sip.NewMetrics(d.reg)}, d.mrcp, log)
	if err != nil {
		return nil, err
	}
	d.mrcp.SetHangup(d.sip)
	if d.httpLn, err = net.Listen("tcp", cfg.HTTP.Addr); err != nil {
		return nil, fmt.Errorf("http.addr: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(d.reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("/healthz", d.healthz)
	d.http = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	return d, nil
}

// engines starts the plugin processes and picks the default recognizer and synthesizer. The
// input rate follows the recognizer, so that audio reaches it without another resampling.
func (d *daemon) engines(ctx context.Context, configPath string) (server.Backends, int, error) {
	var b server.Backends
	m, err := asr.NewMetrics(d.reg)
	if err != nil {
		return b, 0, err
	}
	reg := asr.NewRegistry()
	hasRec := false
	for _, p := range d.cfg.Engines.Plugins {
		path := resolvePath(p.Path, configPath)
		h, err := plugin.Start(ctx, plugin.HostConfig{Name: p.Name, Path: path,
			Args: p.Args, Pool: p.Pool, Settings: p.Settings, Logger: d.log.With("plugin", p.Name),
			OnRestart: func() { m.Restarted(p.Name, "process") }})
		if err != nil {
			if !fileExists(path) {
				err = fmt.Errorf("%w (no such file: run `make build`, or fix the path)", err)
			}
			return b, 0, fmt.Errorf("engines.plugins %s (path %s): %w", p.Name, path, err)
		}
		d.hosts = append(d.hosts, h)
		switch p.Kind {
		case "recognizer":
			r := h.Recognizer()
			if r == nil {
				return b, 0, fmt.Errorf("engines.plugins %s (path %s): the plugin serves no recognizer", p.Name, path)
			}
			// Stream limits and idle timeouts of vendors are healed under the metrics, which
			// count each heal as a restart.
			r = asr.Healing(r, asr.HealOptions{OnHeal: func(asr.ErrorKind) { m.Restarted(p.Name, "stream") }})
			err = reg.AddRecognizer(p.Name, m.Recognizer(p.Name, r))
			hasRec = true
		case "synthesizer":
			s := h.Synthesizer()
			if s == nil {
				return b, 0, fmt.Errorf("engines.plugins %s (path %s): the plugin serves no synthesizer", p.Name, path)
			}
			err = reg.AddSynthesizer(p.Name, m.Synthesizer(p.Name, s))
		}
		if err != nil {
			return b, 0, fmt.Errorf("engines.plugins %s: %w", p.Name, err)
		}
	}
	if err := reg.AddRecognizer(noopEngine, m.Recognizer(noopEngine, noop.Recognizer{})); err != nil {
		return b, 0, fmt.Errorf("engines.plugins: the name %q is reserved for the built-in no-op recognizer", noopEngine)
	}
	if d.cfg.Engines.Recognizer == noopEngine {
		hasRec = true
	}
	if err := reg.SetDefaults(d.cfg.Engines.Recognizer, d.cfg.Engines.Synthesizer); err != nil {
		return b, 0, fmt.Errorf("engines: %w", err)
	}
	rate := 8000
	if r, err := reg.Recognizer(""); err == nil && hasRec {
		b.Recognizer = r
		if info, err := r.Info(ctx); err == nil && len(info.SampleRates) > 0 {
			rate = info.SampleRates[0]
		}
	}
	if _, err := reg.Synthesizer(""); err == nil {
		b.Synthesizer = voiceRouter{reg}
	}
	b.Named = reg // per-call (Request-URI user) and per-request (engine=) choice
	return b, rate, nil
}

// voiceRouter sends each SPEAK to the synthesizer its Voice-Name selects (a plugin name or a
// voice one of them lists), or to the default one: mod_unimrcp's "default" voice included.
type voiceRouter struct{ reg *asr.Registry }

func (v voiceRouter) Info(ctx context.Context) (asr.SynthesizerInfo, error) {
	s, err := v.reg.Synthesizer("")
	if err != nil {
		return asr.SynthesizerInfo{}, err
	}
	return s.Info(ctx)
}

func (v voiceRouter) Synthesize(ctx context.Context, req asr.SynthesizeRequest) (asr.SynthesisStream, error) {
	s, _, err := v.reg.SynthesizerForVoice(ctx, req.Voice)
	if err != nil {
		return nil, err
	}
	return s.Synthesize(ctx, req)
}

// resolvePath finds a relative plugin path next to the config file first, then in the working
// directory (where `make run` starts).
func resolvePath(p, configPath string) string {
	if filepath.IsAbs(p) || configPath == "" {
		return p
	}
	if c := filepath.Join(filepath.Dir(configPath), p); fileExists(c) {
		return c
	}
	return p
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func (d *daemon) healthz(w http.ResponseWriter, _ *http.Request) {
	if d.draining.Load() {
		http.Error(w, "draining", http.StatusServiceUnavailable)
		return
	}
	fmt.Fprintln(w, "ok")
}

// run serves until ctx ends (SIGTERM/SIGINT), then drains: new calls get 503 while live sessions
// finish, for at most drainTimeout (or until hard is done: a second signal).
func (d *daemon) run(ctx, hard context.Context, drainTimeout time.Duration) error {
	svc, stop := context.WithCancel(context.WithoutCancel(ctx))
	defer stop()
	var wg sync.WaitGroup
	errc := make(chan error, 3)
	for _, f := range []func(context.Context) error{d.mrcp.Run, d.sip.Run} {
		wg.Add(1)
		go func() { defer wg.Done(); errc <- f(svc) }()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := d.http.Serve(d.httpLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
			errc <- err
		}
	}()
	d.log.Info("mrcpd ready", "sip", d.sip.Addr("udp"), "mrcp", d.mrcp.Addr(), "http", d.httpLn.Addr(),
		"rtp", d.cfg.RTP.Ports.String())
	var err error
	select {
	case <-ctx.Done():
		d.log.Info("draining", "sessions", d.mrcp.Sessions(), "timeout", drainTimeout)
		d.draining.Store(true)
		d.sip.SetDraining(true)
		dctx, cancel := context.WithTimeout(hard, drainTimeout)
		if derr := d.mrcp.Drain(dctx); derr != nil {
			d.log.Warn("drain cut short: ending sessions", "sessions", d.mrcp.Sessions(), "err", derr)
			d.mrcp.EndSessions()
			ectx, ecancel := context.WithTimeout(context.Background(), 5*time.Second)
			_ = d.mrcp.Drain(ectx)
			ecancel()
		}
		cancel()
	case err = <-errc:
	}
	stop()
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	_ = d.http.Shutdown(sctx)
	cancel()
	wg.Wait()
	d.close()
	d.log.Info("mrcpd stopped")
	return err
}

func (d *daemon) close() {
	for _, h := range d.hosts {
		if err := h.Close(); err != nil {
			d.log.Warn("plugin close", "err", err)
		}
	}
	d.hosts = nil
}

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

	"github.com/mrcpd/mrcpd/asr"
	"github.com/mrcpd/mrcpd/media"
	"github.com/mrcpd/mrcpd/mrcp/capture"
	"github.com/mrcpd/mrcpd/mrcp/records"
	"github.com/mrcpd/mrcpd/mrcp/server"
	"github.com/mrcpd/mrcpd/mrcp/sip"
)

// daemon is mrcpd assembled from its configuration: SIP agent, MRCP server, RTP ports, engines
// and the HTTP endpoint for metrics and health.
type daemon struct {
	cfg      Config
	log      *slog.Logger
	level    *slog.LevelVar // log.level, changed by a reload
	reg      *prometheus.Registry
	metrics  *asr.Metrics
	engines  atomic.Pointer[engineSet]
	mrcp     *server.Server
	media    *media.Engine
	sip      *sip.Server
	http     *http.Server
	httpLn   net.Listener
	draining atomic.Bool

	hostsMu  sync.Mutex
	hosts    []*pluginHost  // every plugin started, current or retired
	retiring sync.WaitGroup // retired hosts stopping
	reloadMu sync.Mutex     // one reload at a time

	waveforms *capture.Store
	records   *records.Writer
}

// newDaemon provisions everything and binds every socket; nothing runs yet. configPath anchors
// relative plugin paths.
func newDaemon(ctx context.Context, cfg Config, configPath string, log *slog.Logger) (_ *daemon, err error) {
	d := &daemon{cfg: cfg, log: log, level: new(slog.LevelVar), reg: prometheus.NewRegistry()}
	_ = d.level.UnmarshalText([]byte(cfg.Log.Level))
	defer func() {
		if err != nil {
			d.close()
		}
	}()
	d.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if d.metrics, err = asr.NewMetrics(d.reg); err != nil {
		return nil, err
	}
	set, err := d.buildEngines(ctx, cfg.Engines, configPath, nil)
	if err != nil {
		return nil, err
	}
	d.engines.Store(set)
	backends, inputRate := server.Backends{Named: liveEngines{&d.engines}}, set.rate
	if d.httpLn, err = net.Listen("tcp", cfg.HTTP.Addr); err != nil {
		return nil, fmt.Errorf("http.addr: %w", err)
	}
	d.media, err = media.NewEngine(media.NewPortPool(cfg.RTP.IP, cfg.RTP.Ports.Min, cfg.RTP.Ports.Max), media.EngineConfig{
		Workers: cfg.RTP.Workers,
		Jitter: media.JitterConfig{Initial: cfg.RTP.Jitter.Initial.D(), Min: cfg.RTP.Jitter.Min.D(),
			Max: cfg.RTP.Jitter.Max.D()},
		InbandDTMF: cfg.RTP.InbandDTMF, Symmetric: cfg.RTP.Symmetric, Codecs: cfg.RTP.Codecs,
		SharedPort: cfg.RTP.SharedPort, Logger: log})
	if err != nil {
		return nil, fmt.Errorf("rtp: %w", err)
	}
	d.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "mrcpd_rtp_packets_unrouted_total",
		Help: "Datagrams on a shared RTP port (rtp.shared_port) from a source no stream could take."},
		func() float64 { return float64(d.media.Unrouted()) }))
	d.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "mrcpd_rtp_packets_outside_call_total",
		Help: "RTP on a shared RTP port from a call's own source before its stream opened or within 2 s after it closed (dropped)."},
		func() float64 { return float64(d.media.OutsideCall()) }))
	scfg := server.Config{
		Addr: cfg.MRCP.Addr, TLSAddr: cfg.MRCP.TLSAddr, AdvertiseIP: cfg.RTP.IP,
		MaxMessageSize: cfg.MRCP.MaxMessageSize, ConnectTimeout: cfg.MRCP.ConnectTimeout.D(),
		MaxChannelParams: cfg.MRCP.MaxChannelParams, MaxChannelGrammars: cfg.MRCP.MaxChannelGrammars,
		MaxConnections: cfg.MRCP.MaxConnections, MaxConnectionsPerHost: cfg.MRCP.MaxConnectionsPerHost,
		MessageTimeout: cfg.MRCP.MessageTimeout.D(), IdleTimeout: cfg.MRCP.IdleTimeout.D(),
		WriteTimeout:    cfg.MRCP.WriteTimeout.D(),
		FinalizeTimeout: cfg.MRCP.FinalizeTimeout.D(), FreeText: cfg.MRCP.FreeText,
		MediaTimeout: cfg.RTP.MediaTimeout.D(), MaxSessions: cfg.SIP.MaxSessions,
		MaxSessionsPerSource: cfg.SIP.MaxSessionsPerSource, MaxOfferMedia: cfg.SIP.MaxOfferMedia,
		SRTP:        server.SRTPPolicy(cfg.RTP.SRTP),
		RecorderDir: cfg.Recorder.Dir, InputRate: inputRate, OutputRate: 8000,
		NewEndpointer: media.NewDetector, Backends: backends, Logger: log,
		Metrics: server.NewMetrics(d.reg), Media: d.media,
	}
	if err := d.openCapture(&scfg); err != nil {
		return nil, err
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
	d.http = &http.Server{Handler: d.mux(), ReadHeaderTimeout: 5 * time.Second}
	return d, nil
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

// run serves until ctx ends (SIGTERM/SIGINT), then drains: new calls get 503 while live sessions
// finish, for at most drainTimeout (or until hard is done: a second signal).
func (d *daemon) run(ctx, hard context.Context) error {
	svc, stop := context.WithCancel(context.WithoutCancel(ctx))
	defer stop()
	var wg sync.WaitGroup
	errc := make(chan error, 3)
	for _, f := range []func(context.Context) error{d.mrcp.Run, d.sip.Run} {
		wg.Add(1)
		go func() { defer wg.Done(); errc <- f(svc) }()
	}
	wg.Add(2)
	go func() { defer wg.Done(); d.pruneWaveforms(svc) }()
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
		drainTimeout := d.drainTimeout()
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

// close stops every plugin process, those of retired hosts still draining included.
func (d *daemon) close() {
	d.closeCapture()
	d.reloadMu.Lock() // a reload under way finishes first; its plugins are then stopped too
	defer d.reloadMu.Unlock()
	d.hostsMu.Lock()
	hosts := d.hosts
	d.hosts = nil
	d.hostsMu.Unlock()
	for _, p := range hosts {
		p.shutdown()
	}
	d.retiring.Wait()
	if d.media != nil {
		_ = d.media.Close()
	}
}

// Command mrcpd is the MRCPv2 media server.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "mrcpd:", err)
		os.Exit(1)
	}
}

// options holds what the command line says; flags override the config file.
type options struct {
	config   string
	sipAddr  string
	mrcpAddr string
	httpAddr string
	rtpPorts PortRange
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("mrcpd", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.config, "config", "", "YAML configuration file (docs/configuration.md)")
	fs.StringVar(&o.sipAddr, "sip-addr", "", "SIP listen address, UDP and TCP (default 127.0.0.1:8060)")
	fs.StringVar(&o.mrcpAddr, "mrcp-addr", "", "MRCPv2 control listen address (default 127.0.0.1:1544)")
	fs.StringVar(&o.httpAddr, "http-addr", "", "metrics and health listen address (default 127.0.0.1:8061)")
	fs.Var(&o.rtpPorts, "rtp-ports", "RTP port range lo-hi (default 10000-14999)")
	return o, fs.Parse(args)
}

// loadConfig merges the file and the flags, then validates the result.
func loadConfig(o options) (Config, error) {
	cfg, err := LoadConfig(o.config)
	if err != nil {
		return cfg, err
	}
	if o.sipAddr != "" {
		cfg.SIP.Addr = o.sipAddr
	}
	if o.mrcpAddr != "" {
		cfg.MRCP.Addr = o.mrcpAddr
	}
	if o.httpAddr != "" {
		cfg.HTTP.Addr = o.httpAddr
	}
	if o.rtpPorts.Max != 0 {
		cfg.RTP.Ports = o.rtpPorts
	}
	return cfg, cfg.Validate(o.config)
}

// newLogger writes to w at cfg's level, which a reload changes through the returned LevelVar.
func newLogger(cfg LogConfig, w io.Writer) (*slog.Logger, *slog.LevelVar) {
	level := new(slog.LevelVar)
	_ = level.UnmarshalText([]byte(cfg.Level))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts)), level
	}
	return slog.New(slog.NewTextHandler(w, opts)), level
}

func run(ctx context.Context, args []string, stderr io.Writer) error {
	o, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	cfg, err := loadConfig(o)
	if err != nil {
		return err
	}
	log, level := newLogger(cfg.Log, stderr)
	// The first SIGTERM/SIGINT drains; a second one stops at once.
	soft, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	hard, stopHard := context.WithCancel(ctx)
	defer stopHard()
	go func() {
		<-soft.Done()
		stop()
		again, cancel := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
		defer cancel()
		select {
		case <-again.Done():
			stopHard()
		case <-hard.Done():
		}
	}()
	log.Info("mrcpd starting", "sip", cfg.SIP.Addr, "mrcp", cfg.MRCP.Addr, "rtp", cfg.RTP.Ports.String())
	d, err := newDaemon(ctx, cfg, o.config, log)
	if err != nil {
		return err
	}
	d.level = level
	// SIGHUP reloads the configuration until the drain begins.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for {
			select {
			case <-hup:
				_ = d.reload(ctx, o) // logged; a refused reload changes nothing
			case <-soft.Done():
				return
			}
		}
	}()
	return d.run(soft, hard)
}

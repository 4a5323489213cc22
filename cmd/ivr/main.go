// Command ivr runs IVR flows through FreeSWITCH's Event Socket: one call, a
// campaign from a CSV file, or inbound calls handed over by the socket
// application. See docs/ivr.md.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/mrcpd/mrcpd/esl"
	"github.com/mrcpd/mrcpd/esl/campaign"
	"github.com/mrcpd/mrcpd/esl/flow"
)

const usage = `usage:
  ivr -flow FLOW.yaml [-var k=v ...]                         one call, report as JSON on stdout
  ivr -flow FLOW.yaml -campaign NUMBERS.csv [-concurrency N] [-cps R] [-out DIR]
  ivr -flow FLOW.yaml -listen 127.0.0.1:8084                 inbound calls from the socket application
common: -esl 127.0.0.1:8021 -password ClueCon (or $ESL_PASSWORD) -metrics 127.0.0.1:9091 -v
`

type varFlags map[string]string

func (v varFlags) String() string { return fmt.Sprint(map[string]string(v)) }
func (v varFlags) Set(s string) error {
	k, val, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return fmt.Errorf("want name=value, got %q", s)
	}
	v[k] = val
	return nil
}

type options struct {
	eslAddr, password, flowPath, csvPath, outDir, listen, metrics, format string
	concurrency, fsSPS                                                    int
	cps                                                                   float64
	verbose                                                               bool
	vars                                                                  varFlags
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run returns the exit status: 0 all calls succeeded, 1 a call failed or an
// error occurred, 2 bad usage.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o := options{vars: varFlags{}}
	fs := flag.NewFlagSet("ivr", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usage) }
	fs.StringVar(&o.eslAddr, "esl", "127.0.0.1:8021", "FreeSWITCH mod_event_socket address")
	fs.StringVar(&o.password, "password", envOr("ESL_PASSWORD", "ClueCon"), "event socket password")
	fs.StringVar(&o.flowPath, "flow", "", "flow YAML file")
	fs.Var(o.vars, "var", "flow variable name=value (repeatable)")
	fs.StringVar(&o.csvPath, "campaign", "", "CSV file of numbers (header row with a \"number\" column)")
	fs.IntVar(&o.concurrency, "concurrency", 10, "campaign: calls at once")
	fs.Float64Var(&o.cps, "cps", 10, "campaign: new calls per second (below FreeSWITCH's sessions-per-second)")
	fs.IntVar(&o.fsSPS, "fs-sps", campaign.FreeSWITCHDefaultSPS, "FreeSWITCH's max-sessions-per-second")
	fs.StringVar(&o.outDir, "out", "ivr-out", "campaign: directory for timelines and summary.csv")
	fs.StringVar(&o.listen, "listen", "", "serve outbound sockets (dialplan: socket <addr> async full)")
	fs.StringVar(&o.metrics, "metrics", "", "serve Prometheus metrics on this loopback address")
	fs.StringVar(&o.format, "events", "plain", "event format: plain or json")
	fs.BoolVar(&o.verbose, "v", false, "debug logging")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if o.flowPath == "" || fs.NArg() > 0 {
		fs.Usage()
		return 2
	}
	level := slog.LevelInfo
	if o.verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	if err := execute(ctx, o, log, stdout, stderr); err != nil {
		var usageErr usageError
		if errors.As(err, &usageErr) {
			fmt.Fprintln(stderr, "ivr:", err)
			return 2
		}
		if !errors.Is(err, errCallsFailed) {
			fmt.Fprintln(stderr, "ivr:", err)
		}
		return 1
	}
	return 0
}

type usageError struct{ error }

var errCallsFailed = errors.New("some calls failed")

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func execute(ctx context.Context, o options, log *slog.Logger, stdout, stderr io.Writer) error {
	f, err := flow.Load(o.flowPath)
	if err != nil {
		return usageError{err}
	}
	reg := prometheus.NewRegistry()
	if o.metrics != "" {
		stopMetrics, err := serveMetrics(o.metrics, reg, log)
		if err != nil {
			return err
		}
		defer stopMetrics()
	}
	if o.listen != "" {
		return serveInbound(ctx, o, f, reg, log)
	}
	c, err := esl.Dial(ctx, esl.Config{Addr: o.eslAddr, Password: o.password, Logger: log, Registry: reg, Format: o.format})
	if err != nil {
		return err
	}
	defer c.Close()
	runner := &flow.Runner{Client: c, Log: log}
	if o.csvPath == "" {
		rep := runner.Run(ctx, f, o.vars)
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return err
		}
		if rep.Result != "success" {
			return errCallsFailed
		}
		return nil
	}
	in, err := os.Open(o.csvPath)
	if err != nil {
		return usageError{err}
	}
	entries, err := campaign.ReadCSV(in)
	in.Close()
	if err != nil {
		return usageError{err}
	}
	for i := range entries {
		for k, v := range o.vars {
			if _, set := entries[i].Vars[k]; !set {
				entries[i].Vars[k] = v
			}
		}
	}
	sum, err := campaign.Run(ctx, campaign.Config{Flow: f, Runner: runner, Concurrency: o.concurrency, CPS: o.cps,
		FreeSWITCHSPS: o.fsSPS, OutDir: o.outDir, Progress: stderr}, entries)
	if err != nil {
		if errors.Is(err, campaign.ErrConfig) {
			return usageError{err}
		}
		return err
	}
	fmt.Fprintf(stdout, "%d calls: %d succeeded, %d failed, %d throttle refusals; summary in %s/summary.csv\n",
		len(sum.Results), sum.Succeeded, sum.Failed, sum.Throttled, o.outDir)
	if sum.Failed > 0 {
		return errCallsFailed
	}
	return nil
}

// serveInbound runs the flow for every call FreeSWITCH hands over.
func serveInbound(ctx context.Context, o options, f *flow.Flow, reg *prometheus.Registry, log *slog.Logger) error {
	m, err := esl.NewMetrics(reg)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		return err
	}
	srv := &esl.OutboundServer{Logger: log, Metrics: m, Handler: func(ctx context.Context, s *esl.OutboundSession) {
		vars := map[string]string{"caller_id_number": s.Channel.Get("Caller-Caller-ID-Number"),
			"destination_number": s.Channel.Get("Caller-Destination-Number")}
		for k, v := range o.vars {
			vars[k] = v
		}
		r := &flow.Runner{Client: s.Client, Log: log}
		rep := r.RunCall(ctx, f, s.Call, vars)
		b, _ := json.Marshal(rep)
		log.Info("call finished", "uuid", rep.UUID, "result", rep.Result, "reason", rep.Reason, "report", string(b))
	}}
	log.Info("ivr: waiting for calls from the socket application", "addr", ln.Addr().String())
	return srv.Serve(ctx, ln)
}

func serveMetrics(addr string, reg *prometheus.Registry, log *slog.Logger) (func(), error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, usageError{err}
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		log.Warn("metrics exposed beyond loopback", "addr", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}, nil
}

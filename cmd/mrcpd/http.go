package main

import (
	"fmt"
	"net/http"
	"net/http/pprof"
	"sort"
	"strings"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// mux serves metrics, health and readiness, and the Go profiler when http.pprof is set. pprof is
// registered on this mux only, never on http.DefaultServeMux.
func (d *daemon) mux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(d.reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("/healthz", d.healthz)
	mux.HandleFunc("/readyz", d.readyz)
	mux.Handle(waveformsPath, d.waveforms.Handler(waveformsPath))
	if d.cfg.HTTP.PProf {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	return mux
}

// healthz is liveness: the process serves HTTP; 503 while draining.
func (d *daemon) healthz(w http.ResponseWriter, _ *http.Request) {
	if d.draining.Load() {
		http.Error(w, "draining", http.StatusServiceUnavailable)
		return
	}
	fmt.Fprintln(w, "ok")
}

// readyz is readiness: 200 while mrcpd accepts calls that its configured engines can serve. A
// plugin with no live process (crashed and restarting, or failing to restart) makes it 503 and
// names the plugin, so that a load balancer sends calls elsewhere until the plugin is back.
func (d *daemon) readyz(w http.ResponseWriter, _ *http.Request) {
	if d.draining.Load() {
		http.Error(w, "draining", http.StatusServiceUnavailable)
		return
	}
	if down := d.enginesDown(); len(down) > 0 {
		http.Error(w, "no live process: "+strings.Join(down, ", "), http.StatusServiceUnavailable)
		return
	}
	fmt.Fprintln(w, "ready")
}

// enginesDown names the current set's plugins that have no process running.
func (d *daemon) enginesDown() []string {
	var down []string
	for name, p := range d.engines.Load().plugins {
		if !p.live() {
			down = append(down, name)
		}
	}
	sort.Strings(down)
	return down
}

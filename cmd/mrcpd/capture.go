package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"time"

	"github.com/mrcpd/mrcpd/mrcp/capture"
	"github.com/mrcpd/mrcpd/mrcp/records"
	"github.com/mrcpd/mrcpd/mrcp/server"
)

// waveformsPath is where the HTTP endpoint serves Save-Waveform captures.
const waveformsPath = "/waveforms/"

// pruneEvery is how often utterances past waveforms.max_age are deleted.
const pruneEvery = time.Minute

// openCapture opens the recorder's directory with its quota, the Save-Waveform store with its
// retention, and the detail records file, into scfg.
func (d *daemon) openCapture(scfg *server.Config) error {
	var err error
	rec := d.cfg.Recorder
	if scfg.Recordings, err = capture.Open(capture.Config{Dir: rec.Dir, MaxBytes: int64(rec.MaxBytes),
		Logger: d.log}); err != nil {
		return fmt.Errorf("recorder.dir: %w", err)
	}
	w := d.cfg.Waveforms
	if d.waveforms, err = capture.Open(capture.Config{Dir: w.Dir, MaxBytes: int64(w.MaxBytes), MaxAge: w.MaxAge.D(),
		Evict: true, Logger: d.log}); err != nil {
		return fmt.Errorf("waveforms.dir: %w", err)
	}
	scfg.Waveforms, scfg.WaveformURL = d.waveforms, waveformURL(d.cfg, d.httpLn.Addr())
	if r := d.cfg.Records; r.Path != "" {
		if d.records, err = records.Open(records.Config{Path: r.Path, MaxBytes: int64(r.MaxBytes), Keep: r.Keep},
			os.Stdout); err != nil {
			return fmt.Errorf("records.path: %w", err)
		}
		scfg.Records = d.records
	}
	return nil
}

// waveformURL is the base of Waveform-URIs: waveforms.url, else the HTTP endpoint's address
// (with rtp.ip, the address clients reach us at, when it listens on every address).
func waveformURL(cfg Config, bound net.Addr) string {
	if cfg.Waveforms.URL != "" {
		return cfg.Waveforms.URL
	}
	host, port, err := net.SplitHostPort(bound.String())
	if err != nil {
		return ""
	}
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = cfg.RTP.IP
	}
	return "http://" + net.JoinHostPort(host, port) + waveformsPath
}

// pruneWaveforms applies waveforms.max_age until ctx ends.
func (d *daemon) pruneWaveforms(ctx context.Context) {
	t := time.NewTicker(pruneEvery)
	defer t.Stop()
	for {
		d.waveforms.Prune()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// closeCapture closes the records file, and the HTTP listener of a daemon that never served.
func (d *daemon) closeCapture() {
	if d.records != nil {
		if err := d.records.Close(); err != nil {
			d.log.Warn("records close", "err", err)
		}
		d.records = nil
	}
	if d.httpLn != nil && d.http == nil { // newDaemon failed before serving
		d.httpLn.Close()
	}
}

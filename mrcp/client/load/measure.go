package load

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strconv"
	"time"
)

// Window is the server's cost measured from /proc while the load was steady: every session
// open, none yet ended. CPU is the process's user+system time over the window (its plugins and
// other children are not included), RSS its resident set at the end.
type Window struct {
	PID         int     `json:"pid"`
	Seconds     float64 `json:"seconds"`
	Sessions    int     `json:"open_sessions"`
	ServerCPU   float64 `json:"server_cpu_cores"`
	ServerRSSMB float64 `json:"server_rss_mb"`
	ClientCPU   float64 `json:"client_cpu_cores"` // this process, for judging whether the client kept up
	SentPerSec  float64 `json:"rtp_sent_per_second"`
	LoadAvg     string  `json:"loadavg"` // /proc/loadavg at the end: how busy the machine was
	Error       string  `json:"error,omitempty"`
}

// clockTick is USER_HZ, the unit of /proc/<pid>/stat's times: 100 on every Linux this runs on.
const clockTick = 10 * time.Millisecond

// measure waits until all sessions are open, then measures for MeasureWindow or until the
// first session ends, whichever comes first.
func (r *runner) measure(ctx context.Context) *Window {
	w := &Window{PID: r.cfg.MeasurePID}
	select {
	case <-ctx.Done():
		w.Error = "the sessions were never all open at once"
		return w
	case <-r.full:
	}
	span := r.cfg.MeasureWindow
	if span <= 0 {
		span = 20 * time.Second
	}
	start := time.Now()
	tx0, _ := r.eng.Stats()
	srv0, err := procCPU(w.PID)
	self0, err2 := procCPU(os.Getpid())
	if err != nil || err2 != nil {
		w.Error = fmt.Sprint(err, err2)
		return w
	}
	t := time.NewTimer(span)
	defer t.Stop()
	select {
	case <-t.C:
	case <-r.closing:
		w.Error = "a session ended before the window did: shorten it or hold longer"
	case <-ctx.Done():
		w.Error = "the run ended before the window did"
	}
	el := time.Since(start)
	w.Sessions = int(r.open.Load())
	srv1, err := procCPU(w.PID)
	self1, err2 := procCPU(os.Getpid())
	rss, err3 := procRSS(w.PID)
	tx1, _ := r.eng.Stats()
	if la, err := os.ReadFile("/proc/loadavg"); err == nil {
		w.LoadAvg = string(bytes.TrimSpace(la))
	}
	if err != nil || err2 != nil || err3 != nil {
		w.Error = fmt.Sprint(err, err2, err3)
		return w
	}
	w.Seconds = el.Seconds()
	w.ServerCPU = float64(srv1-srv0) / float64(el)
	w.ClientCPU = float64(self1-self0) / float64(el)
	w.ServerRSSMB = float64(rss) / (1 << 20)
	w.SentPerSec = float64(tx1.Packets-tx0.Packets) / el.Seconds()
	return w
}

// procCPU is a process's utime+stime (proc(5): fields 14 and 15 of /proc/<pid>/stat).
func procCPU(pid int) (time.Duration, error) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	i := bytes.LastIndexByte(raw, ')')
	f := bytes.Fields(raw[i+1:])
	if i < 0 || len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: unexpected layout", pid)
	}
	ut, err := strconv.ParseInt(string(f[11]), 10, 64)
	if err != nil {
		return 0, err
	}
	st, err := strconv.ParseInt(string(f[12]), 10, 64)
	if err != nil {
		return 0, err
	}
	return time.Duration(ut+st) * clockTick, nil
}

// procRSS is a process's VmRSS in bytes.
func procRSS(pid int) (int64, error) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for line := range bytes.Lines(raw) {
		if rest, ok := bytes.CutPrefix(line, []byte("VmRSS:")); ok {
			f := bytes.Fields(rest)
			if len(f) < 1 {
				break
			}
			kb, err := strconv.ParseInt(string(f[0]), 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("/proc/%d/status: no VmRSS", pid)
}

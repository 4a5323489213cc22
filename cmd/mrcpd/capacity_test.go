package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/mrcpd/mrcpd/asr/testkit"
	"github.com/mrcpd/mrcpd/mrcp/client/load"
)

// TestCapacity is issue 10's CI-sized capacity run through the real binaries: `mrcpclient load`
// opens 300 sessions at 100 a second and holds each for 10 s, repeating a 4-digit RFC 4733
// RECOGNIZE against a DTMF grammar over a continuous G.711 line. Every session and every
// recognition must succeed with the right digits, and mrcpd must drop no packet: its receive
// counters show none lost or duplicated, none late or shed but what the client sent
// late, and it received what the client sent, bar the packets still queued at each BYE. docs/performance.md has the full-size runs.
func TestCapacity(t *testing.T) {
	if testing.Short() {
		t.Skip("capacity run")
	}
	const n = 300
	rtp := freePort(t) &^ 1
	d := startMrcpd(t, "engines:\n  recognizer: noop\n", "--rtp-ports", fmt.Sprintf("%d-%d", rtp, min(rtp+4*n, 65534)))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, testkit.Binary(t, "mrcpclient"), "load", "--server", d.sip,
		"-n", strconv.Itoa(n), "--rate", "100", "--hold", "10s", "--grammar", "builtin:dtmf/digits?length=4",
		"--dtmf", "4071", "--json", "--progress", "2s", "--measure-pid", strconv.Itoa(d.cmd.Process.Pid), "--measure", "5s")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	idle := scrapeCounters(t, d, "go_goroutines")["go_goroutines"]
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	full, err := watchGoroutines(t, d, n, exited)
	var rep load.Report
	if jerr := json.Unmarshal(out.Bytes(), &rep); jerr != nil {
		t.Fatalf("mrcpclient load: %v, report: %v\n%s\n%s\n%s", err, jerr, out.String(), errb.String(), tail(d.log.String(), 3000))
	}
	t.Logf("%s", errb.String())
	if err != nil || rep.Sessions.Attempted != n || rep.Sessions.OK != n {
		t.Fatalf("mrcpclient load: %v\n%s\n%s", err, out.String(), tail(d.log.String(), 3000))
	}
	rc := rep.Recognitions
	if rc.Completed < n || rc.ByCause["000 success"] != rc.Completed || rep.Accuracy == nil ||
		rep.Accuracy.Checked != rc.Completed || rep.Accuracy.Right != rc.Completed {
		t.Errorf("recognitions %+v, accuracy %+v", rc, rep.Accuracy)
	}
	if m := rep.Measure; m != nil {
		t.Logf("mrcpd with %d sessions open, %.0f packets/s: CPU %.3f cores, RSS %.0f MB (client %.3f cores, loadavg %s) %s",
			m.Sessions, m.SentPerSec, m.ServerCPU, m.ServerRSSMB, m.ClientCPU, m.LoadAvg, m.Error)
	}
	// Media runs on mrcpd's workers and a SIP dialog on timers: what a session adds is its own
	// goroutine and its control connection's reader (and the writer while answers wait, a few
	// sessions at a time), whatever its RTP does.
	t.Logf("mrcpd goroutines: %v idle, at most %v with %d streams", idle, full, n)
	if full == 0 || full-idle > 2*n+n/5 {
		t.Errorf("mrcpd ran %v goroutines with %d sessions streaming, %v idle: more than 2.2 a session", full, n, idle)
	}
	rx := scrapeCounters(t, d, "mrcpd_rtp_packets_")
	for _, c := range []string{"lost", "duplicated"} {
		if v := rx["mrcpd_rtp_packets_"+c+"_total"]; v != 0 {
			t.Errorf("mrcpd counted %v packets %s (client: %+v)", v, c, rep.RTPSent)
		}
	}
	// Not a check: on a shared machine another test's server may send its RTCP reports to a port
	// its client had and mrcpd now holds, which counts them as malformed RTP.
	t.Logf("mrcpd counted %v packets malformed", rx["mrcpd_rtp_packets_malformed_total"])
	// A client starved by a busy machine sends late, in bursts: mrcpd may then rightly count
	// packets late or shed them to shrink its delay, never more than came late.
	if v := rx["mrcpd_rtp_packets_late_total"] + rx["mrcpd_rtp_packets_shed_total"]; v > float64(rep.RTPSent.Late) {
		t.Errorf("mrcpd counted %v packets late or shed, the client sent %d late (%+v)", v, rep.RTPSent.Late, rep.RTPSent)
	}
	// At each BYE the last few packets may still wait in the socket mrcpd closes.
	sent, got := float64(rep.RTPSent.Packets), rx["mrcpd_rtp_packets_received_total"]
	if got > sent || got < sent-3*n {
		t.Errorf("mrcpd received %v packets, the client sent %v", got, sent)
	}
}

// watchGoroutines polls mrcpd's go_goroutines until the load exits, and returns the most seen
// while n RTP streams were live, and the load's exit.
func watchGoroutines(t *testing.T, d *daemonProc, n int, exited <-chan error) (float64, error) {
	t.Helper()
	most := 0.0
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case err := <-exited:
			return most, err
		case <-tick.C:
		}
		m := scrapeCounters(t, d, "")
		if m["mrcpd_rtp_streams"] == float64(n) {
			most = max(most, m["go_goroutines"])
		}
	}
}

// scrapeCounters reads the samples of mrcpd's /metrics whose names start with prefix.
func scrapeCounters(t testing.TB, d *daemonProc, prefix string) map[string]float64 {
	t.Helper()
	return testkit.Metrics(t, d.http, prefix)
}

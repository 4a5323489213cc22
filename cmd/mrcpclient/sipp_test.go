package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/mrcpd/mrcpd/asr/testkit"
	"github.com/mrcpd/mrcpd/mrcp/sip/siptest"
)

// TestSippStreams runs issue 10's sipp load (examples/sipp/mod_unimrcp-stream.xml) against the
// real mrcpd for a few calls: mod_unimrcp's INVITE, then G.711 speech from sipp's rtp_stream
// for 3 s with the control channel never opened, then BYE. sipp must pass its checks, and
// mrcpd must have received the speech from the port each offer named, none of it lost,
// duplicated or refused, and ended every session on the BYE.
func TestSippStreams(t *testing.T) {
	bin, err := exec.LookPath("sipp")
	if err != nil {
		t.Skip("sipp not installed (Debian sip-tester; `make deps` installs it)")
	}
	const calls, seconds = 4, 3
	dir := sippDir(t)
	httpAddr := "127.0.0.1:" + strconv.Itoa(siptest.FreePort(t))
	cfg := filepath.Join(dir, "mrcpd.yaml")
	// sipp opens no control channel: keep its sessions past mrcp.connect_timeout.
	if err := os.WriteFile(cfg, []byte("mrcp:\n  connect_timeout: 60s\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	server := startMrcpd(t, "--config", cfg, "--http-addr", httpAddr)
	args := []string{server, "-sf", "mod_unimrcp-stream.xml", "-i", "127.0.0.1", "-mi", "127.0.0.1",
		"-p", strconv.Itoa(siptest.FreePort(t)), "-mp", strconv.Itoa(siptest.FreePort(t) &^ 1), "-t", "u1",
		"-m", strconv.Itoa(calls), "-l", strconv.Itoa(calls), "-r", "10", "-d", strconv.Itoa(seconds * 1000),
		"-nostdin", "-timeout", "30s", "-timeout_error", "-trace_err", "-error_file", filepath.Join(dir, "errors.log")}
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir // rtp_stream reads speech-8k.ul from here
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		errs, _ := os.ReadFile(filepath.Join(dir, "errors.log"))
		t.Fatalf("sipp %v: %v\n%s\n%s", args, err, errs, tailOf(out.String(), 2000))
	}
	m := testkit.Metrics(t, httpAddr, "mrcpd_")
	rx := func(c string) float64 { return m["mrcpd_rtp_packets_"+c+"_total"] }
	// sipp paces each call's stream on its own; allow for a packet time lost at each end.
	if want := float64(calls * (seconds*50 - 5)); rx("received") < want || rx("received") > calls*(seconds+1)*50 {
		t.Errorf("mrcpd received %v packets from %d calls of %d s", rx("received"), calls, seconds)
	}
	for _, c := range []string{"lost", "duplicated", "foreign", "malformed", "unauthenticated"} {
		if rx(c) != 0 {
			t.Errorf("mrcpd counted %v packets %s", rx(c), c)
		}
	}
	if ended := m[`mrcpd_sessions_ended_total{reason="bye"}`]; ended != calls {
		t.Errorf("%v sessions ended on a BYE, want %d (metrics %v)", ended, calls, m)
	}
	t.Logf("mrcpd received %v packets, shed %v, late %v", rx("received"), rx("shed"), rx("late"))
}

// sippDir copies examples/sipp to a temporary directory, where sipp may write its logs.
func sippDir(t *testing.T) string {
	t.Helper()
	root, err := testkit.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, f := range []string{"mod_unimrcp-stream.xml", "speech-8k.ul"} {
		b, err := os.ReadFile(filepath.Join(root, "examples", "sipp", f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func tailOf(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
